"""The conversations API over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import sse_events, text_of


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url)


def test_create_list_get_rename_delete(server, client):
    created = client.post(f"{server}/api/conversations", json={"title": "Trip"}).json()
    assert created["title"] == "Trip"
    others = [client.post(f"{server}/api/conversations", json={}).json()["id"] for _ in range(3)]
    page = client.get(f"{server}/api/conversations", params={"limit": 2}).json()
    assert [c["id"] for c in page["data"]] == others[::-1][:2]
    rest = client.get(f"{server}/api/conversations", params={"limit": 10, "cursor": page["nextCursor"]}).json()
    assert [c["id"] for c in rest["data"]] == [others[0], created["id"]] and rest["nextCursor"] is None
    renamed = client.patch(f"{server}/api/conversations/{created['id']}", json={"title": "Holiday"}).json()
    assert renamed["title"] == "Holiday"
    assert client.get(f"{server}/api/conversations/{created['id']}").json()["messages"] == []
    assert client.delete(f"{server}/api/conversations/{created['id']}").status_code == 204
    gone = client.get(f"{server}/api/conversations/{created['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_bad_requests_are_clear_4xx(server, client):
    assert client.get(f"{server}/api/conversations", params={"cursor": "!!"}).status_code == 400
    assert client.get(f"{server}/api/conversations", params={"limit": 0}).status_code == 422
    assert client.patch(f"{server}/api/conversations/nope", json={"title": "x"}).status_code == 404
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    assert client.patch(f"{server}/api/conversations/{conversation_id}", json={"title": ""}).status_code == 422
    chat = client.post(f"{server}/api/chat", json={"userInput": "x", "conversationId": "conv_missing"})
    assert chat.status_code == 404


def test_the_title_comes_from_the_first_message_until_renamed(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    body = {"userInput": "How do rivers   form?\nTell me.", "model": "fake-chat", "conversationId": conversation_id}
    client.post(f"{server}/api/chat", json=body).raise_for_status()
    assert client.get(f"{server}/api/conversations/{conversation_id}").json()["title"] == "How do rivers form? Tell me."


def test_regenerate_and_edit_replace_the_last_turn(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=3)
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    base = {"model": "fake-responses", "conversationId": conversation_id}
    client.post(f"{server}/api/chat", json={**base, "userInput": "first"}).raise_for_status()
    client.post(f"{server}/api/chat", json={**base, "userInput": "second"}).raise_for_status()
    messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    last_user = messages[2]["id"]
    edited = {**base, "userInput": "second, edited", "replaceFromMessageId": last_user}
    reply = sse_events(client, "POST", f"{server}/api/chat/stream", json=edited)
    assert text_of(reply) == expected_text(fake_openai.scenario)
    messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    assert [m["content"] for m in messages[::2]] == ["first", "second, edited"]
    assert len(messages) == 4
    assert fake_openai.requests[-1].json["input"][-1]["content"] == "second, edited"
    assert len(fake_openai.requests[-1].json["input"]) == 3


def test_no_database_write_per_token(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=300)
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    writes: list[str] = []

    def count(conn, cursor, statement, *args):
        # Checkpoints (at most one a second, batched across replies) are measured in test_checkpoints.
        checkpoint = (
            statement.startswith("UPDATE messages SET content=") and "status" not in statement.split("WHERE")[0]
        )
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) and not checkpoint:
            writes.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        body = {"userInput": "go", "model": "fake-responses", "conversationId": conversation_id}
        events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert len([e for e in events if e.event == "delta"]) == 300
    assert len(writes) <= 5, writes


def test_deleting_a_conversation_stops_its_running_reply(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    body = {"userInput": "go", "model": "fake-responses", "conversationId": conversation_id}
    with client.stream("POST", f"{server}/api/chat/stream", json=body, headers={"accept": "text/event-stream"}) as r:
        next(r.iter_raw())
        assert client.delete(f"{server}/api/conversations/{conversation_id}").status_code == 204
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5)


def test_a_client_that_saw_finish_can_send_its_next_turn_at_once(server, client, fake_openai):
    """Regression: the outcome used to be stored after the finish event went out, so a fast client's next
    turn found the previous reply still 'streaming' and got a 409."""
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    for i in range(15):
        body = {"userInput": f"turn {i}", "model": "fake-responses", "conversationId": conversation_id}
        events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)
        assert events[-1].data["status"] == "completed"
    messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    assert len(messages) == 30 and all(m["status"] == "completed" for m in messages)
