"""Settings: URL normalisation, required variables named in errors, secret strength."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from minichat.errors import ConfigError
from minichat.settings import Settings


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
