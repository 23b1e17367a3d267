"""Helpers for driving rillchat's browser UI: selectors, waits on DOM conditions, artifacts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Locator, Page, expect

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STATIC_INDEX = REPO / "src" / "rillchat" / "web" / "static" / "index.html"

MESSAGE = "[data-testid=message]"
ASSISTANT = "[data-testid=message][data-role=assistant]"


def skip_reason() -> str | None:
    """Why the browser tests cannot run here (None: they can)."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (Debian: apt-get install chromium; CI installs it)"
    if not STATIC_INDEX.exists():
        return "the web UI is not built (run `make web`)"
    return None


# ---- artifacts -------------------------------------------------------------------------------------


def screenshot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Writes ``artifacts/screenshots/<name>.png`` (the folder is gitignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def write_artifact(name: str, data: Any) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


# ---- the chat page ---------------------------------------------------------------------------------


def open_chat(page: Page, base_url: str) -> None:
    """Loads the UI and waits until it is usable: models loaded, the fake one selected."""
    page.goto(base_url)
    expect(page.get_by_test_id("model-select")).to_have_value("fake-responses")
    expect(page.get_by_test_id("composer")).to_be_focused()


def send(page: Page, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send").click()


def assistant(page: Page, index: int = -1) -> Locator:
    replies = page.locator(ASSISTANT)
    return replies.last if index == -1 else replies.nth(index)


def body(message: Locator) -> Locator:
    return message.get_by_test_id("message-body")


def rendered_text(message: Locator) -> str:
    """The message's rendered text (markdown output), outer whitespace trimmed."""
    return (body(message).text_content() or "").strip()


def wait_finished(message: Locator, status: str = "completed", timeout: float = 15_000) -> None:
    expect(message).to_have_attribute("data-status", status, timeout=timeout)


def wait_text_contains(page: Page, fragment: str, index: int = -1) -> None:
    """Waits until the (last) reply's rendered text contains ``fragment`` -- mid-stream."""
    page.wait_for_function(
        """([sel, index, fragment]) => {
            const all = document.querySelectorAll(sel);
            const m = index < 0 ? all[all.length + index] : all[index];
            return Boolean(m && m.querySelector('[data-testid=message-body]').textContent.includes(fragment));
        }""",
        arg=[ASSISTANT, index, fragment],
    )


def conversation_id(page: Page) -> str:
    match = re.search(r"#c=([^&]+)", page.url)
    assert match, f"no conversation in the URL {page.url}"
    return match.group(1)


def stored_messages(api: httpx.Client, conversation: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/conversations/{conversation}")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


# JS: does any element inside `m` draw the pulsing cursor (a ::after with the `pulse` animation)?
HAS_CURSOR_JS = """(m) => [m, ...m.querySelectorAll('*')].some(
    (n) => getComputedStyle(n, '::after').animationName === 'pulse')"""

# Records, in the page, everything the tests want to know about the first reply as it happens.
RECORDER_JS = """() => {
    const rec = (window.__rec = { clickAt: null, progressAt: null, firstTextAt: null, phases: [] });
    document.querySelector('[data-testid=send]').addEventListener(
        'click', () => { rec.clickAt ??= performance.now(); }, { capture: true });
    const visible = (el) => Boolean(el && el.isConnected && el.getClientRects().length);
    new MutationObserver(() => {
        const now = performance.now();
        const m = document.querySelector('[data-testid=message][data-role=assistant]');
        if (!m) return;
        const progress = m.querySelector('[data-testid=progress]');
        if (rec.progressAt === null && visible(progress) && progress.textContent.trim()) rec.progressAt = now;
        const phase = progress?.isConnected ? progress.dataset.phase : null;
        if (phase && rec.phases.at(-1) !== phase) rec.phases.push(phase);
        if (rec.firstTextAt === null && m.querySelector('[data-testid=message-body]').textContent.trim()) {
            rec.firstTextAt = now;
        }
    }).observe(document.getElementById('messages'),
               { subtree: true, childList: true, characterData: true, attributes: true });
}"""
