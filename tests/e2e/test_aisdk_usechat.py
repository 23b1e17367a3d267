"""The Vercel AI SDK's real ``useChat`` (AI SDK 5, 6 and 7, from npm, pinned in tests/aisdk/package-lock.json)
in Chromium against rillchat: a React page built only from the SDK's documented API (tests/aisdk/page.jsx),
served from another origin (CORS), streams, stops (the model stops), regenerates, shows errors and, after a
reload mid-reply, continues the same message with nothing lost or doubled. The fake upstream's counters and
the stored chat are the proof. ``make test`` installs and bundles tests/aisdk before running these."""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from rillchat.api.app import create_app
from rillchat.config import Settings
from tests.conftest import fake_upstreams
from tests.e2e.ui import CHROMIUM
from tests.fakes.openai_server import FakeOpenAI, Scenario, expected_reasoning, expected_text, reasoning_texts
from tests.helpers import wait_until
from tests.servers import serve_in_thread

pytestmark = pytest.mark.browser
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (Debian: apt-get install chromium; CI installs it)", allow_module_level=True)

PAGES = Path(__file__).resolve().parents[1] / "aisdk" / "dist"
VERSIONS = ["5", "6", "7"]
ASSISTANT = "li.message[data-role=assistant]"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """The test pages, served on a loopback port of their own: another origin than rillchat's."""
    if not (PAGES / "v7.js").exists():
        pytest.fail("the useChat test pages are not built: cd tests/aisdk && npm ci && npm run build (make test does)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(PAGES)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def rillchat(
    fake_openai_server: FakeOpenAI, page_origin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One rillchat for the module (every test uses chats of its own), wired to the fake upstream."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('aisdk') / 'rillchat.db'}",
        upstreams=fake_upstreams(fake_openai_server),
        default_model="fake-responses",
        cors_origins=[page_origin],
        stream_grace_seconds=30.0,
        local_model_preload=False,
    )
    with serve_in_thread(create_app(settings)) as url:
        yield url


def open_page(
    page: Page, page_origin: str, rillchat: str, version: str, *, resume: bool = False, model: str = ""
) -> str:
    chat_id = uuid.uuid4().hex[:16]
    query = f"server={rillchat}&chat={chat_id}" + ("&resume=1" if resume else "") + (f"&model={model}" if model else "")
    page.goto(f"{page_origin}/v{version}.html?{query}")
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    return chat_id


def send(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.click("#send")


def stored(rillchat: str, chat_id: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{rillchat}/api/ai-sdk/chat/{chat_id}/messages", timeout=10)
    response.raise_for_status()
    return response.json()["messages"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_streams_an_answer(page: Page, page_origin, rillchat, fake_openai: FakeOpenAI, version) -> None:
    fake_openai.scenario = Scenario(tokens=30, rate=200)
    chat_id = open_page(page, page_origin, rillchat, version)
    send(page, "hello")
    answer = page.locator(ASSISTANT)
    expect(answer.locator(".text")).to_have_text(expected_text(fake_openai.scenario))
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    expect(answer).to_have_attribute("data-status", "completed")
    messages = stored(rillchat, chat_id)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert answer.get_attribute("data-id") == messages[1]["id"], "the streamed message is the stored one"


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_shows_the_reasoning_part_before_the_answer(page: Page, page_origin, rillchat, fake_openai, version):
    fake_openai.scenario = Scenario(tokens=5, reasoning=6, rate=200)
    open_page(page, page_origin, rillchat, version, model="fake-chat")
    send(page, "think first")
    answer = page.locator(ASSISTANT)
    expect(answer.locator(".text")).to_have_text(expected_text(fake_openai.scenario))
    expect(answer.locator(".reasoning")).to_have_text(expected_reasoning(fake_openai.scenario, "chat"))
    parts = answer.locator(".reasoning, .text").evaluate_all("els => els.map(e => e.className)")
    assert parts == ["reasoning", "text"]


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_shows_an_error_mid_reply(page: Page, page_origin, rillchat, fake_openai, version) -> None:
    chat_id = open_page(page, page_origin, rillchat, version)
    send(page, "fail please [[fake tokens=10 fail_after=3 failure=error]]")
    expect(page.locator("#status")).to_have_attribute("data-status", "error")
    error = stored(rillchat, chat_id)[-1]["metadata"]["error"]
    expect(page.locator("#error")).to_have_text(error["message"])
    expect(page.locator(ASSISTANT).locator(".text")).to_have_text("tok0 tok1 tok2 ")


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_stop_without_resume_stops_the_model(page: Page, page_origin, rillchat, fake_openai, version) -> None:
    fake_openai.scenario = Scenario(tokens=2000, rate=40)
    chat_id = open_page(page, page_origin, rillchat, version)
    send(page, "go on and on")
    expect(page.locator(ASSISTANT).locator(".text")).to_contain_text("tok2 ")
    page.click("#stop")
    wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=10, what="the upstream was closed")
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    wait_until(lambda: stored(rillchat, chat_id)[-1:][0]["role"] == "assistant", what="the reply is stored")
    assert stored(rillchat, chat_id)[-1]["metadata"]["status"] == "interrupted"
    assert fake_openai.stats.streams_completed == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_stop_with_resume_stops_the_model_through_the_stop_endpoint(
    page: Page, page_origin, rillchat, fake_openai, version
) -> None:
    fake_openai.scenario = Scenario(tokens=2000, rate=40)
    chat_id = open_page(page, page_origin, rillchat, version, resume=True)
    send(page, "go on and on")
    expect(page.locator(ASSISTANT).locator(".text")).to_contain_text("tok2 ")
    page.click("#stop")
    wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=10, what="the upstream was closed")
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    wait_until(lambda: stored(rillchat, chat_id)[-1:][0]["role"] == "assistant", what="the reply is stored")
    assert stored(rillchat, chat_id)[-1]["metadata"]["status"] == "stopped"


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_regenerates_the_last_answer(page: Page, page_origin, rillchat, fake_openai, version) -> None:
    fake_openai.scenario = Scenario(tokens=5)
    chat_id = open_page(page, page_origin, rillchat, version)
    send(page, "say something")
    answer = page.locator(ASSISTANT)
    expect(answer).to_have_attribute("data-status", "completed")
    first_id = answer.get_attribute("data-id")
    page.click("#regenerate")
    expect(answer).not_to_have_attribute("data-id", first_id or "")
    expect(answer).to_have_attribute("data-status", "completed")
    expect(page.locator("li.message")).to_have_count(2)
    messages = stored(rillchat, chat_id)
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1]["id"] == answer.get_attribute("data-id") != first_id
    assert fake_openai.stats.requests_total == 2


@pytest.mark.parametrize("version", VERSIONS)
def test_use_chat_resumes_the_same_message_after_a_reload_mid_reply(
    page: Page, page_origin, rillchat, fake_openai, version
) -> None:
    # The fake holds the reply after two thoughts until release(): the reload surely comes mid-reply.
    fake_openai.scenario = Scenario(tokens=30, rate=200, reasoning=4, pause_at_reasoning=2)
    thoughts = reasoning_texts(fake_openai.scenario)
    chat_id = open_page(page, page_origin, rillchat, version, resume=True, model="fake-chat")
    send(page, "a long answer please")
    answer = page.locator(ASSISTANT)
    expect(answer.locator(".reasoning")).to_have_text("".join(thoughts[:2]))
    wait_until(lambda: fake_openai.paused == 1, what="the reply is held mid-thought")
    message_id = answer.get_attribute("data-id")
    page.reload()
    expect(answer.locator(".reasoning")).to_have_text("".join(thoughts[:2]))  # replayed from its start
    assert answer.get_attribute("data-id") == message_id, "the same message"
    assert fake_openai.stats.streams_completed == 0
    fake_openai.release()
    expect(answer.locator(".text")).to_have_text(expected_text(fake_openai.scenario))
    expect(answer.locator(".reasoning")).to_have_text("".join(thoughts))
    expect(page.locator("#status")).to_have_attribute("data-status", "ready")
    assert answer.get_attribute("data-id") == message_id, "the same message continued"
    expect(page.locator("li.message")).to_have_count(2)
    assert fake_openai.stats.requests_total == 1 and fake_openai.stats.streams_disconnected == 0
    assert stored(rillchat, chat_id)[-1]["parts"] == [
        {"type": "reasoning", "text": "".join(thoughts)},
        {"type": "text", "text": expected_text(fake_openai.scenario)},
    ]
