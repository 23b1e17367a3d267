"""With API keys on, the page asks for a key once, keeps it for the browser session only (sessionStorage,
never localStorage), and streams with it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from rillchat.api.edge import hash_api_key
from tests.e2e.ui import assistant, rendered_text, send, skip_reason, wait_finished
from tests.fakes.openai_server import Scenario, expected_text

pytestmark = pytest.mark.browser
if reason := skip_reason():
    pytest.skip(reason, allow_module_level=True)


def test_the_page_asks_for_the_key_once_and_keeps_it_for_the_session(server_with_fake, fake_openai, page):
    base = server_with_fake(default_model="fake-responses", api_keys={"me": hash_api_key("secret-key")})
    fake_openai.scenario = Scenario(tokens=5)
    page.goto(base)
    key_input = page.get_by_test_id("api-key")
    expect(key_input).to_be_visible()
    key_input.fill("secret-key")
    page.get_by_test_id("api-key-save").click()
    expect(page.get_by_test_id("model-select")).to_have_value("fake-responses")
    send(page, "hello")
    wait_finished(assistant(page))
    assert rendered_text(assistant(page)) == expected_text(fake_openai.scenario).strip()
    assert page.evaluate("sessionStorage.getItem('rillchat.apiKey')") == "secret-key"
    assert "secret-key" not in page.evaluate("JSON.stringify(Object.assign({}, localStorage))")
    page.reload()
    expect(page.get_by_test_id("model-select")).to_have_value("fake-responses")  # no second prompt
    expect(page.locator("[data-role=assistant]")).to_have_count(1)
