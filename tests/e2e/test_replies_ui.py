"""Replies that survive, in Chromium: a reply runs on while another conversation is open (the sidebar
marks it running, then unseen) and is live or complete on coming back, with the text on screen never
shrinking; Continue carries a cut-off reply on in the same message; regenerate and edit keep versions
with a "< 2/3 >" switcher; after ``kill -9`` and a restart the checkpointed text is shown with the reason,
and Continue finishes it; a 2,000-token answer is possible."""

from __future__ import annotations

import json
import signal
from pathlib import Path

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
    screenshot,
    send,
    skip_reason,
    stored_messages,
    wait_finished,
    wait_text_contains,
)
from tests.fakes.openai_server import FakeOpenAI, Scenario, expected_text
from tests.helpers import wait_until
from tests.processes import rillchat_process

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)

# Installed before the page's scripts: the longest text each assistant message (by id) ever showed, and
# whether any of them ever showed less than before.
SHRINK_RECORDER_JS = """
window.__shrunk = [];
window.__longest = {};
new MutationObserver(() => {
    for (const m of document.querySelectorAll('[data-testid=message][data-role=assistant][data-message-id]')) {
        const id = m.dataset.messageId;
        const n = m.querySelector('[data-testid=message-body]').textContent.trim().length;
        if (n < (window.__longest[id] ?? 0)) window.__shrunk.push([id, window.__longest[id], n]);
        window.__longest[id] = Math.max(n, window.__longest[id] ?? 0);
    }
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


def item(page: Page, conversation: str):  # type: ignore[no-untyped-def]
    return page.locator(f"[data-testid=conversation-item][data-id='{conversation}']")


def test_a_reply_runs_on_in_another_conversation_and_is_live_then_complete_on_coming_back(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(tokens=250, rate=50)  # 5 s
    final = expected_text(fake_openai.scenario)
    page.add_init_script(SHRINK_RECORDER_JS)
    open_chat(page, app)
    send(page, "A long answer, please")
    wait_text_contains(page, "tok10 ")
    first = conversation_id(page)

    # Elsewhere: the first conversation is marked as generating.
    page.get_by_test_id("new-conversation").click()
    expect(page.locator(MESSAGE)).to_have_count(0)
    expect(item(page, first)).to_have_attribute("data-badge", "running")
    expect(item(page, first).get_by_test_id("conversation-badge")).to_have_attribute("aria-label", "Generating a reply")
    screenshot(page, "sidebar-running")

    # Back while it runs: the reply is live (it went on meanwhile), from where it is, to the end.
    item(page, first).get_by_test_id("conversation-open").click()
    reply = assistant(page)
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(reply.get_by_test_id("progress")).to_be_visible()
    wait_finished(reply)
    assert rendered_text(reply) == final.strip()
    assert page.evaluate("window.__shrunk") == []

    # Away again with a second long reply; it finishes while we are elsewhere: marked unseen, then complete.
    fake_openai.scenario = Scenario(tokens=60, rate=40)
    second_final = expected_text(fake_openai.scenario)
    send(page, "And another one")
    wait_text_contains(page, "tok3 ")
    page.get_by_test_id("new-conversation").click()
    expect(item(page, first)).to_have_attribute("data-badge", "unseen")
    expect(item(page, first).get_by_test_id("conversation-badge")).to_have_attribute(
        "aria-label", "New reply, not seen yet"
    )
    assert stored_messages(api, first)[-1]["status"] == "completed"  # it ran on with nobody watching
    item(page, first).get_by_test_id("conversation-open").click()
    expect(page.locator(ASSISTANT)).to_have_count(2)
    assert rendered_text(assistant(page)) == second_final.strip()
    expect(item(page, first)).not_to_have_attribute("data-badge", "unseen")
    assert fake_openai.stats.requests_total == 2
    assert page.evaluate("window.__shrunk") == []


def test_continue_carries_a_cut_off_reply_on_in_the_same_message(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(tokens=40, rate=200, fail_after=8, failure="incomplete")
    first_part = expected_text(fake_openai.scenario)
    open_chat(page, app)
    send(page, "Write a long list")
    reply = assistant(page)
    wait_finished(reply, "incomplete")
    message_id = reply.get_attribute("data-message-id")
    expect(reply.get_by_test_id("continue")).to_be_visible()
    screenshot(page, "continue-incomplete")

    fake_openai.scenario = Scenario(tokens=5, token_text=["more "], rate=100)
    reply.get_by_test_id("continue").click()
    wait_finished(reply)
    expect(page.locator(ASSISTANT)).to_have_count(1)
    assert reply.get_attribute("data-message-id") == message_id
    assert rendered_text(reply) == (first_part + "more " * 5).strip()
    # The model got the partial reply to carry on from.
    assert fake_openai.requests[-1].json["input"][-1] == {"role": "assistant", "content": first_part}
    stored = stored_messages(api, conversation_id(page))
    assert [(m["id"], m["status"]) for m in stored[1:]] == [(message_id, "completed")]
    assert stored[-1]["content"] == first_part + "more " * 5
    expect(reply.get_by_test_id("continue")).to_have_count(0)


def answer(*words: str) -> Scenario:
    return Scenario(tokens=len(words), token_text=[f"{w} " for w in words], rate=200)


def test_regenerate_and_edit_keep_versions_with_a_switcher(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    open_chat(page, app)
    for question, scenario in [("First question", answer("first", "answer")), ("Second", answer("second"))]:
        fake_openai.scenario = scenario
        send(page, question)
        wait_finished(assistant(page))

    # Regenerate the last reply: a second version, "2/2", and the first is one click away.
    fake_openai.scenario = answer("second", "again")
    assistant(page).get_by_test_id("regenerate").click()
    expect(body(assistant(page))).to_have_text("second again")
    wait_finished(assistant(page))
    versions = assistant(page).get_by_test_id("versions")
    expect(versions.get_by_test_id("version-count")).to_have_text("2/2")
    screenshot(page, "versions-switcher")
    versions.get_by_test_id("version-prev").click()
    expect(body(assistant(page))).to_have_text("second")
    expect(assistant(page).get_by_test_id("version-count")).to_have_text("1/2")
    expect(page.locator(MESSAGE)).to_have_count(4)

    # Edit the FIRST question (not the last message): a new branch from there.
    first_user = page.locator(f"{MESSAGE}[data-role=user]").first
    first_user.get_by_test_id("edit").click()
    page.get_by_test_id("edit-input").fill("First question, edited")
    fake_openai.scenario = answer("edited", "answer")
    page.get_by_test_id("edit-save").click()
    expect(page.locator(MESSAGE)).to_have_count(2)
    expect(body(assistant(page))).to_have_text("edited answer")
    wait_finished(assistant(page))
    user_versions = page.locator(f"{MESSAGE}[data-role=user]").first.get_by_test_id("version-count")
    expect(user_versions).to_have_text("2/2")

    # Back to the first version of the question: its whole branch comes back, as the server stores it
    # (below the chosen message, the newest version of each: "second again").
    page.locator(f"{MESSAGE}[data-role=user]").first.get_by_test_id("version-prev").click()
    expect(page.locator(MESSAGE)).to_have_count(4)
    expect(body(page.locator(MESSAGE).nth(0))).to_have_text("First question")
    expect(page.locator(MESSAGE).nth(0).get_by_test_id("version-count")).to_have_text("1/2")
    expect(body(page.locator(MESSAGE).nth(3))).to_have_text("second again")
    stored = stored_messages(api, conversation_id(page))
    assert [m["content"].strip() for m in stored] == ["First question", "first answer", "Second", "second again"]
    page.reload()
    expect(page.locator(MESSAGE)).to_have_count(4)
    expect(page.locator(MESSAGE).nth(3).get_by_test_id("version-count")).to_have_text("2/2")
    assert fake_openai.stats.requests_total == 4


def test_a_2000_token_answer_is_possible_from_the_ui(
    app: str, api: httpx.Client, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(tokens=2000, rate=0)
    open_chat(page, app)
    send(page, "Write at length")
    reply = assistant(page)
    wait_finished(reply, timeout=60_000)
    assert page.evaluate("window.__rillchat.state.messages.at(-1).content") == expected_text(fake_openai.scenario)
    expect(reply.get_by_test_id("message-meta")).to_contain_text("2000 tokens")
    assert "max_output_tokens" not in fake_openai.requests[-1].json  # no cap sent by default
    assert stored_messages(api, conversation_id(page))[-1]["usage"]["outputTokens"] == 2000


@pytest.mark.timeout(300)  # two server processes start (imports, migrations) on a possibly loaded machine
def test_after_kill_9_the_page_shows_the_checkpointed_text_the_reason_and_continue_finishes_it(
    page: Page, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    upstreams = [
        {
            "name": "fake",
            "kind": "openai-responses",
            "base_url": fake_openai.base_url,
            "api_key": "x",
            "models": ["fake-responses"],
        }
    ]
    env = {
        "RILLCHAT_UPSTREAMS": json.dumps(upstreams),
        "RILLCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}",
        "RILLCHAT_DEFAULT_MODEL": "fake-responses",
    }
    fake_openai.scenario = Scenario(tokens=10_000, rate=50)
    page.add_init_script(SHRINK_RECORDER_JS)
    with rillchat_process(env) as (base, process):
        open_chat(page, base)
        send(page, "A very long answer")
        wait_text_contains(page, "tok60 ")
        conversation = conversation_id(page)
        # Wait for a checkpoint that holds some text, then kill the server without warning.
        with httpx.Client(base_url=base, timeout=10) as client:
            wait_until(
                lambda: len(stored_messages(client, conversation)[-1]["content"]) > 200,
                timeout=30,
                what="a checkpoint of the partial text",
            )
        seen = rendered_text(assistant(page))
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    with rillchat_process(env) as (base2, _):
        page.goto(f"{base2}/#c={conversation}")
        reply = assistant(page)
        wait_finished(reply, "interrupted")
        shown = rendered_text(reply)
        assert len(shown) > 200 and seen.startswith(shown[:200])
        expect(reply.locator(".msg-error")).to_contain_text("The server restarted while writing this reply")
        expect(reply.get_by_test_id("continue")).to_be_visible()
        expect(reply.get_by_test_id("retry")).to_be_visible()
        screenshot(page, "interrupted-after-restart")
        fake_openai.scenario = Scenario(tokens=5, token_text=["end "], rate=100)
        stored = stored_messages(httpx.Client(base_url=base2, timeout=10), conversation)[-1]
        reply.get_by_test_id("continue").click()
        wait_finished(reply)
        assert rendered_text(reply) == (stored["content"] + "end " * 5).strip()
    assert page.evaluate("window.__shrunk") == []
