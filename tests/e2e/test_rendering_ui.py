"""What a reply renders to in Chromium: untrusted HTML stays inert (while streaming too), fenced code is
highlighted with a working Copy button, and the page holds up in the dark theme and at phone width."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import (
    assistant,
    body,
    open_chat,
    rendered_text,
    screenshot,
    send,
    skip_reason,
    wait_finished,
)
from tests.fakes.openai_server import FakeOpenAI, Scenario, expected_text

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)


def chunks(text: str, size: int) -> list[str]:
    """The text as deltas of ``size`` characters: tags and URLs arrive cut in pieces, like from a model."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def scenario_for(text: str, size: int = 5, rate: float = 200) -> Scenario:
    pieces = chunks(text, size)
    return Scenario(tokens=len(pieces), token_text=pieces, rate=rate)


XSS_REPLY = (
    'Look: <img src=x onerror="window.__xss=1"> and <script>window.__xss=2</script> inline.\n\n'
    "[click](javascript:window.__xss=3)\n\n"
    '<iframe src="javascript:window.__xss=4"></iframe>\n\n'
    'Also <a href="javascript:window.__xss=5">this</a> and ![img](javascript:window.__xss=6).\n'
)

# Installed before the page's own scripts: logs every dangerous element ever inserted into the message
# list (while streaming too, where an element could fire before the next frame replaces it).
DANGER_LOG_JS = """
window.__danger = [];
new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
        if (n.nodeType !== 1 || !n.closest('[data-testid=messages]')) continue;
        for (const el of [n, ...n.querySelectorAll('*')]) {
            const handlers = [...el.attributes].filter((a) => a.name.startsWith('on')).map((a) => a.name);
            const href = el.getAttribute('href') || el.getAttribute('src') || '';
            if (['SCRIPT', 'IFRAME', 'IMG', 'OBJECT', 'EMBED'].includes(el.tagName) || handlers.length
                || /^\\s*javascript:/i.test(href)) {
                window.__danger.push(el.outerHTML.slice(0, 200));
            }
        }
    }
}).observe(document, { subtree: true, childList: true });
"""


def test_html_and_javascript_urls_in_a_reply_stay_inert(app: str, page: Page, fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = scenario_for(XSS_REPLY, size=4)
    page.add_init_script(DANGER_LOG_JS)
    open_chat(page, app)
    send(page, "Say something nasty")
    reply = assistant(page)
    wait_finished(reply)

    text = rendered_text(reply)
    # The markup is shown as text, not run.
    for visible in ("<img src=x", "<script>window.__xss=2</script>", '<iframe src="javascript:', "[click]"):
        assert visible in text, (visible, text)
    assert page.evaluate("typeof window.__xss") == "undefined"
    message_body = body(reply)
    expect(message_body.locator("script, iframe, img, object, embed, [onerror], [onclick], [onload]")).to_have_count(0)
    assert page.evaluate("window.__danger") == [], "a dangerous element was inserted at some point"

    # Whatever is clickable in the reply: no javascript: link, and clicking does not run anything.
    links = message_body.locator("a")
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href") or ""
        assert not href.strip().lower().startswith("javascript:"), href
    message_body.get_by_text("[click](javascript:window.__xss=3)", exact=False).click()
    message_body.get_by_text("this", exact=False).first.click()
    # A round trip through the event loop after the clicks: a handler would have run by now.
    assert page.evaluate("new Promise((r) => setTimeout(() => r(typeof window.__xss), 50))") == "undefined"
    assert len(page.context.pages) == 1, "a click opened a window"


CODE = 'def greet(name: str) -> str:\n    """Say hello."""\n    return f"Hello, {name}!"\n\n\nprint(greet("river"))\n'
MARKDOWN_REPLY = (
    "Here is **a function** with `inline code`:\n\n"
    f"```python\n{CODE}```\n\n"
    "- it greets\n- it returns a *string*\n\n"
    "That's all.\n"
)


def test_a_fenced_python_block_is_highlighted_with_a_copy_button(
    app: str, context: Any, page: Page, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario = scenario_for(MARKDOWN_REPLY, size=6, rate=150)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app)
    open_chat(page, app)
    send(page, "Show me some Python")
    reply = assistant(page)
    wait_finished(reply)

    block = body(reply).locator(".code-block")
    expect(block).to_have_count(1)
    code = block.locator("pre code")
    expect(code).to_have_class("hljs language-python")
    assert code.text_content() == CODE
    for token in ("hljs-keyword", "hljs-string", "hljs-built_in"):
        assert code.locator(f".{token}").count() >= 1, f"no {token} in the highlighted code"
    expect(block.locator(".code-lang")).to_have_text("python")
    expect(body(reply).locator("strong")).to_have_text("a function")
    expect(body(reply).locator("p code")).to_have_text("inline code")
    expect(body(reply).locator("ul > li")).to_have_count(2)
    copy = block.get_by_test_id("copy-code")
    expect(copy).to_be_visible()
    screenshot(page, "markdown-reply-with-code")

    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == CODE


WIDE_REPLY = (
    "A long URL: https://example.com/" + "a" * 150 + "\n\n"
    "```js\nconst wide = '" + "x" * 200 + "';\nconsole.log(wide.length);\n```\n\n"
    "| column | another column | a third column |\n| --- | --- | --- |\n| " + " | ".join(["value " * 8] * 3) + " |\n"
)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        pytest.param("dark-theme", {"color_scheme": "dark"}, id="dark"),
        pytest.param(
            "phone-380px", {"viewport": {"width": 380, "height": 760}, "is_mobile": True, "has_touch": True}, id="phone"
        ),
    ],
)
def test_layout_in_the_dark_theme_and_at_phone_width(
    app: str, new_context: Callable[..., Any], fake_openai: FakeOpenAI, name: str, options: dict[str, Any]
) -> None:
    fake_openai.scenario = scenario_for(WIDE_REPLY + "\n" + MARKDOWN_REPLY, size=12, rate=400)
    page = new_context(**options).new_page()
    open_chat(page, app)
    send(page, "Something wide")
    reply = assistant(page)
    wait_finished(reply)
    assert page.evaluate("window.__rillchat.state.messages.at(-1).content") == expected_text(fake_openai.scenario)

    width = page.viewport_size["width"] if page.viewport_size else 0
    # Nothing widens the page: long URLs wrap, code and tables scroll in their own boxes.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert body(reply).evaluate("(el) => el.getBoundingClientRect().right") <= width
    expect(page.get_by_test_id("composer")).to_be_in_viewport()
    expect(page.get_by_test_id("send")).to_be_in_viewport()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    luminance = _luminance(background)
    if options.get("color_scheme") == "dark":
        assert luminance < 0.2, background
        text_colour = _luminance(body(reply).evaluate("(el) => getComputedStyle(el).color"))
        assert text_colour > 0.6, "light text on the dark background"
    else:
        assert luminance > 0.8, background
        # The sidebar is off-canvas on a phone; the header's button opens it over the chat.
        sidebar = page.locator("#sidebar")
        expect(sidebar).not_to_be_in_viewport()
        page.get_by_test_id("sidebar-toggle").click()
        expect(page.get_by_test_id("conversation-item")).to_be_in_viewport()
        page.keyboard.press("Escape")
        expect(sidebar).not_to_have_class(re.compile(r"\bopen\b"))
        expect(sidebar).not_to_be_in_viewport()
        expect(page.get_by_test_id("sidebar-toggle")).to_have_attribute("aria-expanded", "false")
    screenshot(page, name)


def _luminance(css_colour: str) -> float:
    """Relative luminance (0 black .. 1 white) of an ``rgb(...)``/``rgba(...)`` colour."""
    parts = css_colour[css_colour.index("(") + 1 : css_colour.index(")")].replace(",", " ").split()
    r, g, b = (float(p) / 255 for p in parts[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
