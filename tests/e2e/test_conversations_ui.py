"""Conversations in Chromium: regenerate and edit-and-resend replace the last turn (no duplicates in the
database), conversations survive a reload, the sidebar creates/switches/renames/deletes them, and the
guide's plain-text fetch-reader client streams from the same server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import (
    ASSISTANT,
    MESSAGE,
    assistant,
    body,
    conversation_id,
    open_chat,
    rendered_text,
    send,
    skip_reason,
    stored_messages,
    wait_finished,
)
from tests.fakes.openai_server import FakeOpenAI, Scenario, expected_text

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)


def answer(*words: str) -> Scenario:
    """A reply made of these words (one delta each)."""
    return Scenario(tokens=len(words), token_text=[f"{w} " for w in words], rate=200)


def turn(page: Page, fake: FakeOpenAI, question: str, scenario: Scenario) -> str:
    fake.scenario = scenario
    send(page, question)
    wait_finished(assistant(page))
    text = rendered_text(assistant(page))
    assert text == expected_text(scenario).strip()
    return text


def shown(page: Page) -> list[tuple[str, str]]:
    """(role, rendered text) of every message on the page."""
    messages = page.locator(MESSAGE)
    return [
        (messages.nth(i).get_attribute("data-role") or "", (body(messages.nth(i)).text_content() or "").strip())
        for i in range(messages.count())
    ]


def stored(api: httpx.Client, page: Page) -> list[tuple[str, str, str]]:
    return [(m["role"], m["content"].strip(), m["status"]) for m in stored_messages(api, conversation_id(page))]


def test_regenerate_and_edit_replace_the_last_turn_without_duplicates(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    open_chat(page, app)
    turn(page, fake_openai, "First question", answer("first", "answer"))
    turn(page, fake_openai, "Second question", answer("second", "answer"))
    old_ids = set(page.locator(MESSAGE).evaluate_all("(els) => els.map((e) => e.dataset.messageId)"))

    # Regenerate: only the last reply has the button; the new reply replaces the old one.
    expect(page.get_by_test_id("regenerate")).to_have_count(1)
    fake_openai.scenario = answer("regenerated", "second", "answer")
    assistant(page).get_by_test_id("regenerate").click()
    # (No check of the brief "streaming" state: a three-token reply may be over before the first poll.)
    expect(body(assistant(page))).to_have_text("regenerated second answer")
    wait_finished(assistant(page))
    expected = [
        ("user", "First question"),
        ("assistant", "first answer"),
        ("user", "Second question"),
        ("assistant", "regenerated second answer"),
    ]
    assert shown(page) == expected
    assert stored(api, page) == [(role, text, "completed") for role, text in expected]

    # Edit and resend the last user message.
    expect(page.get_by_test_id("edit")).to_have_count(2)  # every stored user message can be edited
    page.locator(MESSAGE).nth(2).get_by_test_id("edit").click()
    editor = page.get_by_test_id("edit-input")
    expect(editor).to_be_focused()
    expect(editor).to_have_value("Second question")
    editor.fill("Second question, edited")
    fake_openai.scenario = answer("edited", "answer")
    page.get_by_test_id("edit-save").click()
    expect(body(assistant(page))).to_have_text("edited answer")
    wait_finished(assistant(page))
    expected[2:] = [("user", "Second question, edited"), ("assistant", "edited answer")]
    assert shown(page) == expected
    messages = stored_messages(api, conversation_id(page))
    assert [(m["role"], m["content"].strip(), m["status"]) for m in messages] == [
        (role, text, "completed") for role, text in expected
    ]
    assert len({m["id"] for m in messages}) == 4
    assert {m["id"] for m in messages[:2]} <= old_ids and not {m["id"] for m in messages[2:]} & old_ids

    # The page agrees with the database after a reload too.
    page.reload()
    expect(page.locator(MESSAGE)).to_have_count(4)
    assert shown(page) == expected
    assert fake_openai.stats.requests_total == 4


def conversation_items(page: Page) -> Any:
    return page.get_by_test_id("conversation-item")


def test_conversations_survive_a_reload_and_the_sidebar_switches_renames_and_deletes(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    open_chat(page, app)
    expect(page.locator(".conv-empty")).to_have_text("No conversations yet")
    turn(page, fake_openai, "How do rivers form?\nIn detail.", answer("rain", "and", "gravity"))
    turn(page, fake_openai, "And deltas?", answer("sediment", "settles"))
    first = conversation_id(page)
    before = shown(page)

    page.reload()
    expect(page.locator(MESSAGE)).to_have_count(4)
    assert shown(page) == before
    assert conversation_id(page) == first
    expect(conversation_items(page)).to_have_count(1)
    item = page.locator(f"[data-testid=conversation-item][data-id='{first}']")
    expect(item).to_have_text("How do rivers form?")  # the title comes from the first message's first line
    expect(item).to_have_attribute("aria-current", "page")
    expect(page).to_have_title("How do rivers form? · rillchat")

    # A new conversation: empty, then a second entry on top of the list.
    page.get_by_test_id("new-conversation").click()
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_count(0)
    turn(page, fake_openai, "Something else", answer("other"))
    second = conversation_id(page)
    assert second != first
    expect(conversation_items(page)).to_have_count(2)
    expect(conversation_items(page).first).to_have_attribute("data-id", second)
    expect(page).to_have_title("Something else · rillchat")

    # Switch back: the first conversation's messages.
    item.get_by_test_id("conversation-open").click()
    expect(page.locator(MESSAGE)).to_have_count(4)
    assert shown(page) == before
    assert conversation_id(page) == first

    # Rename inline.
    item.get_by_test_id("rename-conversation").click()
    rename = page.get_by_test_id("rename-input")
    expect(rename).to_be_focused()
    rename.fill("Rivers")
    rename.press("Enter")
    expect(item).to_have_text("Rivers")
    expect(page).to_have_title("Rivers · rillchat")
    assert api.get(f"/api/conversations/{first}").json()["title"] == "Rivers"

    # Delete the current conversation (with the confirm step): it goes, the page starts a new one.
    item.get_by_test_id("delete-conversation").click()
    expect(item.get_by_test_id("confirm-delete")).to_be_visible()
    item.get_by_test_id("confirm-delete").click()
    expect(item).to_have_count(0)
    expect(conversation_items(page)).to_have_count(1)
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    assert api.get(f"/api/conversations/{first}").status_code == 404
    listed = api.get("/api/conversations").json()["data"]
    assert [c["id"] for c in listed] == [second]
    assert fake_openai.stats.requests_total == 3

    # After a reload the list is the server's.
    page.reload()
    expect(conversation_items(page)).to_have_count(1)
    expect(conversation_items(page)).to_have_text("Something else")
    assert not page.locator(ASSISTANT).count()


def test_the_guide_page_streams_plain_text_with_a_fetch_reader(app: str, page: Page, fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=60, rate=60)
    final = expected_text(fake_openai.scenario)
    page.goto(f"{app}/guide.html")
    page.get_by_test_id("guide-input").fill("Hello, guide")
    page.get_by_test_id("guide-send").click()
    status = page.get_by_test_id("guide-status")
    expect(status).to_have_attribute("data-state", "streaming")

    samples: list[str] = []
    prev = ""
    while True:
        state = page.wait_for_function(
            """([prev]) => {
                const text = document.querySelector('[data-testid=guide-output]').textContent;
                const streaming = document.querySelector('[data-testid=guide-status]').dataset.state === 'streaming';
                return (!streaming || (text && text !== prev)) ? { text, streaming } : false;
            }""",
            arg=[prev],
        ).json_value()
        if not state["streaming"]:
            break
        samples.append(state["text"])
        prev = state["text"]

    expect(status).to_have_attribute("data-state", "done")
    assert page.get_by_test_id("guide-output").text_content() == final  # exactly, whitespace included
    intermediate = [s for s in samples if s != final]
    assert len(intermediate) >= 3, samples
    for earlier, later in zip(intermediate, [*intermediate[1:], final], strict=True):
        assert later.startswith(earlier) and len(later) > len(earlier)
    expect(page.get_by_test_id("guide-message")).to_have_count(2)
    assert page.evaluate("window.__guide.messages") == [
        {"role": "user", "content": "Hello, guide"},
        {"role": "assistant", "content": final},
    ]
    assert fake_openai.stats.requests_total == 1
