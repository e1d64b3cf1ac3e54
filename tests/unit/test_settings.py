"""Settings: URL normalisation, required variables named in errors, secret strength."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from minichat.errors import ConfigError
from minichat.settings import Settings
from minichat_api.settings import ApiSettings, RelaySettings


def test_libpq_urls_become_psycopg_urls() -> None:
    settings = Settings(database_url="postgresql://u:p@db:5432/minichat")
    assert settings.database_url == "postgresql+psycopg://u:p@db:5432/minichat"


def test_unknown_database_driver_is_refused_with_an_example() -> None:
    with pytest.raises(ValidationError, match="postgresql\\+psycopg://"):
        Settings(database_url="mysql://u@db/minichat")


def test_require_names_every_missing_variable() -> None:
    settings = Settings(database_url=None, jwt_secret=None)
    with pytest.raises(ConfigError) as caught:
        settings.require("database_url", "jwt_secret")
    assert "DATABASE_URL is not set" in caught.value.message
    assert "JWT_SECRET is not set" in caught.value.message


@pytest.mark.parametrize(("secret", "problem"), [("changeme", "placeholder"), ("short", "32")])
def test_weak_jwt_secret_is_refused_in_production(secret: str, problem: str) -> None:
    settings = Settings(environment="production", jwt_secret=secret)
    with pytest.raises(ConfigError, match=problem):
        settings.require("jwt_secret")


def test_local_mode_accepts_any_jwt_secret() -> None:
    Settings(environment="local", jwt_secret="dev").require("jwt_secret")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_ORIGIN", "https://chat.example")
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "120")
    settings = Settings()
    assert settings.web_origin == "https://chat.example"
    assert settings.access_token_ttl_seconds == 120


_API_URLS = ("DATABASE_URL", "REDIS_URL", "BROKER_URL", "INFERENCE_URL", "JWT_SECRET")


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No MiniChat variable set, and no `.env` to read."""
    monkeypatch.chdir(tmp_path)
    for name in (*_API_URLS, "RELAY_IN_API", "ENVIRONMENT"):
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
