"""A reasoning model through rillchat: reasoning events streamed, resumed, stored, replayed, kept out of
the plain-text protocol and out of the history sent upstream. Real servers on loopback, real databases."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from rillchat.config import UpstreamConfig
from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text
from tests.helpers import Received, read_events, sse_events, text_of, wait_until

SSE = {"accept": "text/event-stream"}


def upstreams(fake) -> list[UpstreamConfig]:
    common: dict[str, Any] = {"base_url": fake.base_url, "api_key": "sk-test", "max_retries": 0}
    return [
        UpstreamConfig(name="fakechat", kind="openai-chat", models=["fake-chat"], **common),
        # Responses only asks reasoning models for summaries: the fake's model is declared one.
        UpstreamConfig(
            name="fake", kind="openai-responses", models=["fake-responses"], reasoning_models=["fake-*"], **common
        ),
    ]


@pytest.fixture
def start(fake_openai, make_settings, start_server):
    def start(**overrides: Any) -> str:
        return start_server(make_settings(upstreams=upstreams(fake_openai), event_log_ttl_seconds=60, **overrides))

    return start


def reasoning_of(events: list[Received]) -> str:
    return "".join(e.data["text"] for e in events if e.event == "reasoning")


def body(model: str = "fake-chat", **extra: Any) -> dict[str, Any]:
    return {"userInput": "think hard", "model": model, "clientRequestId": str(uuid.uuid4()), **extra}


def new_conversation(client: httpx.Client, server: str) -> str:
    return client.post(f"{server}/api/conversations", json={}).json()["id"]


@pytest.mark.parametrize(
    ("model", "form"),
    [
        ("fake-chat", "reasoning_content"),
        ("fake-chat", "reasoning"),
        ("fake-chat", "both"),
        ("fake-chat", "think_tags"),
        ("fake-responses", "summary"),
        ("fake-responses", "reasoning_text"),
    ],
)
def test_reasoning_streams_as_its_own_events_before_the_answer(start, client, fake_openai, model, form):
    server = start()
    fake_openai.scenario = Scenario(tokens=5, reasoning=6, reasoning_form=form, summary_parts=2)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body(model))
    api = "responses" if model == "fake-responses" else "chat"
    assert reasoning_of(events) == expected_reasoning(fake_openai.scenario, api)
    assert text_of(events) == expected_text(fake_openai.scenario)
    names = [e.event for e in events]
    assert names[0] == "start" and names[-1] == "finish"
    assert set(names[1 : names.index("delta")]) == {"reasoning"}, "the thinking comes first, as it happened"
    finish = events[-1].data
    assert finish["usage"]["reasoningTokens"] == 6
    assert finish["reasoningSeconds"] >= 0
    assert [e.id for e in events] == list(range(1, len(events) + 1))


def test_the_plain_text_protocol_carries_only_the_answer(start, client, fake_openai):
    server = start()
    fake_openai.scenario = Scenario(tokens=5, reasoning=6)
    response = client.post(f"{server}/api/chat/stream", json=body())
    assert response.status_code == 200
    assert response.text == expected_text(fake_openai.scenario)
    whole = client.post(f"{server}/api/chat", json=body()).json()
    assert whole["text"] == expected_text(fake_openai.scenario)
    assert whole["reasoning"] == expected_reasoning(fake_openai.scenario, "chat")
    assert whole["usage"]["reasoningTokens"] == 6


def test_resume_in_the_middle_of_reasoning_from_every_event_id(start, client, fake_openai):
    server = start()
    fake_openai.scenario = Scenario(tokens=4, reasoning=8, pause_at_reasoning=5)
    with connect_sse(client, "POST", f"{server}/api/chat/stream", headers=SSE, json=body()) as source:
        seen = read_events(source.iter_sse(), 6)  # start and five thoughts, then the model pauses
    reply_id = seen[0].data["replyId"]
    wait_until(lambda: fake_openai.paused == 1, what="the model paused mid-thought")
    for after in range(len(seen) + 1):
        with connect_sse(
            client, "GET", f"{server}/api/streams/{reply_id}", headers={**SSE, "last-event-id": str(after)}
        ) as source:
            rest = read_events(source.iter_sse(), len(seen) - after) if after < len(seen) else []
        assert [(e.id, e.event, e.data) for e in rest] == [(e.id, e.event, e.data) for e in seen[after:]]
    fake_openai.release()
    full = sse_events(client, "GET", f"{server}/api/streams/{reply_id}")
    assert [(e.id, e.data) for e in full[: len(seen)]] == [(e.id, e.data) for e in seen]
    assert reasoning_of(full) == expected_reasoning(fake_openai.scenario, "chat")
    for after in range(len(full) + 1):
        rest = sse_events(client, "GET", f"{server}/api/streams/{reply_id}", headers={"last-event-id": str(after)})
        assert [(e.id, e.event, e.data) for e in rest] == [(e.id, e.event, e.data) for e in full[after:]]
    assert fake_openai.stats.requests_total == 1


def test_stored_reasoning_is_kept_apart_replayed_and_not_sent_back(start, client, fake_openai, database_url):
    server = start(database_url=database_url)
    conversation_id = new_conversation(client, server)
    fake_openai.scenario = Scenario(tokens=3, reasoning=5)
    first = sse_events(client, "POST", f"{server}/api/chat/stream", json=body(conversationId=conversation_id))
    reply_id = first[0].data["replyId"]
    stored = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    assistant = stored[1]
    assert assistant["content"] == expected_text(fake_openai.scenario)
    assert assistant["reasoning"] == expected_reasoning(fake_openai.scenario, "chat")
    assert assistant["reasoningSeconds"] == first[-1].data["reasoningSeconds"]
    assert assistant["usage"]["reasoningTokens"] == 5

    # The next turn's history holds the answer, never the thoughts.
    sse_events(client, "POST", f"{server}/api/chat/stream", json=body(conversationId=conversation_id))
    history = fake_openai.requests[-1].json["messages"]
    assert {"role": "assistant", "content": expected_text(fake_openai.scenario)} in history
    assert "think0" not in repr(history)

    # Another server on the same database replays the stored reply, its reasoning included.
    other = start(database_url=database_url)
    replayed = sse_events(client, "GET", f"{other}/api/streams/{reply_id}")
    assert [e.event for e in replayed] == ["start", "reasoning", "delta", "finish"]
    assert reasoning_of(replayed) == expected_reasoning(fake_openai.scenario, "chat")
    assert text_of(replayed) == expected_text(fake_openai.scenario)
    assert replayed[-1].data["reasoningSeconds"] == first[-1].data["reasoningSeconds"]


def test_a_reply_stopped_while_thinking_keeps_its_thoughts(start, client, fake_openai):
    server = start()
    conversation_id = new_conversation(client, server)
    fake_openai.scenario = Scenario(tokens=3, reasoning=6, pause_at_reasoning=4)
    with connect_sse(
        client, "POST", f"{server}/api/chat/stream", headers=SSE, json=body(conversationId=conversation_id)
    ) as source:
        stream = source.iter_sse()
        seen = read_events(stream, 5)
        wait_until(lambda: fake_openai.paused == 1, what="the model paused mid-thought")
        reply_id = seen[0].data["replyId"]
        assert client.post(f"{server}/api/streams/{reply_id}/stop").status_code in (200, 202, 204)
        rest = read_events(stream)
    assert rest[-1].event == "finish" and rest[-1].data["status"] == "stopped"
    message = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"][1]
    assert message["status"] == "stopped"
    assert message["reasoning"] == "think0 think1 think2 think3 "
    assert message["content"] == ""
    assert message["reasoningSeconds"] is not None


def test_export_and_import_keep_the_reasoning(start, client, fake_openai):
    server = start()
    conversation_id = new_conversation(client, server)
    fake_openai.scenario = Scenario(tokens=3, reasoning=4)
    sse_events(client, "POST", f"{server}/api/chat/stream", json=body(conversationId=conversation_id))
    exported = client.get(f"{server}/api/conversations/{conversation_id}/export", params={"format": "json"})
    assert exported.status_code == 200
    message = exported.json()["conversations"][0]["messages"][1]
    assert message["reasoning"] == "think0 think1 think2 think3 "
    assert message["reasoningSeconds"] is not None
    markdown = client.get(f"{server}/api/conversations/{conversation_id}/export", params={"format": "markdown"})
    assert "<details><summary>Thinking</summary>" in markdown.text and "think3" in markdown.text

    imported = client.post(
        f"{server}/api/conversations/import", content=exported.content, headers={"content-type": "application/json"}
    )
    assert imported.status_code in (200, 201), imported.text
    new_id = imported.json()["conversations"][0]["id"]
    again = client.get(f"{server}/api/conversations/{new_id}").json()["messages"][1]
    assert again["reasoning"] == message["reasoning"]
    assert again["reasoningSeconds"] == message["reasoningSeconds"]
    assert again["content"] == expected_text(fake_openai.scenario)
