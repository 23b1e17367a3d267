"""The conversations sidebar in Chromium: grouped by date with full titles, the current conversation
always listed and named in the header, one Tab stop with arrow keys inside, skip links, collapsible on
desktop and tablet, New chat in the header and 44 px touch targets on a phone."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.ui import MESSAGE, open_chat, screenshot, skip_reason

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)

LONG_TITLE = "A long conversation title that says exactly what was discussed, in full, without an ellipsis"


def create(api: httpx.Client, title: str) -> str:
    response = api.post("/api/conversations", json={"title": title})
    assert response.status_code in (200, 201), response.text
    conversation: str = response.json()["id"]
    return conversation


def set_updated_at(db: Path, conversation: str, moment: datetime) -> None:
    """Moves a conversation back in time, straight in the server's SQLite database (the API cannot)."""
    with sqlite3.connect(db) as connection:
        changed = connection.execute(
            "UPDATE conversations SET updated_at = ? WHERE id = ?",
            (moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f"), conversation),
        ).rowcount
    assert changed == 1


def group_titles(page: Page) -> list[tuple[str, list[str]]]:
    """(group heading, titles) of the sidebar as drawn."""
    result: list[tuple[str, list[str]]] = page.evaluate(
        """() => [...document.querySelectorAll('.conv-group')].map((g) => [
            g.querySelector('.conv-group-title').textContent,
            [...g.querySelectorAll('[data-testid=conversation-item]')].map((li) => li.textContent)])"""
    )
    return result


# data-testid of the first two elements Tab reaches from the top of the page (document order).
FIRST_TAB_STOPS_JS = """() => [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
    .filter((el) => el.tabIndex >= 0 && !el.disabled && !el.closest('[hidden], [inert]'))
    .slice(0, 2).map((el) => el.dataset.testid)"""


def tab_stops_in_list(page: Page) -> int:
    count: int = page.evaluate(
        """() => [...document.querySelectorAll('#conversation-list button, #conversation-list input')]
            .filter((el) => el.tabIndex >= 0).length"""
    )
    return count


def focused_testid(page: Page) -> str | None:
    value: str | None = page.evaluate("document.activeElement?.dataset.testid ?? null")
    return value


def focused_row(page: Page) -> str | None:
    value: str | None = page.evaluate("document.activeElement?.closest('.conv')?.dataset.id ?? null")
    return value


def test_the_sidebar_groups_by_date_shows_full_titles_and_keeps_the_current_conversation_in_view(
    app: str, api: httpx.Client, new_context: Callable[..., Any], tmp_path: Path
) -> None:
    db = tmp_path / "rillchat.db"
    now = datetime.now(UTC)
    # 55 old ones push the oldest conversation beyond the first page (50) of the list.
    oldest = create(api, "The very first conversation")
    set_updated_at(db, oldest, now - timedelta(days=90))
    for i in range(55):
        filler = create(api, f"Old notes {i:02d}")
        set_updated_at(db, filler, now - timedelta(days=30, minutes=i))
    week = create(api, "Planning the week")
    set_updated_at(db, week, now - timedelta(days=4))
    yesterday = create(api, "Yesterday's question")
    set_updated_at(db, yesterday, now - timedelta(days=1))
    long = create(api, LONG_TITLE)
    today = create(api, "Today's chat")

    page = new_context(timezone_id="UTC").new_page()
    open_chat(page, app)
    expect(page.get_by_test_id("conversation-item")).to_have_count(50)
    groups = group_titles(page)
    assert [g[0] for g in groups] == ["Today", "Yesterday", "Previous 7 days", "Older"]
    assert groups[0][1] == ["Today's chat", LONG_TITLE]
    assert groups[1][1] == ["Yesterday's question"]
    assert groups[2][1] == ["Planning the week"]
    assert groups[3][1][:2] == ["Old notes 00", "Old notes 01"]
    expect(page.get_by_test_id("conversation-title")).to_have_text("New chat")

    # Full titles: the long one wraps, nothing is cut off.
    row = page.locator(f"[data-testid=conversation-item][data-id='{long}']")
    title = row.locator(".conv-title")
    assert title.evaluate("(el) => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight")
    line_height = float(title.evaluate("(el) => parseFloat(getComputedStyle(el).lineHeight)"))
    assert (title.bounding_box() or {})["height"] > 1.5 * line_height, "a long title wraps onto more lines"
    # Its buttons appear on hover and on focus, over the row, without taking the title's width.
    actions = row.locator(".conv-actions")
    assert actions.evaluate("(el) => getComputedStyle(el).opacity") == "0"
    width_before = (title.bounding_box() or {})["width"]
    row.hover()
    expect(row.get_by_test_id("rename-conversation")).to_be_visible()
    page.wait_for_function("(el) => getComputedStyle(el).opacity === '1'", arg=actions.element_handle())
    assert (title.bounding_box() or {})["width"] == width_before
    page.mouse.move(600, 400)
    row.get_by_test_id("conversation-open").focus()
    page.wait_for_function("(el) => getComputedStyle(el).opacity === '1'", arg=actions.element_handle())
    screenshot(page, "sidebar-groups")

    # A link to the oldest conversation (not on the first page): it is listed, in its group, in view,
    # marked current, and its title is in the header.
    page.goto(f"{app}/#c={oldest}")
    current = page.locator(f"[data-testid=conversation-item][data-id='{oldest}']")
    expect(current).to_have_attribute("aria-current", "page")
    expect(current).to_be_in_viewport()
    expect(page.get_by_test_id("conversation-title")).to_have_text("The very first conversation")
    assert group_titles(page)[-1][1][-1] == "The very first conversation"
    # Loading the rest of the list does not list it twice.
    page.get_by_test_id("load-more").click()
    expect(page.get_by_test_id("conversation-item")).to_have_count(60)
    expect(page.get_by_test_id("load-more")).to_be_hidden()
    expect(current).to_have_count(1)
    assert today and week and yesterday


def test_the_list_is_one_tab_stop_with_arrow_keys_and_skip_links_lead_to_it_and_the_composer(
    app: str, api: httpx.Client, page: Page
) -> None:
    ids = [create(api, f"Topic {n}") for n in ("one", "two", "three")]  # newest last: listed first
    open_chat(page, app)
    expect(page.get_by_test_id("conversation-item")).to_have_count(3)
    assert tab_stops_in_list(page) == 1

    # The skip links are the first Tab stops of the page, they show when focused, and they move the
    # focus, not just the scroll.
    assert page.evaluate(FIRST_TAB_STOPS_JS) == ["skip-to-list", "skip-to-composer"]
    page.get_by_test_id("skip-to-list").focus()
    expect(page.get_by_test_id("skip-to-list")).to_be_in_viewport()
    screenshot(page, "skip-links")
    page.keyboard.press("Enter")
    assert focused_row(page) == ids[2]
    page.keyboard.press("ArrowDown")
    assert focused_row(page) == ids[1]
    page.keyboard.press("End")
    assert focused_row(page) == ids[0]
    page.keyboard.press("Home")
    assert focused_row(page) == ids[2]
    page.keyboard.press("ArrowDown")
    assert tab_stops_in_list(page) == 1
    # Right reaches the row's buttons, Left comes back.
    page.keyboard.press("ArrowRight")
    assert focused_testid(page) == "rename-conversation" and focused_row(page) == ids[1]
    page.keyboard.press("ArrowRight")
    assert focused_testid(page) == "delete-conversation"
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert focused_testid(page) == "conversation-open" and focused_row(page) == ids[1]
    # Tab leaves the list in one press; Shift+Tab comes back to where the user was.
    page.keyboard.press("Tab")
    assert focused_row(page) is None
    page.keyboard.press("Shift+Tab")
    assert focused_row(page) == ids[1]
    # Enter opens it; F2 renames it without leaving the keyboard.
    page.keyboard.press("Enter")
    expect(page.locator(f"[data-testid=conversation-item][data-id='{ids[1]}']")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_test_id("conversation-title")).to_have_text("Topic two")
    page.locator(f"[data-testid=conversation-item][data-id='{ids[1]}'] .conv-open").focus()
    page.keyboard.press("F2")
    expect(page.get_by_test_id("rename-input")).to_be_focused()
    page.keyboard.type("Topic 2")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("conversation-title")).to_have_text("Topic 2")
    assert focused_row(page) == ids[1]
    assert api.get(f"/api/conversations/{ids[1]}").json()["title"] == "Topic 2"

    # The second skip link goes to the message box.
    page.get_by_test_id("skip-to-list").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_test_id("skip-to-composer")).to_be_focused()
    expect(page.get_by_test_id("skip-to-composer")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("composer")).to_be_focused()


@pytest.mark.parametrize("width", [1100, 900], ids=["desktop", "tablet"])
def test_the_sidebar_collapses_on_desktop_and_tablet_and_stays_collapsed(
    app: str, api: httpx.Client, new_context: Callable[..., Any], width: int
) -> None:
    create(api, "Something to list")
    page = new_context(viewport={"width": width, "height": 760}).new_page()
    open_chat(page, app)
    sidebar = page.locator("#sidebar")
    toggle = page.get_by_test_id("sidebar-toggle")
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("header-new-chat")).to_be_hidden()
    composer_width = (page.get_by_test_id("composer").bounding_box() or {})["width"]

    toggle.click()
    expect(sidebar).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    # With the sidebar away, New chat is in the header, and the chat has the room.
    expect(page.get_by_test_id("header-new-chat")).to_be_visible()
    assert (page.get_by_test_id("composer").bounding_box() or {})["width"] >= composer_width
    screenshot(page, f"sidebar-collapsed-{width}px")

    page.reload()
    expect(page.get_by_test_id("composer")).to_be_focused()
    expect(sidebar).to_be_hidden()
    expect(page.get_by_test_id("conversation-item")).to_have_count(1)  # the list has loaded (hidden)
    # The skip link brings it back.
    page.get_by_test_id("skip-to-list").focus()
    page.keyboard.press("Enter")
    expect(sidebar).to_be_visible()
    expect(page.get_by_test_id("conversation-open")).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "true")


def test_on_a_phone_new_chat_is_in_the_header_and_every_control_is_at_least_44_px(
    app: str, api: httpx.Client, new_context: Callable[..., Any]
) -> None:
    first = create(api, "A conversation on the phone")
    page = new_context(viewport={"width": 380, "height": 760}, is_mobile=True, has_touch=True).new_page()
    page.goto(f"{app}/#c={first}")
    expect(page.get_by_test_id("conversation-title")).to_have_text("A conversation on the phone")
    expect(page.get_by_test_id("header-new-chat")).to_be_visible()

    def small_controls() -> list[str]:
        small: list[str] = page.evaluate(
            """() => [...document.querySelectorAll('button, select, input, textarea, a[href]')]
                .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden'
                    && !el.closest('[inert], .skip-links'))
                .filter((el) => { const r = el.getBoundingClientRect(); return r.width < 44 || r.height < 44; })
                .map((el) => `${el.dataset.testid || el.className} ${el.getBoundingClientRect().height}px`)"""
        )
        return small

    assert small_controls() == []
    page.get_by_test_id("sidebar-toggle").tap()
    expect(page.get_by_test_id("conversation-item")).to_be_in_viewport()
    assert small_controls() == []
    screenshot(page, "sidebar-phone")
    page.keyboard.press("Escape")

    page.get_by_test_id("header-new-chat").tap()
    expect(page.get_by_test_id("conversation-title")).to_have_text("New chat")
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    expect(page.locator(MESSAGE)).to_have_count(0)
    assert "#c=" not in page.url
