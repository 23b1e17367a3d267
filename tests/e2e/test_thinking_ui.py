"""A reasoning model in Chromium: the thinking block grows live (collapsed, latest words in view), survives a
reload mid-thought, turns into "Thought for N s" when the answer starts, expands to markdown, and is kept
in the history. The model picker groups models by upstream and disables those of an unreachable one.
Real rillchat on loopback, the fake upstream speaking Chat Completions' ``reasoning_content``."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from rillchat.config import UpstreamConfig
from tests.e2e.ui import assistant, conversation_id, rendered_text, screenshot, send, skip_reason, stored_messages
from tests.fakes.openai_server import FakeOpenAI, Scenario, expected_reasoning, expected_text
from tests.helpers import wait_until

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)

THOUGHTS = [
    "The user wants a river haiku. ",
    "**Key idea**: water that keeps moving. ",
    "Five syllables, then seven, ",
    "then five again. ",
    "Spring melt, stones, light. ",
    "Maybe end on the sea. ",
    "Check the count once more. ",
    "Good. ",
]
ANSWER = [
    "Snowmelt ",
    "finds ",
    "the stones,\n",
    "carries ",
    "light ",
    "downhill ",
    "all ",
    "night,\n",
    "the sea ",
    "waits.",
]


@pytest.fixture
def thinking_app(fake_openai: FakeOpenAI, make_settings: Callable[..., Any], start_server: Callable[..., str]) -> str:
    common: dict[str, Any] = {"base_url": fake_openai.base_url, "api_key": "sk-test", "max_retries": 0}
    upstreams = [UpstreamConfig(name="local-llm", kind="openai-chat", models=["qwen3-8b"], **common)]
    return start_server(make_settings(upstreams=upstreams, default_model="qwen3-8b"))


def open_chat(page: Page, base_url: str, model: str = "qwen3-8b") -> None:
    page.goto(base_url)
    expect(page.get_by_test_id("model-select")).to_have_value(model)
    expect(page.get_by_test_id("composer")).to_be_focused()


def test_the_thinking_block_lives_survives_a_reload_and_stays_collapsed_after(
    thinking_app: str, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(
        tokens=len(ANSWER), token_text=ANSWER, reasoning=len(THOUGHTS), reasoning_text=THOUGHTS, pause_at_reasoning=5
    )
    open_chat(page, thinking_app)
    send(page, "A haiku about rivers, please")
    reply = assistant(page)
    block = reply.get_by_test_id("thinking")

    # Live: "Thinking…", collapsed to one line that shows the latest words.
    expect(block).to_be_visible()
    expect(block.get_by_test_id("thinking-label")).to_have_text("Thinking…")
    expect(block.get_by_test_id("thinking-peek")).to_contain_text("Spring melt, stones, light.")
    assert block.get_attribute("open") is None, "collapsed by default"
    expect(reply.get_by_test_id("progress")).to_contain_text("Thinking")
    assert rendered_text(reply) == "", "no answer yet"
    screenshot(page, "thinking-live")

    # A reload mid-thought: the same reply, still thinking, with what it had thought so far.
    message_id = reply.get_attribute("data-message-id")
    assert message_id
    page.reload()
    reply = page.locator(f"[data-testid=message][data-message-id='{message_id}']")
    block = reply.get_by_test_id("thinking")
    expect(reply).to_have_attribute("data-status", "streaming")
    expect(block.get_by_test_id("thinking-label")).to_have_text("Thinking…")
    expect(block.get_by_test_id("thinking-peek")).to_contain_text("Spring melt, stones, light.")
    assert fake_openai.paused == 1, "still the one reply, waiting mid-thought"

    # The answer starts: "Thought for N s", collapsed, the answer below it.
    fake_openai.release()
    expect(reply).to_have_attribute("data-status", "completed")
    expect(block.get_by_test_id("thinking-label")).to_have_text(re.compile(r"^Thought for \d+ s$"))
    assert block.get_attribute("open") is None
    expect(block.get_by_test_id("thinking-peek")).to_have_text("")
    assert rendered_text(reply) == expected_text(fake_openai.scenario).strip()
    assert "Key idea" not in rendered_text(reply), "the thoughts are not in the answer"

    # Expanded: the whole reasoning, as markdown.
    block.get_by_test_id("thinking-label").click()
    expect(block).to_have_attribute("open", "")
    body = block.get_by_test_id("thinking-body")
    expect(body.locator("strong")).to_have_text("Key idea")
    expect(body).to_contain_text("Check the count once more.")
    screenshot(page, "thinking-block")

    # Reloaded afterwards: kept, collapsed, same duration.
    label = block.get_by_test_id("thinking-label").text_content()
    page.reload()
    reply = page.locator(f"[data-testid=message][data-message-id='{message_id}']")
    block = reply.get_by_test_id("thinking")
    expect(block.get_by_test_id("thinking-label")).to_have_text(label or "")
    assert block.get_attribute("open") is None
    block.get_by_test_id("thinking-label").click()
    expect(block.get_by_test_id("thinking-body")).to_contain_text("Five syllables, then seven,")
    assert fake_openai.stats.requests_total == 1


def test_the_stored_message_and_the_guide_page_keep_thoughts_out_of_the_answer(
    thinking_app: str, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = Scenario(tokens=len(ANSWER), token_text=ANSWER, reasoning=3, reasoning_text=THOUGHTS)
    open_chat(page, thinking_app)
    send(page, "Again")
    expect(assistant(page)).to_have_attribute("data-status", "completed")
    with httpx.Client(base_url=thinking_app) as api:
        stored = stored_messages(api, conversation_id(page))[-1]
    assert stored["content"] == expected_text(fake_openai.scenario)
    assert stored["reasoning"] == expected_reasoning(fake_openai.scenario, "chat")

    # The guide's plain-text client reads only the answer.
    page.goto(f"{thinking_app}/guide.html?model=qwen3-8b")
    page.get_by_test_id("guide-input").fill("Hello, guide")
    page.get_by_test_id("guide-send").click()
    expect(page.get_by_test_id("guide-status")).to_have_attribute("data-state", "done")
    assert page.get_by_test_id("guide-output").text_content() == expected_text(fake_openai.scenario)


@pytest.fixture
def refused_url() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


def test_the_model_picker_groups_by_upstream_and_disables_the_unreachable(
    fake_openai: FakeOpenAI,
    make_settings: Callable[..., Any],
    start_server: Callable[..., str],
    page: Page,
    refused_url: str,
) -> None:
    fake_openai.models = ("qwen3:8b", "llama3.2:3b", "gpt-5-mini")
    common: dict[str, Any] = {"api_key": "sk-test", "max_retries": 0}
    upstreams = [
        UpstreamConfig(
            name="openai", kind="openai-responses", base_url=fake_openai.base_url, models=["gpt-5-mini"], **common
        ),
        UpstreamConfig(
            name="ollama", kind="openai-chat", base_url=fake_openai.base_url, models_refresh_seconds=0.2, **common
        ),
        UpstreamConfig(name="vllm", kind="openai-chat", base_url=refused_url, **common),
    ]
    app = start_server(make_settings(upstreams=upstreams, default_model="gpt-5-mini"))

    def upstream(name: str) -> dict[str, Any]:
        listing = httpx.get(f"{app}/api/models").json()
        return next(u for u in listing["upstreams"] if u["name"] == name)

    wait_until(lambda: upstream("vllm")["available"] is False and upstream("ollama")["available"], timeout=15)
    open_chat(page, app, "gpt-5-mini")
    picker = page.get_by_test_id("model-select")
    groups = picker.locator("optgroup")
    expect(groups).to_have_count(4)  # the embedded model's, openai, ollama, vllm
    expect(picker.locator("optgroup[label='ollama'] option")).to_have_count(3)
    expect(picker.locator("optgroup[label='ollama'] option[value='qwen3:8b']")).to_be_enabled()
    vllm = picker.locator("optgroup[label='vllm (unavailable)'] option")
    expect(vllm).to_have_count(1)
    expect(vllm).to_be_disabled()
    expect(vllm).to_contain_text("could not connect")

    # The reasoning effort setting shows for a model that takes one, and goes with the request.
    page.get_by_test_id("settings-toggle").click()
    expect(page.get_by_test_id("effort-field")).to_be_visible()
    page.get_by_test_id("reasoning-effort").select_option("high")
    picker.select_option("llama3.2:3b")
    expect(page.get_by_test_id("effort-field")).to_be_hidden()
    picker.select_option("gpt-5-mini")
    expect(page.get_by_test_id("effort-field")).to_be_visible()
    fake_openai.scenario = Scenario(tokens=3)
    send(page, "Think hard")
    expect(assistant(page)).to_have_attribute("data-status", "completed")
    generations = [r for r in fake_openai.requests if r.path == "/v1/responses"]
    assert [r.json["reasoning"] for r in generations] == [{"effort": "high", "summary": "auto"}]

    # An upstream that stops answering: its models stay listed, disabled.
    fake_openai.listing_status = 503
    wait_until(lambda: upstream("ollama")["available"] is False, timeout=15)
    page.reload()
    expect(picker.locator("optgroup[label='ollama (unavailable)'] option[value='qwen3:8b']")).to_be_disabled()
    screenshot(page, "model-picker")
