"""Fixtures shared by every test: a fresh PostgreSQL database per run, settings, an api client."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import psycopg
import pytest
from asgi_lifespan import LifespanManager
from psycopg import sql
from starlette.types import ASGIApp

from minichat.db import migrate
from minichat_api.main import create_app
from minichat_api.settings import ApiSettings

# Where the test servers are; override to point the suite at other instances.
POSTGRES_ADMIN_URL = os.environ.get(
    "MINICHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("MINICHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Nothing listens here: tests that need a model start an inference process of their own.
UNREACHABLE_INFERENCE_URL = "http://127.0.0.1:1"
TEST_JWT_SECRET = "test-secret-" + "x" * 60
# RabbitMQ without a vhost; each run adds a vhost of its own (rabbitmqctl) and deletes it.
RABBITMQ_URL = os.environ.get("MINICHAT_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672")
BROKER_VHOST = f"minichat-test-{uuid.uuid4().hex[:10]}"
BROKER_URL = f"{RABBITMQ_URL}/{BROKER_VHOST}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.integration)


def _database_url(admin_url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    user = info.get("user", "postgres")
    password = f":{info['password']}" if info.get("password") else ""
    host = info.get("host", "127.0.0.1")
    port = info.get("port", 5432)
    return f"postgresql+psycopg://{user}{password}@{host}:{port}/{name}"


class ScratchDatabases:
    """Creates and drops databases on the test server; every run gets names of its own."""

    def __init__(self, admin_url: str, prefix: str = "minichat_test") -> None:
        self.admin_url = admin_url
        self.prefix = prefix
        self.run_id = uuid.uuid4().hex[:10]
        self.created: list[str] = []

    def create(self, purpose: str, *, migrated: bool = True) -> str:
        name = f"{self.prefix}_{self.run_id}_{purpose}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        url = _database_url(self.admin_url, name)
        if migrated:
            migrate.upgrade(url, report=lambda _line: None)
        return url

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            for name in self.created:
                connection.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


@pytest.fixture(scope="session")
def test_databases() -> Iterator[ScratchDatabases]:
    try:
        psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL} ({exc}); start it, or set "
            "MINICHAT_TEST_POSTGRES_URL"
        )
    databases = ScratchDatabases(POSTGRES_ADMIN_URL)
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def database_url(test_databases: ScratchDatabases) -> str:
    """One migrated database for the run; tests isolate themselves with their own users."""
    return test_databases.create("main")


@pytest.fixture(scope="session")
def redis_prefix(test_databases: ScratchDatabases) -> Iterator[str]:
    """A key prefix of this run's own; its keys are deleted at the end."""
    import redis

    prefix = f"minichat-test-{test_databases.run_id}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}); start it, or set "
            "MINICHAT_TEST_REDIS_URL"
        )
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture(scope="session", autouse=True)
def _broker_environment() -> Iterator[None]:
    """Processes the tests start (an api, a worker) publish to this run's vhost, never a shared
    one; an api relay finding no vhost yet only retries."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BROKER_URL", BROKER_URL)
        yield


@pytest.fixture(scope="session")
def broker_url() -> Iterator[str]:
    """The run's own RabbitMQ vhost (guest may use it); deleted with everything in it at the end."""
    created = rabbitmqctl("add_vhost", BROKER_VHOST)
    if created.returncode != 0:
        pytest.fail(
            f"cannot create RabbitMQ vhost {BROKER_VHOST}: {created.stderr or created.stdout}"
        )
    rabbitmqctl("set_permissions", "-p", BROKER_VHOST, "guest", ".*", ".*", ".*")
    yield BROKER_URL
    rabbitmqctl("delete_vhost", BROKER_VHOST)


@pytest.fixture
def settings(database_url: str, redis_prefix: str, broker_url: str) -> ApiSettings:
    return ApiSettings(
        environment="test",
        database_url=database_url,
        redis_url=REDIS_URL,
        redis_key_prefix=redis_prefix,
        broker_url=broker_url,
        inference_url=UNREACHABLE_INFERENCE_URL,
        jwt_secret=TEST_JWT_SECRET,
        web_origin="http://localhost:3000",
        # Tests do in seconds what people do in hours; the limits' own tests set their own.
        limit_concurrent_answers=1000,
        limit_messages_per_minute=100_000,
        limit_logins_per_address_per_minute=100_000,
        limit_registrations_per_address_per_hour=100_000,
    )


@asynccontextmanager
async def in_process(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` run in this event loop, its lifespan started and stopped around it."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://testserver"
        ) as http,
    ):
        yield http


@pytest.fixture
async def client(settings: ApiSettings) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client of a real api app on the run's PostgreSQL database."""
    async with in_process(create_app(settings)) as http:
        yield http


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[psycopg.AsyncConnection]:
    """A direct autocommit connection to the run's database, to arrange or inspect rows."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        yield connection
