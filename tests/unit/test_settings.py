"""Settings: URL normalisation, required variables named in errors, secret strength."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from minichat.errors import ConfigError
from minichat.settings import DatabaseSettings, jwt_secret_problem
from minichat_api.settings import ApiSettings, RelaySettings
from minichat_inference.settings import InferenceSettings
from minichat_worker.settings import WorkerSettings


def test_libpq_urls_become_psycopg_urls() -> None:
    settings = DatabaseSettings(database_url="postgresql://u:p@db:5432/minichat")
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/minichat"


def test_unknown_database_driver_is_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match="postgresql\\+psycopg://"):
        DatabaseSettings(database_url="mysql://u@db/minichat")


@pytest.mark.parametrize(("secret", "problem"), [("changeme", "placeholder"), ("short", "32")])
def test_weak_jwt_secret_is_refused_in_production(secret: str, problem: str) -> None:
    assert problem in (jwt_secret_problem(SecretStr(secret), "production") or "")


def test_local_mode_accepts_any_jwt_secret() -> None:
    assert jwt_secret_problem(SecretStr("dev"), "local") is None


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERENCE_BACKEND", "scripted")
    monkeypatch.setenv("INFERENCE_SCRIPTED_TOKENS", "7")
    settings = InferenceSettings.load()
    assert (settings.inference_backend, settings.inference_scripted_tokens) == ("scripted", 7)


@pytest.mark.usefixtures("bare_environment")
def test_the_openai_backend_names_its_missing_url() -> None:
    with pytest.raises(ConfigError, match="INFERENCE_UPSTREAM_URL is not set"):
        InferenceSettings.load(inference_backend="openai")
    assert InferenceSettings.load().inference_backend == "embedded"


@pytest.mark.usefixtures("bare_environment")
def test_the_worker_names_both_urls_it_needs() -> None:
    with pytest.raises(ConfigError) as caught:
        WorkerSettings.load()
    assert "DATABASE_URL is not set" in caught.value.message
    assert "BROKER_URL is not set" in caught.value.message


_API_URLS = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "INFERENCE_URL", "JWT_SECRET")


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No MiniChat variable set, and no `.env` to read."""
    monkeypatch.chdir(tmp_path)
    for name in (*_API_URLS, "RELAY_IN_API", "ENVIRONMENT", "INFERENCE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.usefixtures("bare_environment")
def test_the_api_names_every_url_it_lacks() -> None:
    with pytest.raises(ConfigError) as caught:
        ApiSettings.load()
    for name in ("DATABASE_URL", "REDIS_URL", "INFERENCE_URL", "JWT_SECRET"):
        assert f"{name} is not set" in caught.value.message


def test_the_api_needs_a_broker_only_while_the_relay_runs_in_it(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    values = {
        "database_url": "postgresql://u@db/minichat",
        "redis_url": "redis://127.0.0.1:6379/0",
        "inference_url": "http://127.0.0.1:8001",
        "jwt_secret": "x" * 40,
    }
    with pytest.raises(ConfigError, match="BROKER_URL is not set"):
        ApiSettings.load(**values)
    bare_environment.setenv("RELAY_IN_API", "false")
    settings = ApiSettings.load(**values)
    assert settings.database_url == "postgresql+psycopg://u@db/minichat"
    assert settings.broker_url is None


@pytest.mark.usefixtures("bare_environment")
def test_the_api_refuses_a_weak_jwt_secret_outside_local_mode() -> None:
    values = {
        "database_url": "postgresql://u@db/minichat",
        "redis_url": "memory://",
        "broker_url": "memory://",
        "inference_url": "http://127.0.0.1:8001",
        "jwt_secret": "changeme",
    }
    with pytest.raises(ConfigError, match="JWT_SECRET is a placeholder"):
        ApiSettings.load(**values)
    assert ApiSettings.load(**values, environment="local").environment == "local"


def test_the_relay_names_its_urls_and_a_malformed_one(
    bare_environment: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ConfigError) as caught:
        RelaySettings.load()
    assert "DATABASE_URL is not set" in caught.value.message
    assert "BROKER_URL is not set" in caught.value.message
    bare_environment.setenv("DATABASE_URL", "mysql://db/x")
    with pytest.raises(ConfigError, match="DATABASE_URL: must start with postgresql"):
        RelaySettings.load()
