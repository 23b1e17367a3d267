"""Browser fixtures: Debian's Chromium driven by Playwright (sync API) against a real rillchat on loopback.

One browser for the package, a fresh context (storage, viewport, colour scheme) per test. The server is
the usual ``server_with_fake`` with ``default_model="fake-responses"``: the UI's default model is the fake
upstream, so every reply is known in advance (``expected_text``). Every wait is on a DOM condition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.ui import CHROMIUM, CHROMIUM_ARGS, skip_reason

# Generous for a loaded CI machine: a wait on a DOM condition returns as soon as it holds.
TIMEOUT_MS = 15_000


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for every test in tests/e2e. Package scope, not session: while Playwright's sync API is
    started its event loop counts as running on this thread (greenlets share it), so every asyncio test
    collected after tests/e2e would fail with "Cannot run the event loop while another loop is running"."""
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(browser: Any) -> Iterator[Callable[..., Any]]:
    """Makes browser contexts (``browser.new_context`` options); all are closed after the test."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1100, "height": 800})
        options.setdefault("color_scheme", "light")
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def context(new_context: Callable[..., Any]) -> Any:
    return new_context()


@pytest.fixture
def page_errors() -> list[str]:
    return []


@pytest.fixture
def page(context: Any, page_errors: list[str]) -> Iterator[Any]:
    page = context.new_page()
    page.on("pageerror", lambda exc: page_errors.append(str(exc)))
    # The UI runs under a strict Content-Security-Policy (issue 11): a violation is an error like any other.
    page.on(
        "console",
        lambda message: page_errors.append(message.text) if "Content Security Policy" in message.text else None,
    )
    yield page
    assert not page_errors, f"uncaught errors in the page: {page_errors}"


@pytest.fixture
def app(server_with_fake: Callable[..., str]) -> str:
    """Base URL of a real rillchat wired to the fake upstream, with fake-responses as the default model."""
    return server_with_fake(default_model="fake-responses")


@pytest.fixture
def api(app: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app, timeout=30) as client:
        yield client
