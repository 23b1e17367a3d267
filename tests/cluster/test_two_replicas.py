"""Two rillchat processes sharing PostgreSQL and Redis: a reply can be resumed, stopped and retried through
either replica, and a replica that dies leaves its replies interrupted, found by the other."""

from __future__ import annotations

import json
import random
import signal
import threading
import uuid

import httpx
import pytest
from httpx_sse import connect_sse

from tests.conftest import POSTGRES_URL, REDIS_URL
from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import Received, read_events, sse_events, text_of, wait_until
from tests.processes import rillchat_process

pytestmark = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL),
    reason="set RILLCHAT_TEST_POSTGRES_URL and RILLCHAT_TEST_REDIS_URL (.ci/run does) to run the replica tests",
)

SSE = {"accept": "text/event-stream"}


@pytest.fixture
def env(fake_openai, postgres_url) -> dict[str, str]:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    upstreams = [
        {
            "name": "fake",
            "kind": "openai-responses",
            "base_url": fake_openai.base_url,
            "api_key": "x",
            "models": ["fake-responses"],
        }
    ]
    return {
        "RILLCHAT_UPSTREAMS": json.dumps(upstreams),
        "RILLCHAT_DATABASE_URL": postgres_url,
        "RILLCHAT_REDIS_URL": REDIS_URL,
        "RILLCHAT_LOCAL_MODEL_ENABLED": "false",
        "RILLCHAT_DEFAULT_MODEL": "fake-responses",
        "RILLCHAT_STREAM_GRACE_SECONDS": "1",
    }


@pytest.fixture
def replicas(env):
    with rillchat_process(env) as (a, _), rillchat_process(env) as (b, _):
        yield a, b


def body(conversation_id: str | None = None, **extra) -> dict:
    value = {"userInput": "go", "clientRequestId": str(uuid.uuid4()), **extra}
    if conversation_id:
        value["conversationId"] = conversation_id
    return value


def read_some(client, method, url, limit, **kwargs) -> list[Received]:
    with connect_sse(client, method, url, headers={**SSE, **kwargs.pop("headers", {})}, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        return read_events(source.iter_sse(), limit)


def test_a_reply_started_on_a_resumes_on_b_with_exact_text(replicas, client, fake_openai):
    a, b = replicas
    rng = random.Random(7)
    fake_openai.scenario = Scenario(tokens=80, rate=200)
    conversation_id = client.post(f"{a}/api/conversations", json={}).json()["id"]
    for _ in range(3):
        seen = read_some(client, "POST", f"{a}/api/chat/stream", rng.randint(2, 15), json=body(conversation_id))
        reply_id = seen[0].data["replyId"]
        hop = 0
        while seen[-1].event != "finish":
            replica = (b, a)[hop % 2]
            hop += 1
            headers = {"last-event-id": str(seen[-1].id)}
            seen += read_some(client, "GET", f"{replica}/api/streams/{reply_id}", rng.randint(3, 30), headers=headers)
        assert [e.id for e in seen] == list(range(1, len(seen) + 1))
        assert text_of(seen) == expected_text(fake_openai.scenario)
    # Conversations written through A are read through B.
    messages = client.get(f"{b}/api/conversations/{conversation_id}").json()["messages"]
    assert [m["status"] for m in messages] == ["completed", "completed"] * 3
    assert fake_openai.stats.requests_total == 3


def test_a_stop_sent_to_b_stops_the_generation_on_a(replicas, client, fake_openai):
    a, b = replicas
    fake_openai.scenario = Scenario(tokens=5_000, rate=100)
    conversation_id = client.post(f"{a}/api/conversations", json={}).json()["id"]
    with connect_sse(client, "POST", f"{a}/api/chat/stream", json=body(conversation_id), headers=SSE) as source:
        stream = source.iter_sse()
        events = read_events(stream, 4)
        reply_id = events[0].data["replyId"]
        stopped = client.post(f"{b}/api/streams/{reply_id}/stop")
        assert stopped.status_code == 200 and stopped.json()["status"] == "stopped"
        events += read_events(stream)
    assert events[-1].data["status"] == "stopped"
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5)
    stored = client.get(f"{b}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert stored["status"] == "stopped" and stored["content"] == text_of(events)


def test_a_replica_killed_mid_reply_leaves_it_interrupted_as_found_by_the_other(env, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=10_000, rate=100)
    with rillchat_process(env) as (b, _):
        with rillchat_process(env) as (a, process_a):
            conversation_id = client.post(f"{a}/api/conversations", json={}).json()["id"]
            seen = read_some(client, "POST", f"{a}/api/chat/stream", 6, json=body(conversation_id))
            reply_id = seen[0].data["replyId"]
            process_a.send_signal(signal.SIGKILL)
            process_a.wait(10)

        def stored() -> dict:
            return client.get(f"{b}/api/conversations/{conversation_id}").json()["messages"][-1]

        wait_until(lambda: stored()["status"] == "interrupted", timeout=20, what="B marks A's reply interrupted")
        assert stored()["content"].startswith(text_of(seen))
        rest = sse_events(client, "GET", f"{b}/api/streams/{reply_id}", headers={"last-event-id": str(seen[-1].id)})
        assert rest[-1].event == "finish" and rest[-1].data["status"] == "interrupted"


@pytest.mark.parametrize("in_conversation", [False, True])
def test_the_same_client_request_id_sent_to_both_replicas_yields_one_generation(
    replicas, client, fake_openai, in_conversation
):
    a, b = replicas
    fake_openai.scenario = Scenario(tokens=30, rate=100)
    conversation_id = client.post(f"{a}/api/conversations", json={}).json()["id"] if in_conversation else None
    shared = body(conversation_id)
    results: dict[str, list[Received]] = {}

    def send(name: str, base: str) -> None:
        with httpx.Client(timeout=30) as c:
            results[name] = sse_events(c, "POST", f"{base}/api/chat/stream", json=shared)

    threads = [threading.Thread(target=send, args=(n, u)) for n, u in (("a", a), ("b", b), ("a2", a), ("b2", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    reply_ids = {events[0].data["replyId"] for events in results.values()}
    assert len(reply_ids) == 1
    assert {text_of(events) for events in results.values()} == {expected_text(fake_openai.scenario)}
    assert fake_openai.stats.requests_total == 1
    if conversation_id:
        assert len(client.get(f"{b}/api/conversations/{conversation_id}").json()["messages"]) == 2


def test_a_follower_on_b_keeps_a_reply_on_a_alive_past_the_grace_period(replicas, client, fake_openai):
    a, b = replicas
    fake_openai.scenario = Scenario(tokens=300, rate=100)  # 3 s, the grace period is 1 s
    seen = read_some(client, "POST", f"{a}/api/chat/stream", 3, json=body())
    rest = sse_events(client, "GET", f"{b}/api/streams/{seen[0].data['replyId']}", headers={"last-event-id": "3"})
    assert rest[-1].data["status"] == "completed"
    assert text_of(seen + rest) == expected_text(fake_openai.scenario)
    assert fake_openai.stats.streams_disconnected == 0


def test_reasoning_started_on_a_resumes_on_b_mid_thought_from_every_event_id(replicas, client, fake_openai):
    a, b = replicas
    fake_openai.scenario = Scenario(tokens=5, reasoning=8, reasoning_form="reasoning_text", pause_at_reasoning=4)
    conversation_id = client.post(f"{a}/api/conversations", json={}).json()["id"]
    seen = read_some(client, "POST", f"{a}/api/chat/stream", 5, json=body(conversation_id))  # start + 4 thoughts
    reply_id = seen[0].data["replyId"]
    wait_until(lambda: fake_openai.paused == 1, what="the model paused mid-thought")
    for after in range(len(seen)):
        rest = read_some(
            client, "GET", f"{b}/api/streams/{reply_id}", len(seen) - after, headers={"last-event-id": str(after)}
        )
        assert [(e.id, e.event, e.data) for e in rest] == [(e.id, e.event, e.data) for e in seen[after:]]
    fake_openai.release()
    full = sse_events(client, "GET", f"{b}/api/streams/{reply_id}")
    assert "".join(e.data["text"] for e in full if e.event == "reasoning") == "".join(f"think{i} " for i in range(8))
    assert text_of(full) == expected_text(fake_openai.scenario)
    stored = client.get(f"{b}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert stored["reasoning"] == "".join(f"think{i} " for i in range(8))
    assert stored["reasoningSeconds"] == full[-1].data["reasoningSeconds"]
