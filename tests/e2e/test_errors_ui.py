"""Errors in Chromium say what to do: plain words instead of field names, Retry only where retrying can
help, one message per error, invalid input refused where it is typed, and a notice for a link to a
conversation that does not exist."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.ui import (
    assistant,
    open_chat,
    screenshot,
    send,
    skip_reason,
    wait_finished,
)
from tests.fakes.openai_server import FakeOpenAI, Scenario

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture
def small_app(server_with_fake: Callable[..., str]) -> str:
    """A server that takes messages of at most 200 characters."""
    return server_with_fake(default_model="fake-responses", max_text_chars=200)


def error_boxes(page: Page) -> Any:
    return assistant(page).locator(".msg-error")


def test_a_too_long_message_is_refused_as_it_is_typed_and_in_plain_words_if_the_server_refuses_it(
    small_app: str, page: Page, fake_openai: FakeOpenAI
) -> None:
    open_chat(page, small_app)
    composer = page.get_by_test_id("composer")
    composer.fill("x" * 250)
    error = page.get_by_test_id("composer-error")
    expect(error).to_have_text(
        "Your message is too long: at most 200 characters (now 250). Shorten it or split it into parts."
    )
    expect(composer).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("send")).to_be_disabled()
    screenshot(page, "error-message-too-long")
    composer.press("Enter")
    expect(page.locator("[data-testid=message]")).to_have_count(0)
    composer.fill("x" * 200)
    expect(error).to_be_hidden()
    expect(page.get_by_test_id("send")).to_be_enabled()
    assert fake_openai.stats.requests_total == 0

    # A server whose limit the page does not know (here: the page is told a larger one) refuses it: the
    # answer is in plain words, once, with no Retry (the same message would be refused again) but Edit.
    def larger_limits(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["limits"]["maxTextChars"] = 1000
        route.fulfill(response=response, body=json.dumps(body))

    page.route("**/api/models", larger_limits)
    page.reload()
    expect(page.get_by_test_id("model-select")).to_have_value("fake-responses")
    send(page, "y" * 250)
    wait_finished(assistant(page), "failed")
    expect(error_boxes(page)).to_have_count(1)
    expect(error_boxes(page)).to_have_text(
        "Your message is too long: at most 200 characters. Shorten it or split it into parts."
    )
    expect(assistant(page).get_by_test_id("message-status")).to_be_hidden()
    expect(page.get_by_test_id("retry")).to_have_count(0)
    expect(page.get_by_test_id("edit")).to_be_visible()
    assert fake_openai.stats.requests_total == 0


def test_an_error_retrying_cannot_fix_has_no_retry_and_one_message(
    app: str, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(status_before_stream=401)
    open_chat(page, app)
    send(page, "Hello?")
    reply = assistant(page)
    wait_finished(reply, "failed")
    expect(reply.locator(".msg-error")).to_have_count(1)
    expect(reply.locator(".msg-error")).to_contain_text("The server's administrator has to fix its API key")
    expect(reply.locator(".msg-error")).not_to_contain_text("upstream")
    expect(reply.get_by_test_id("message-status")).to_be_hidden()
    expect(reply.get_by_test_id("retry")).to_have_count(0)
    screenshot(page, "error-no-retry")

    # A passing failure (the provider answered 503) offers Retry, once, and Retry works.
    fake_openai.scenario = Scenario(status_before_stream=503)
    send(page, "Again?")
    reply = assistant(page)
    wait_finished(reply, "failed")
    expect(reply.locator(".msg-error")).to_contain_text("Retry in a moment")
    expect(reply.get_by_test_id("retry")).to_have_count(1)
    fake_openai.scenario = Scenario(tokens=3)
    reply.get_by_test_id("retry").click()
    wait_finished(assistant(page))


def test_invalid_settings_are_refused_where_they_are_typed(app: str, page: Page, fake_openai: FakeOpenAI) -> None:
    open_chat(page, app)
    page.get_by_test_id("settings-toggle").click()
    temperature = page.get_by_test_id("temperature")
    temperature.fill("0.5")
    temperature.fill("3")
    expect(page.get_by_test_id("temperature-error")).to_have_text(
        "Temperature must be a number from 0 to 2. Not saved: the previous value is used."
    )
    expect(temperature).to_have_attribute("aria-invalid", "true")

    max_tokens = page.get_by_test_id("max-tokens")
    expect(page.locator("#max-tokens-help")).to_contain_text("8,192 tokens")
    for bad in ("0", "2.5", "9000", "-3"):
        max_tokens.fill(bad)
        expect(page.get_by_test_id("max-tokens-error")).to_have_text(
            "Max tokens must be a whole number from 1 to 8,192. Not saved: the previous value is used."
        )
        expect(max_tokens).to_have_attribute("aria-invalid", "true")
    screenshot(page, "settings-invalid")
    max_tokens.fill("2000")
    expect(page.get_by_test_id("max-tokens-error")).to_be_hidden()
    expect(max_tokens).to_have_attribute("aria-invalid", "false")
    settings = page.evaluate("window.__rillchat.state.settings")
    assert settings["temperature"] == 0.5 and settings["maxOutputTokens"] == 2000

    # What is sent is the last valid value of each.
    fake_openai.scenario = Scenario(tokens=3)
    send(page, "Settings check")
    wait_finished(assistant(page))
    sent = fake_openai.requests[-1].json
    assert sent["temperature"] == 0.5
    assert sent["max_output_tokens"] == 2000

    # Remembered across a reload, the invalid value is not.
    page.reload()
    page.get_by_test_id("settings-toggle").click()
    expect(page.get_by_test_id("temperature")).to_have_value("0.5")
    expect(page.get_by_test_id("max-tokens")).to_have_value("2000")


def test_a_link_to_a_conversation_that_does_not_exist_says_so(app: str, api: httpx.Client, page: Page) -> None:
    page.goto(f"{app}/#c=conv_this_one_does_not_exist")
    notice = page.locator("#notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("The linked conversation does not exist")
    expect(page.get_by_test_id("conversation-title")).to_have_text("New chat")
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    assert "#c=" not in page.url
    screenshot(page, "notice-missing-conversation")
    # Dismissed, it goes; sending a message clears it too.
    notice.get_by_role("button", name="Dismiss").click()
    expect(notice).to_be_hidden()
    assert api.get("/api/conversations").json()["data"] == []
