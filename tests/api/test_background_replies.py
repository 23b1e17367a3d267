"""Replies in a conversation run to their end whether or not anyone follows them; the conversation says
which reply runs in it; its partial text is checkpointed to storage while it runs, batched across replies."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest
from httpx_sse import connect_sse
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import read_events, sse_events, text_of, wait_until

SSE = {"accept": "text/event-stream"}


@pytest.fixture
def server(server_with_fake, database_url):
    # A short grace period: past it, a stateless reply with nobody left would have been interrupted.
    return server_with_fake(database_url=database_url, stream_grace_seconds=0.2, checkpoint_interval_seconds=0.2)


def _conversation(client: httpx.Client, server: str) -> str:
    return client.post(f"{server}/api/conversations", json={}).json()["id"]


def _body(conversation_id: str, **extra: object) -> dict[str, object]:
    return {"userInput": "go", "model": "fake-responses", "conversationId": conversation_id, **extra}


def _start_and_leave(client: httpx.Client, server: str, body: dict[str, object], sse: bool = True) -> str:
    """Start a reply, read its first bytes, drop the connection; return the reply id."""
    with client.stream("POST", f"{server}/api/chat/stream", json=body, headers=SSE if sse else {}) as response:
        assert response.status_code == 200, response.read()
        next(response.iter_raw())
        return response.headers["x-rillchat-reply-id"]


def _last_message(client: httpx.Client, server: str, conversation_id: str) -> dict[str, object]:
    messages: list[dict[str, object]] = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    return messages[-1]


@pytest.mark.parametrize("sse", [True, False], ids=["sse", "plain"])
def test_a_conversation_reply_nobody_follows_runs_to_its_end_past_the_grace_period(server, client, fake_openai, sse):
    fake_openai.scenario = Scenario(tokens=150, rate=150)  # about a second: five grace periods
    conversation_id = _conversation(client, server)
    _start_and_leave(client, server, _body(conversation_id), sse=sse)
    wait_until(
        lambda: _last_message(client, server, conversation_id)["status"] != "streaming",
        timeout=30,
        what="the reply ended",
    )
    last = _last_message(client, server, conversation_id)
    assert last["status"] == "completed" and last["content"] == expected_text(fake_openai.scenario)
    assert fake_openai.stats.streams_disconnected == 0


def test_a_conversation_lists_its_running_reply_and_moves_up_when_it_finishes(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=200)
    busy, idle = _conversation(client, server), _conversation(client, server)
    reply_id = _start_and_leave(client, server, _body(busy))
    listed = {c["id"]: c for c in client.get(f"{server}/api/conversations").json()["data"]}
    assert listed[busy]["runningReplyId"] == reply_id and listed[idle]["runningReplyId"] is None
    assert client.get(f"{server}/api/conversations/{busy}").json()["runningReplyId"] == reply_id
    client.patch(f"{server}/api/conversations/{idle}", json={"title": "renamed later"}).raise_for_status()
    assert client.get(f"{server}/api/conversations").json()["data"][0]["id"] == idle
    assert client.post(f"{server}/api/streams/{reply_id}/stop").json()["status"] == "stopped"
    page = client.get(f"{server}/api/conversations").json()["data"]
    assert page[0]["id"] == busy, "updatedAt moved when the reply finished"
    assert page[0]["runningReplyId"] is None


def test_a_running_reply_shows_its_checkpointed_text_and_can_be_followed(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    conversation_id = _conversation(client, server)
    reply_id = _start_and_leave(client, server, _body(conversation_id))
    wait_until(
        lambda: len(str(_last_message(client, server, conversation_id)["content"])) > 20,
        timeout=10,
        what="a checkpoint of the partial text",
    )
    last = _last_message(client, server, conversation_id)
    assert last["status"] == "streaming" and last["replyId"] == reply_id
    with (
        httpx.Client(timeout=10) as follower,
        connect_sse(follower, "GET", f"{server}/api/streams/{reply_id}", headers=SSE) as source,
    ):
        seen = read_events(source.iter_sse(), 60)
    live = text_of(seen)
    assert live.startswith(str(last["content"])), "the checkpoint is a prefix of the live text"
    client.post(f"{server}/api/streams/{reply_id}/stop").raise_for_status()


def test_checkpoints_are_one_batched_statement_for_all_running_replies(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    batches: list[int] = []
    lock = threading.Lock()

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE messages SET content=") and "status=" not in statement.split("WHERE")[0]:
            with lock:
                batches.append(len(parameters) if executemany else 1)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        conversations = [_conversation(client, server) for _ in range(3)]
        replies = [_start_and_leave(client, server, _body(c)) for c in conversations]
        wait_until(lambda: 3 in batches, timeout=10, what="a checkpoint covering the three replies at once")
        for reply_id in replies:
            client.post(f"{server}/api/streams/{reply_id}/stop").raise_for_status()
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    assert max(batches) == 3, "one row per reply, never more"
    for conversation_id in conversations:
        assert _last_message(client, server, conversation_id)["status"] == "stopped"


def test_stateless_replies_are_never_checkpointed(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=30, rate=100)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json={"userInput": "x", "model": "fake-chat"})
    assert events[-1].data["status"] == "completed"
    assert client.get(f"{server}/api/conversations").json()["data"] == []


def test_never_two_replies_at_once_in_one_conversation(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    conversation_id = _conversation(client, server)
    first = client.post(f"{server}/api/chat", json=_body(conversation_id, userInput="first", maxOutputTokens=2))
    assert first.status_code == 200
    messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    user_id, assistant_id = messages[0]["id"], messages[1]["id"]
    assert messages[1]["status"] == "incomplete"
    reply_id = _start_and_leave(client, server, _body(conversation_id, userInput="second"))
    attempts = {
        "new turn": _body(conversation_id, userInput="third"),
        "regenerate": _body(conversation_id, userInput="", regenerateMessageId=assistant_id),
        "edit": _body(conversation_id, userInput="first, edited", replaceFromMessageId=user_id),
        "continue": _body(conversation_id, userInput="", continueMessageId=assistant_id),
    }
    for what, body in attempts.items():
        for path in ("/api/chat/stream", "/api/chat"):
            refused = client.post(f"{server}{path}", json=body)
            assert refused.status_code == 409, (what, path, refused.text)
            assert refused.json()["error"]["code"] == "conversation_busy", what
    select = client.post(f"{server}/api/conversations/{conversation_id}/select", json={"messageId": user_id})
    assert select.status_code == 409 and select.json()["error"]["code"] == "conversation_busy"
    client.post(f"{server}/api/streams/{reply_id}/stop").raise_for_status()
    assert client.post(f"{server}/api/chat", json=_body(conversation_id, maxOutputTokens=2)).status_code == 200


def test_turns_sent_at_the_same_moment_start_exactly_one_reply(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    with httpx.Client(timeout=30) as client:
        conversation_id = _conversation(client, server)
    gate = threading.Barrier(8)
    statuses: list[int] = []

    def send(i: int) -> None:
        with httpx.Client(timeout=30) as own:
            gate.wait()
            body = _body(conversation_id, userInput=f"turn {i}", clientRequestId=str(uuid.uuid4()))
            with own.stream("POST", f"{server}/api/chat/stream", json=body, headers=SSE) as response:
                statuses.append(response.status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] + [409] * 7
    with httpx.Client(timeout=30) as client:
        conversation = client.get(f"{server}/api/conversations/{conversation_id}").json()
        assert [m["role"] for m in conversation["messages"]] == ["user", "assistant"]
        client.post(f"{server}/api/streams/{conversation['runningReplyId']}/stop").raise_for_status()
