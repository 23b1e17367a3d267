"""The chat page in Chromium while a reply streams: it is seen growing, it stops (button and Esc), it
survives a reload and a dropped connection without losing or doubling text, and a failed reply retries.
Real rillchat on loopback, the fake upstream's counters and the stored conversation as proof."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.ui import (
    HAS_CURSOR_JS,
    RECORDER_JS,
    assistant,
    conversation_id,
    open_chat,
    rendered_text,
    screenshot,
    send,
    skip_reason,
    stored_messages,
    wait_finished,
    wait_text_contains,
)
from tests.fakes.openai_server import FakeOpenAI, Scenario, expected_text
from tests.netproxy import BreakingProxy

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)

# One poll per animation frame until the reply's rendered text differs from `prev` (or the reply ended).
NEXT_STATE_JS = (
    """([prev]) => {
    const m = document.querySelector('[data-testid=message][data-role=assistant]');
    if (!m) return false;
    const text = m.querySelector('[data-testid=message-body]').textContent.trim();
    const streaming = m.dataset.status === 'streaming';
    if (streaming && text === prev) return false;
    const shown = (id) => {
        const el = document.querySelector(`[data-testid=${id}]`);
        return Boolean(el && !el.hidden && el.getClientRects().length);
    };
    return { text, streaming, status: m.dataset.status, cursor: ("""
    + HAS_CURSOR_JS
    + """)(m), stop: shown('stop'), send: shown('send') };
}"""
)


def test_the_reply_is_seen_growing_with_a_cursor_and_progress_before_the_first_token(
    app: str, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(tokens=60, rate=40, first_token_delay=1.0)
    final = expected_text(fake_openai.scenario).strip()
    open_chat(page, app)
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    screenshot(page, "empty-state")
    page.evaluate(RECORDER_JS)

    send(page, "Count for me")
    progress = assistant(page).get_by_test_id("progress")
    expect(progress).to_be_visible()
    expect(page.get_by_test_id("empty-state")).to_be_hidden()

    samples: list[dict[str, Any]] = []
    prev = ""
    while True:
        state = page.wait_for_function(NEXT_STATE_JS, arg=[prev]).json_value()
        if not state["streaming"]:
            break
        samples.append(state)
        prev = state["text"]
        if len(samples) == 8:
            screenshot(page, "streaming-mid-reply")

    # Progress showed within 100 ms of the click, and before the first token (1 s later).
    rec = page.evaluate("window.__rec")
    assert rec["clickAt"] is not None and rec["progressAt"] is not None and rec["firstTextAt"] is not None
    assert rec["progressAt"] - rec["clickAt"] < 100, rec
    assert rec["progressAt"] < rec["firstTextAt"], rec
    assert rec["firstTextAt"] - rec["clickAt"] > 800, "the first token came after first_token_delay"
    assert rec["phases"][0] in ("sending", "connecting", "waiting") and "streaming" in rec["phases"], rec

    # At least three distinct intermediate states, each a prefix of the next, before the final text.
    texts = [s["text"] for s in samples]
    intermediate = [t for t in texts if t and t != final]
    assert len(intermediate) >= 3, f"saw only {texts}"
    for earlier, later in zip(intermediate, [*intermediate[1:], final], strict=True):
        assert later.startswith(earlier) and len(later) > len(earlier), (earlier, later)
    # While streaming: the pulsing cursor is drawn and Send has turned into Stop.
    assert all(s["cursor"] for s in samples if s["text"]), "the cursor is missing while streaming"
    assert all(s["stop"] and not s["send"] for s in samples), "Send should be Stop while streaming"

    reply = assistant(page)
    wait_finished(reply)
    assert rendered_text(reply) == final
    assert not reply.evaluate(HAS_CURSOR_JS), "the cursor must be gone after the reply"
    expect(reply.get_by_test_id("progress")).to_have_count(0)
    expect(page.get_by_test_id("send")).to_be_visible()
    expect(page.get_by_test_id("stop")).to_be_hidden()
    assert fake_openai.stats.requests_total == 1


@pytest.mark.parametrize("how", ["button", "escape"])
def test_stop_ends_the_reply_cancels_the_upstream_and_stores_what_the_page_shows(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI, how: str
) -> None:
    fake_openai.scenario = Scenario(tokens=5_000, rate=60)
    open_chat(page, app)
    send(page, "Tell me a very long story")
    wait_text_contains(page, "tok6 ")
    if how == "button":
        page.get_by_test_id("stop").click()
    else:
        page.keyboard.press("Escape")

    reply = assistant(page)
    wait_finished(reply, "stopped")
    expect(reply.get_by_test_id("message-status")).to_have_text("Stopped")
    expect(page.get_by_test_id("send")).to_be_visible()
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1)
    if how == "button":
        screenshot(page, "stopped-message")

    shown = rendered_text(reply)
    assert shown.startswith("tok0 tok1 tok2") and len(shown) < len(expected_text(fake_openai.scenario)) // 4
    messages = stored_messages(api, conversation_id(page))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[-1]["status"] == "stopped"
    assert messages[-1]["content"].strip() == shown
    assert fake_openai.stats.requests_total == 1


def test_a_reload_mid_reply_resumes_the_same_message_with_nothing_lost_or_doubled(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    # 4 s of reply, reloaded after 0.2 s: it is still running when the page comes back, even on a slow machine.
    fake_openai.scenario = Scenario(tokens=200, rate=50)
    final = expected_text(fake_openai.scenario)
    open_chat(page, app)
    send(page, "A long answer, please")
    wait_text_contains(page, "tok8 ")
    message_id = assistant(page).get_attribute("data-message-id")
    assert message_id
    before = rendered_text(assistant(page))

    page.reload()
    reply = page.locator(f"[data-testid=message][data-message-id='{message_id}']")
    # Still streaming after the reload: the page re-attached to the running reply...
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(reply.get_by_test_id("progress")).to_be_visible()
    # ...and it ends with exactly the whole reply.
    wait_finished(reply)
    assert rendered_text(reply) == final.strip()
    assert rendered_text(reply).startswith(before)
    expect(page.locator("[data-testid=message][data-role=assistant]")).to_have_count(1)

    messages = stored_messages(api, conversation_id(page))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[-1]["id"] == message_id
    assert messages[-1]["status"] == "completed" and messages[-1]["content"] == final
    assert fake_openai.stats.requests_total == 1


def _resume_requests(page: Page) -> list[dict[str, str | None]]:
    seen: list[dict[str, str | None]] = []
    page.on(
        "request",
        lambda r: (
            seen.append({"url": r.url, "last_event_id": r.headers.get("last-event-id")})
            if "/api/streams/" in r.url and r.method == "GET"
            else None
        ),
    )
    return seen


@pytest.mark.parametrize("how", ["offline", "route"])
def test_a_dropped_connection_mid_reply_reattaches_with_last_event_id(
    app: str, api: httpx.Client, context: Any, page: Page, fake_openai: FakeOpenAI, how: str
) -> None:
    """The network blinks mid-reply: the page re-attaches with Last-Event-ID, the text is exact, and the
    upstream saw one generation. ``offline``: the connection is cut and the browser is offline until the
    page says so. ``route``: the connection is cut and the first re-attach is aborted by ``page.route``."""
    fake_openai.scenario = Scenario(tokens=150, rate=50)
    final = expected_text(fake_openai.scenario)
    resumes = _resume_requests(page)
    aborted: list[str] = []

    def abort_first_resume(route: Route) -> None:
        if not aborted:
            aborted.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    with BreakingProxy(app) as proxy:
        open_chat(page, proxy.url)
        page.evaluate(RECORDER_JS)
        send(page, "Stream through a bad network")
        wait_text_contains(page, "tok10 ")
        progress = assistant(page).get_by_test_id("progress")
        if how == "offline":
            context.set_offline(True)
            assert proxy.drop() >= 1
            expect(progress).to_have_attribute("data-phase", "offline")
            expect(progress).to_contain_text("Offline")
            screenshot(page, "network-drop-offline")
            context.set_offline(False)
        else:
            page.route("**/api/streams/**", abort_first_resume)
            assert proxy.drop() >= 1
            page.wait_for_function("() => window.__rec.phases.includes('reconnecting')")
        reply = assistant(page)
        wait_finished(reply)

    assert rendered_text(reply) == final.strip()
    rec = page.evaluate("window.__rec")
    assert ("offline" if how == "offline" else "reconnecting") in rec["phases"], rec
    assert rec["phases"][-1] == "streaming", rec
    # It re-attached to the same reply, from where it was: GET /api/streams/{id} with Last-Event-ID.
    assert resumes, "the page never re-attached"
    assert all(r["last_event_id"] and int(r["last_event_id"]) > 10 for r in resumes), resumes
    if how == "route":
        assert len(aborted) == 1 and len(resumes) >= 2, resumes
    assert fake_openai.stats.requests_total == 1, "re-attaching must never start a second generation"
    messages = stored_messages(api, conversation_id(page))
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[-1]["status"] == "completed" and messages[-1]["content"] == final


def test_a_failed_reply_shows_the_error_and_retry_replaces_it(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(tokens=30, rate=100, fail_after=6)
    open_chat(page, app)
    send(page, "This one fails half-way")
    reply = assistant(page)
    wait_finished(reply, "failed")
    assert rendered_text(reply) == expected_text(fake_openai.scenario).strip()  # the partial text stays
    retry = reply.get_by_test_id("retry")
    expect(retry).to_be_visible()
    expect(retry).to_be_enabled()
    expect(reply.locator(".msg-error")).to_contain_text("Failed")
    screenshot(page, "error-with-retry")
    failed_id = reply.get_attribute("data-message-id")

    fake_openai.scenario = Scenario(tokens=12, rate=100)
    retry.click()
    reply = assistant(page)
    wait_finished(reply)
    assert rendered_text(reply) == expected_text(fake_openai.scenario).strip()
    expect(page.locator("[data-testid=message]")).to_have_count(2)
    expect(reply.get_by_test_id("retry")).to_have_count(0)

    messages = stored_messages(api, conversation_id(page))
    assert [(m["role"], m["status"]) for m in messages] == [("user", "completed"), ("assistant", "completed")]
    assert messages[-1]["id"] != failed_id
    assert messages[-1]["content"] == expected_text(fake_openai.scenario)
    assert fake_openai.stats.requests_total == 2
