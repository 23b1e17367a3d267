"""A conversation remembers its model, instructions and temperature; chat requests that omit them use them."""

from __future__ import annotations

import pytest

from tests.archive.corpus import conversation, export_file
from tests.fakes.openai_server import Scenario


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url, default_instructions="Server default.")


def _last_upstream_request(fake_openai) -> dict:
    return [r for r in fake_openai.requests if r.json is not None][-1].json


def _system_text(body: dict) -> str | None:
    if "instructions" in body:  # Responses API
        return body["instructions"]
    return next((m["content"] for m in body["messages"] if m["role"] == "system"), None)


def test_settings_are_stored_edited_and_cleared(server, client):
    created = client.post(
        f"{server}/api/conversations", json={"model": "fake-chat", "instructions": "Be terse.", "temperature": 0}
    ).json()
    assert (created["model"], created["instructions"], created["temperature"]) == ("fake-chat", "Be terse.", 0.0)
    url = f"{server}/api/conversations/{created['id']}"
    changed = client.patch(url, json={"temperature": 1.3}).json()
    assert (changed["model"], changed["instructions"], changed["temperature"]) == ("fake-chat", "Be terse.", 1.3)
    cleared = client.patch(url, json={"instructions": None, "model": None}).json()
    assert (cleared["model"], cleared["instructions"], cleared["temperature"]) == (None, None, 1.3)
    assert client.get(url).json()["temperature"] == 1.3
    assert client.get(f"{server}/api/conversations").json()["data"][0]["temperature"] == 1.3


def test_bad_settings_are_clear_4xx(server, client):
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    url = f"{server}/api/conversations/{conversation_id}"
    unknown = client.patch(url, json={"model": "no-such-model"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "unknown_model"
    hot = client.patch(url, json={"temperature": 2.5})
    assert hot.status_code == 422 and hot.json()["error"]["field"] == "temperature"
    assert client.patch(url, json={"title": None}).status_code == 422
    assert client.post(f"{server}/api/conversations", json={"model": "nope"}).status_code == 404


def test_a_chat_request_that_omits_settings_uses_the_conversations(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = client.post(
        f"{server}/api/conversations",
        json={"model": "fake-chat", "instructions": "Speak like a pirate.", "temperature": 0},
    ).json()["id"]
    reply = client.post(f"{server}/api/chat", json={"userInput": "hi", "conversationId": conversation_id}).json()
    assert reply["model"] == "fake-chat"
    sent = _last_upstream_request(fake_openai)
    assert _system_text(sent) == "Speak like a pirate." and sent["temperature"] == 0

    # What the request gives wins, for that request only.
    body = {"userInput": "again", "conversationId": conversation_id, "model": "fake-responses", "temperature": 0.5}
    assert client.post(f"{server}/api/chat", json=body).json()["model"] == "fake-responses"
    sent = _last_upstream_request(fake_openai)
    assert _system_text(sent) == "Speak like a pirate." and sent["temperature"] == 0.5
    assert client.get(f"{server}/api/conversations/{conversation_id}").json()["model"] == "fake-chat"


def test_a_conversation_without_settings_uses_the_servers_defaults(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    body = {"userInput": "hi", "conversationId": conversation_id, "model": "fake-chat"}
    client.post(f"{server}/api/chat", json=body).raise_for_status()
    assert _system_text(_last_upstream_request(fake_openai)) == "Server default."


def test_an_imported_model_this_server_lacks_falls_back_to_the_default(
    server_with_fake, database_url, client, fake_openai
):
    server = server_with_fake(database_url=database_url, default_model="fake-chat")
    fake_openai.scenario = Scenario(tokens=2)
    imported = client.post(
        f"{server}/api/conversations/import", json=export_file([conversation("Old", "q", "a", model="gpt-3.5-turbo")])
    ).json()
    conversation_id = imported["conversations"][0]["id"]
    assert client.get(f"{server}/api/conversations/{conversation_id}").json()["model"] == "gpt-3.5-turbo"
    reply = client.post(f"{server}/api/chat", json={"userInput": "more", "conversationId": conversation_id})
    assert reply.status_code == 200 and reply.json()["model"] == "fake-chat"
