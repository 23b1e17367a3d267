"""Shared fixtures: rillchat served for real on loopback, one temporary database per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from rillchat.api.app import create_app
from rillchat.config import Settings, UpstreamConfig
from tests.fakes.openai_server import FakeOpenAI
from tests.servers import serve_in_thread

pytest_plugins = ["tests.fakes.fixtures"]

POSTGRES_URL = os.environ.get("RILLCHAT_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("RILLCHAT_TEST_REDIS_URL")


async def _create_database(server_url: str, name: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(server_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: SQLite always; PostgreSQL when RILLCHAT_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'rillchat.db'}"
    return _fresh_postgres_database()


@pytest.fixture
def postgres_url() -> str:
    """A fresh PostgreSQL database (skips without RILLCHAT_TEST_POSTGRES_URL)."""
    return _fresh_postgres_database()


def _fresh_postgres_database() -> str:
    if not POSTGRES_URL:
        pytest.skip("set RILLCHAT_TEST_POSTGRES_URL to run the PostgreSQL variant")
    import asyncio
    import secrets

    name = f"rillchat_test_{secrets.token_hex(6)}"
    asyncio.run(_create_database(POSTGRES_URL, name))
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'rillchat.db'}",
            "stream_grace_seconds": 30.0,
            "local_model_preload": False,
            "keepalive_seconds": 15.0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def start_server() -> Iterator[Callable[[Settings], str]]:
    """Start rillchat with the given settings; every server started is stopped after the test."""
    with ExitStack() as stack:

        def start(settings: Settings) -> str:
            limits = {
                "max_header_bytes": settings.max_header_bytes,
                "header_timeout_seconds": settings.header_timeout_seconds,
                "body_timeout_seconds": settings.body_timeout_seconds,
            }
            return stack.enter_context(serve_in_thread(create_app(settings), **limits))

        yield start


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as c:
        yield c


def fake_upstreams(fake: FakeOpenAI) -> list[UpstreamConfig]:
    """The fake as both kinds of upstream: ``fake-responses`` and ``fake-chat``."""
    common: dict[str, Any] = {"base_url": fake.base_url, "api_key": "sk-test", "max_retries": 0}
    return [
        UpstreamConfig(name="fake", kind="openai-responses", models=["fake-responses"], **common),
        UpstreamConfig(name="fakechat", kind="openai-chat", models=["fake-chat"], **common),
    ]


@pytest.fixture
def server_with_fake(fake_openai, make_settings, start_server) -> Callable[..., str]:
    """Start rillchat wired to the fake upstream (plus the embedded model); returns its base URL."""

    def start(**overrides: Any) -> str:
        return start_server(make_settings(upstreams=fake_upstreams(fake_openai), **overrides))

    return start
