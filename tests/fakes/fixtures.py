"""Pytest fixtures for the fake OpenAI server.

Use from a conftest with ``pytest_plugins = ["tests.fakes.fixtures"]`` (or import the fixtures).
One server runs for the whole session; each test gets it reset: default scenario, constructor settings,
zeroed counters, no request records, and no stream left running from an earlier test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    """The session's one fake server (not reset between tests: prefer ``fake_openai``)."""
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The fake server, reset for this test. ``fake_openai.base_url`` is ``http://127.0.0.1:PORT/v1``."""
    fake_openai_server.reset()
    yield fake_openai_server
    fake_openai_server.reset()
