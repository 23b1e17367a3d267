"""Replies outlive their connections: resume with Last-Event-ID, stop, grace period, idempotent retries,
several followers. Real rillchat, real HTTP, the fake upstream's counters as proof."""

from __future__ import annotations

import random
import threading
import time
import uuid

import httpx
import pytest
from httpx_sse import connect_sse

from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import Received, read_events, sse_events, text_of, wait_until

SSE = {"accept": "text/event-stream"}


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url, event_log_ttl_seconds=60)


def new_conversation(client: httpx.Client, server: str) -> str:
    response = client.post(f"{server}/api/conversations", json={})
    assert response.status_code == 201
    return response.json()["id"]


def chat_body(conversation_id: str | None = None, **extra):
    body = {"userInput": "tell me", "model": "fake-responses", "clientRequestId": str(uuid.uuid4())}
    if conversation_id:
        body["conversationId"] = conversation_id
    body.update(extra)
    return body


def read_some(client: httpx.Client, method: str, url: str, limit: int, **kwargs) -> list[Received]:
    """Read ``limit`` events, then drop the connection."""
    with connect_sse(client, method, url, headers={**SSE, **kwargs.pop("headers", {})}, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        return read_events(source.iter_sse(), limit)


def test_resume_after_drops_at_random_points_reconstructs_exactly_the_full_text(server, client, fake_openai):
    rng = random.Random(1234)
    fake_openai.scenario = Scenario(tokens=120, rate=600)
    conversation_id = new_conversation(client, server)
    for iteration in range(12):
        seen = read_some(
            client, "POST", f"{server}/api/chat/stream", rng.randint(1, 30), json=chat_body(conversation_id)
        )
        reply_id = seen[0].data["replyId"]
        while seen[-1].event != "finish":
            headers = {"last-event-id": str(seen[-1].id)}
            seen += read_some(client, "GET", f"{server}/api/streams/{reply_id}", rng.randint(1, 40), headers=headers)
        assert [e.id for e in seen] == list(range(1, len(seen) + 1)), f"iteration {iteration}: lost or doubled"
        assert text_of(seen) == expected_text(fake_openai.scenario)
        assert seen[-1].data["status"] == "completed"
    assert fake_openai.stats.requests_total == 12, "resuming never starts another generation"


def test_resume_after_the_end_replays_exactly_the_rest_and_the_query_parameter_works(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=10)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=chat_body())
    reply_id = events[0].data["replyId"]
    for after in range(len(events) + 1):
        rest = sse_events(client, "GET", f"{server}/api/streams/{reply_id}", headers={"last-event-id": str(after)})
        assert [e.id for e in rest] == [e.id for e in events[after:]]
        assert [e.data for e in rest] == [e.data for e in events[after:]]
    by_query = sse_events(client, "GET", f"{server}/api/streams/{reply_id}?lastEventId=5")
    assert [e.id for e in by_query] == [e.id for e in events[5:]]


def test_bad_last_event_ids_and_unknown_streams_get_clear_4xx(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=3)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=chat_body())
    reply_id = events[0].data["replyId"]
    for bad in ("abc", "-1", "1.5"):
        response = client.get(f"{server}/api/streams/{reply_id}", headers={**SSE, "last-event-id": bad})
        assert response.status_code == 400 and response.json()["error"]["field"] == "Last-Event-ID"
    beyond = client.get(f"{server}/api/streams/{reply_id}", headers={**SSE, "last-event-id": "999"})
    assert beyond.status_code == 400 and "beyond" in beyond.json()["error"]["message"]
    unknown = client.get(f"{server}/api/streams/rep_doesnotexist", headers=SSE)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    assert client.post(f"{server}/api/streams/rep_doesnotexist/stop").status_code == 404


def test_a_retry_with_the_same_client_request_id_attaches_and_never_generates_twice(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=40, rate=200)
    conversation_id = new_conversation(client, server)
    body = chat_body(conversation_id)
    first = read_some(client, "POST", f"{server}/api/chat/stream", 3, json=body)
    retry = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)  # while it still runs
    again = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)  # after it finished
    whole = client.post(f"{server}/api/chat", json=body).json()
    assert first[0].data["replyId"] == retry[0].data["replyId"] == again[0].data["replyId"] == whole["replyId"]
    assert text_of(retry) == text_of(again) == whole["text"] == expected_text(fake_openai.scenario)
    assert fake_openai.stats.requests_total == 1
    messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]


def test_two_followers_of_one_reply_see_the_same_events(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=60, rate=300)
    first = read_some(client, "POST", f"{server}/api/chat/stream", 2, json=chat_body())
    reply_id = first[0].data["replyId"]
    results: list[list[Received]] = [[], []]

    def follow(slot: int) -> None:
        with httpx.Client(timeout=30) as c:
            results[slot] = sse_events(c, "GET", f"{server}/api/streams/{reply_id}")

    threads = [threading.Thread(target=follow, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results[0] and [(e.id, e.event, e.data) for e in results[0]] == [(e.id, e.event, e.data) for e in results[1]]
    assert text_of(results[0]) == expected_text(fake_openai.scenario)


def test_stop_cancels_the_upstream_ends_every_follower_and_stores_the_partial_text(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    conversation_id = new_conversation(client, server)
    followers: list[list[Received]] = []
    with connect_sse(
        client, "POST", f"{server}/api/chat/stream", json=chat_body(conversation_id), headers=SSE
    ) as source:
        stream = source.iter_sse()
        events = read_events(stream, 5)
        reply_id = events[0].data["replyId"]
        other = threading.Thread(
            target=lambda: followers.append(
                sse_events(httpx.Client(timeout=30), "GET", f"{server}/api/streams/{reply_id}")
            )
        )
        other.start()
        response = client.post(f"{server}/api/streams/{reply_id}/stop")
        assert response.json() == {"replyId": reply_id, "status": "stopped"}
        events += read_events(stream)
        other.join(10)
    assert events[-1].event == "finish" and events[-1].data["status"] == "stopped"
    assert followers and followers[0][-1].data["status"] == "stopped"
    # The upstream would stream for 50 s more: its connection closed now is the stop reaching it.
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30)
    assistant = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert assistant["status"] == "stopped" and assistant["finishReason"] == "cancelled"
    assert assistant["content"] == text_of(events) and assistant["content"]
    assert assistant["usage"]["outputTokens"] == len([e for e in events if e.event == "delta"])
    # Stopping again is harmless and says how it ended.
    assert client.post(f"{server}/api/streams/{reply_id}/stop").json()["status"] == "stopped"


def test_the_first_event_and_the_placeholder_exist_before_the_first_token(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=3, first_token_delay=1.0)
    conversation_id = new_conversation(client, server)
    with connect_sse(
        client, "POST", f"{server}/api/chat/stream", json=chat_body(conversation_id), headers=SSE
    ) as source:
        stream = source.iter_sse()
        start = read_events(stream, 1)[0]
        messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
        assert [(m["role"], m["status"]) for m in messages] == [("user", "completed"), ("assistant", "streaming")]
        assert start.data["conversationId"] == conversation_id
        assert start.data["userMessageId"] == messages[0]["id"]
        assert start.data["assistantMessageId"] == messages[1]["id"]
        assert messages[1]["replyId"] == start.data["replyId"]
        read_events(stream)
    final = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert final["status"] == "completed" and final["content"] == expected_text(fake_openai.scenario)


def test_history_of_a_conversation_comes_from_storage(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = new_conversation(client, server)
    client.post(f"{server}/api/chat", json=chat_body(conversation_id, userInput="one")).raise_for_status()
    client.post(
        f"{server}/api/chat",
        json=chat_body(conversation_id, userInput="two", messages=[{"role": "user", "content": "ignored"}]),
    ).raise_for_status()
    sent = fake_openai.requests[-1].json["input"]
    assert sent == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": expected_text(fake_openai.scenario)},
        {"role": "user", "content": "two"},
    ]


def test_failed_replies_are_stored_with_their_error_and_partial_text(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=10, fail_after=4)
    conversation_id = new_conversation(client, server)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=chat_body(conversation_id))
    assert events[-1].data["status"] == "failed"
    assistant = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert assistant["status"] == "failed" and assistant["error"]["code"] == "server_error"
    assert assistant["content"] == expected_text(fake_openai.scenario)
    assert assistant["usage"] is not None


def test_the_final_write_happens_when_every_client_is_gone(server_with_fake, client, fake_openai):
    server = server_with_fake(stream_grace_seconds=60)
    fake_openai.scenario = Scenario(tokens=30, rate=100)
    conversation_id = new_conversation(client, server)
    read_some(client, "POST", f"{server}/api/chat/stream", 2, json=chat_body(conversation_id))

    def stored_status() -> str:
        return client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"][-1]["status"]

    wait_until(lambda: stored_status() == "completed", timeout=10, what="the reply completed with nobody attached")


class TestGracePeriod:
    @pytest.fixture
    def server(self, server_with_fake):
        return server_with_fake(stream_grace_seconds=0.5)

    def test_a_stateless_reply_nobody_comes_back_for_is_interrupted_and_the_upstream_closed(
        self, server, client, fake_openai
    ):
        fake_openai.scenario = Scenario(tokens=5_000, rate=100)
        seen = read_some(client, "POST", f"{server}/api/chat/stream", 3, json=chat_body())
        # That it waits for the grace period first is the next test's (a client coming back keeps it).
        fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30)
        rest = sse_events(client, "GET", f"{server}/api/streams/{seen[0].data['replyId']}")
        assert rest[-1].data["status"] == "interrupted" and text_of(rest), "the partial text is kept"

    def test_a_client_that_comes_back_within_the_grace_period_keeps_the_reply(
        self, server_with_fake, client, fake_openai
    ):
        # A grace period far longer than the absences: a slow machine cannot turn "back in time" into "late".
        server = server_with_fake(stream_grace_seconds=60)
        fake_openai.scenario = Scenario(tokens=200, rate=200)
        seen = read_some(client, "POST", f"{server}/api/chat/stream", 3, json=chat_body())
        reply_id = seen[0].data["replyId"]
        for _ in range(4):  # several short absences, each shorter than the grace period
            time.sleep(0.2)
            seen += read_some(
                client, "GET", f"{server}/api/streams/{reply_id}", 5, headers={"last-event-id": str(seen[-1].id)}
            )
        seen += sse_events(
            client, "GET", f"{server}/api/streams/{reply_id}", headers={"last-event-id": str(seen[-1].id)}
        )
        assert seen[-1].data["status"] == "completed"
        assert text_of(seen) == expected_text(fake_openai.scenario)
        assert fake_openai.stats.streams_disconnected == 0

    def test_a_stateless_plain_text_client_that_leaves_interrupts_at_once(self, server_with_fake, client, fake_openai):
        # With a 10-minute grace period, an upstream closed within the wait below was not waiting for it.
        server = server_with_fake(stream_grace_seconds=600)
        fake_openai.scenario = Scenario(tokens=50_000, rate=100)
        with client.stream("POST", f"{server}/api/chat/stream", json=chat_body()) as response:
            next(response.iter_raw())
        fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=60)


class TestExpiredLogs:
    @pytest.fixture
    def server(self, server_with_fake):
        return server_with_fake(event_log_ttl_seconds=0.2)

    def test_after_the_log_expires_the_stored_message_is_the_answer(self, server, client, fake_openai):
        fake_openai.scenario = Scenario(tokens=5)
        conversation_id = new_conversation(client, server)
        body = chat_body(conversation_id)
        events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)
        reply_id = events[0].data["replyId"]
        wait_until(
            lambda: (
                client.get(f"{server}/api/streams/{reply_id}", headers={**SSE, "last-event-id": "3"}).status_code == 410
            ),
            timeout=30,
            what="the event log expired",
        )
        replay = sse_events(client, "GET", f"{server}/api/streams/{reply_id}")
        assert text_of(replay) == text_of(events) and replay[-1].data["status"] == "completed"
        gone = client.get(f"{server}/api/streams/{reply_id}", headers={**SSE, "last-event-id": "3"})
        assert gone.status_code == 410 and gone.json()["error"]["code"] == "stream_expired"
        retried = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)
        assert text_of(retried) == text_of(events)
        assert fake_openai.stats.requests_total == 1
