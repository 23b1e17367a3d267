"""Find, keep and move conversations in Chromium: search from the sidebar (a word from the middle of a
conversation, keyboard only), export one and all, import the file into a fresh server and see the same
conversations; a broken file imports nothing; per-conversation settings; message times and models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.archive.corpus import conversation, export_file
from tests.e2e.ui import ASSISTANT, MESSAGE, assistant, open_chat, screenshot, send, skip_reason, wait_finished
from tests.fakes.openai_server import Scenario

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)

MIDDLE = "Foxes often den near the riverbank, where the soil is soft enough to dig."
CORPUS = [
    conversation("Animals", "Tell me about foxes", "They are clever.", "Where do they live?", MIDDLE, "Thanks", day=1),
    conversation("Cooking", "How long to boil an egg?", "About nine minutes for a hard one.", day=2),
    conversation("Travel", "Best month for Lisbon?", "May or September.", day=3),
]


def _titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator("[data-testid=conversation-item] .conv-title").all_text_contents()]


def _download(page: Page, testid: str, folder: Path) -> Path:
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    download = info.value
    target = folder / download.suggested_filename
    download.save_as(target)
    return target


def _open_settings(page: Page) -> None:
    if page.locator("#settings").is_hidden():
        page.get_by_test_id("settings-toggle").click()
    expect(page.locator("#settings")).to_be_visible()


def _messages_of(page: Page) -> list[str]:
    expect(page.locator(MESSAGE).first).to_be_visible()
    return [t.strip() for t in page.locator(f"{MESSAGE} [data-testid=message-body]").all_text_contents()]


def test_find_by_a_word_from_the_middle_export_and_import_into_a_fresh_server(
    page: Page, app: str, api: httpx.Client, server_with_fake: Any, tmp_path: Path
):
    api.post("/api/conversations/import", json=export_file(CORPUS)).raise_for_status()
    open_chat(page, app)
    expect(page.locator("[data-testid=conversation-item]")).to_have_count(3)

    box = page.get_by_test_id("search-input")
    page.keyboard.press("Control+K")  # from the message box, where the page starts
    expect(box).to_be_focused()
    page.keyboard.type("riverb")  # a word from the middle of the conversation, still being typed
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text("Animals")
    expect(results.first.locator("mark")).to_have_text("riverbank")
    expect(page.get_by_test_id("conversation-list")).to_be_hidden()
    screenshot(page, "search-results")
    box.press("ArrowDown")
    expect(results.first).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", "search-hit-0")
    box.press("Enter")
    expect(page.get_by_test_id("conversation-title")).to_have_text("Animals")
    hit = page.locator(f"{MESSAGE}.search-target")
    expect(hit).to_contain_text("riverbank")
    expect(hit).to_be_in_viewport()
    box.press("Escape")
    expect(box).to_have_value("")
    expect(page.get_by_test_id("conversation-list")).to_be_visible()

    _open_settings(page)
    one = json.loads(_download(page, "export-one-json", tmp_path).read_text())
    assert [c["title"] for c in one["conversations"]] == ["Animals"]
    everything_file = _download(page, "export-all-json", tmp_path / "all")
    everything = json.loads(everything_file.read_text())
    assert [c["title"] for c in everything["conversations"]] == ["Animals", "Cooking", "Travel"]
    readable = _download(page, "export-all-markdown", tmp_path / "md").read_text()
    assert readable.startswith("# Animals") and MIDDLE in readable
    expect(page.get_by_test_id("data-status")).to_contain_text("Exported all conversations")
    original_titles = _titles(page)

    fresh = server_with_fake(
        default_model="fake-responses", database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    )
    open_chat(page, fresh)
    expect(page.locator(".conv-empty, [data-testid=conversation-item]").first).to_be_visible()
    assert page.locator("[data-testid=conversation-item]").count() == 0
    _open_settings(page)
    page.get_by_test_id("import-file").set_input_files(str(everything_file))
    expect(page.get_by_test_id("data-status")).to_contain_text("Imported 3 conversations")
    expect(page.locator("[data-testid=conversation-item]")).to_have_count(3)
    assert _titles(page) == original_titles
    page.locator("[data-testid=conversation-item]", has_text="Animals").locator(
        "[data-testid=conversation-open]"
    ).click()
    expect(page.get_by_test_id("conversation-title")).to_have_text("Animals")
    assert _messages_of(page) == [m["content"] for m in CORPUS[0]["messages"]]
    page.get_by_test_id("search-input").fill("riverbank")
    expect(page.get_by_test_id("search-result")).to_have_count(1)


def test_search_results_page_on_with_the_arrow_keys(page: Page, app: str, api: httpx.Client):
    many = [conversation(f"Note {i:02d}", f"shared marmalade recipe number {i}", day=(i % 28) + 1) for i in range(25)]
    api.post("/api/conversations/import", json=export_file(many)).raise_for_status()
    open_chat(page, app)
    box = page.get_by_test_id("search-input")
    box.fill("marmalade")
    results = page.get_by_test_id("search-result")
    expect(results).to_have_count(20)
    expect(page.get_by_test_id("search-status")).to_have_text("20+ conversations found")
    for _ in range(20):
        box.press("ArrowDown")
    expect(results.nth(19)).to_have_attribute("aria-selected", "true")
    box.press("ArrowDown")  # past the last: the next page comes
    expect(results).to_have_count(25)
    expect(page.get_by_test_id("search-status")).to_have_text("25 conversations found")
    box.press("ArrowDown")
    expect(results.nth(20)).to_have_attribute("aria-selected", "true")


def test_a_broken_file_imports_nothing_and_says_why(page: Page, app: str, api: httpx.Client, tmp_path: Path):
    api.post("/api/conversations/import", json=export_file(CORPUS[:1])).raise_for_status()
    broken = tmp_path / "cut.json"
    broken.write_text(json.dumps(export_file(CORPUS))[:-50])
    open_chat(page, app)
    expect(page.locator("[data-testid=conversation-item]")).to_have_count(1)
    _open_settings(page)
    page.get_by_test_id("import-file").set_input_files(str(broken))
    status = page.get_by_test_id("data-status")
    expect(status).to_contain_text("Import failed, nothing was imported")
    expect(status).to_contain_text("cut short")
    assert [c["title"] for c in api.get("/api/conversations").json()["data"]] == ["Animals"]
    expect(page.locator("[data-testid=conversation-item]")).to_have_count(1)


def test_settings_belong_to_the_conversation_and_new_chats_start_from_the_defaults(
    page: Page, app: str, api: httpx.Client, fake_openai: Any
):
    fake_openai.scenario = Scenario(tokens=3, rate=200)
    open_chat(page, app)
    _open_settings(page)
    expect(page.get_by_test_id("settings-scope")).to_contain_text("Your defaults")
    page.get_by_test_id("instructions").fill("Answer like a sailor.")
    send(page, "hello there")
    wait_finished(assistant(page))
    conversation_id = page.url.split("#c=")[1]
    stored = api.get(f"/api/conversations/{conversation_id}").json()
    assert (stored["instructions"], stored["model"]) == ("Answer like a sailor.", "fake-responses")

    # The reply shows its model and when it was written (exact time on hover).
    reply = assistant(page)
    expect(reply.get_by_test_id("message-model")).to_have_text("fake-responses")
    time = reply.get_by_test_id("message-time")
    expect(time).to_have_text("just now")
    assert time.get_attribute("title") and time.get_attribute("datetime")

    _open_settings(page)
    expect(page.get_by_test_id("settings-scope")).to_contain_text("saved with this conversation")
    with page.expect_response(lambda r: r.request.method == "PATCH" and conversation_id in r.url):
        page.get_by_test_id("temperature").fill("0.3")
    assert api.get(f"/api/conversations/{conversation_id}").json()["temperature"] == 0.3

    page.get_by_test_id("new-conversation").click()
    _open_settings(page)
    expect(page.get_by_test_id("instructions")).to_have_value("Answer like a sailor.")
    expect(page.get_by_test_id("temperature")).to_have_value("")  # the conversation's, not a default
    page.locator("[data-testid=conversation-item]").first.locator("[data-testid=conversation-open]").click()
    _open_settings(page)
    expect(page.get_by_test_id("temperature")).to_have_value("0.3")
    expect(page.locator(ASSISTANT)).to_have_count(1)
    # A reload keeps it: the conversation remembers, not the browser.
    page.reload()
    _open_settings(page)
    expect(page.get_by_test_id("temperature")).to_have_value("0.3")
