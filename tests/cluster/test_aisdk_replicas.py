"""useChat's resume across replicas: a reload that lands on another replica than the one generating the reply.
Two rillchat apps (in-process, each on its own loop and port) sharing PostgreSQL and Redis."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from httpx_sse import connect_sse

from tests.conftest import POSTGRES_URL, REDIS_URL, fake_upstreams
from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import data_events, wait_until

pytestmark = pytest.mark.skipif(
    not (POSTGRES_URL and REDIS_URL),
    reason="set RILLCHAT_TEST_POSTGRES_URL and RILLCHAT_TEST_REDIS_URL (.ci/run does) to run the replica tests",
)


@pytest.fixture
def replicas(fake_openai, postgres_url, make_settings, start_server):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = make_settings(
        database_url=postgres_url,
        redis_url=REDIS_URL,
        upstreams=fake_upstreams(fake_openai),
        default_model="fake-responses",
        stream_grace_seconds=1.0,
    )
    return start_server(settings), start_server(settings)


def test_an_ai_sdk_chat_started_on_one_replica_resumes_from_its_start_on_the_other(replicas, fake_openai):
    a, b = replicas
    # Held after two thoughts until release(): the resume on B surely comes while A generates.
    fake_openai.scenario = Scenario(tokens=30, reasoning=4, pause_at_reasoning=2)
    chat_id = uuid.uuid4().hex[:16]
    message = {"id": "u1", "role": "user", "parts": [{"type": "text", "text": "go"}]}
    request = {"id": chat_id, "messages": [message], "resumable": True, "model": "fake-chat"}
    with httpx.Client(timeout=30) as client:
        with connect_sse(client, "POST", f"{a}/api/ai-sdk/chat", json=request) as source:
            seen = [json.loads(s.data) for _, s in zip(range(5), data_events(source.iter_sse()), strict=False)]
        wait_until(lambda: fake_openai.paused == 1, what="the reply is held")
        with connect_sse(client, "GET", f"{b}/api/ai-sdk/chat/{chat_id}/stream") as source:
            assert source.response.status_code == 200
            events = data_events(source.iter_sse())
            resumed = [s.data for _, s in zip(range(len(seen)), events, strict=False)]
            fake_openai.release()
            resumed += [s.data for s in events]
        assert client.get(f"{b}/api/ai-sdk/chat/{chat_id}/stream").status_code == 204
        stored = client.get(f"{b}/api/ai-sdk/chat/{chat_id}/messages").json()["messages"]
    chunks = [json.loads(data) for data in resumed[:-1]]
    assert resumed[-1] == "[DONE]"
    assert chunks[: len(seen)] == seen, "replayed from the start chunk"
    text = "".join(c["delta"] for c in chunks if c["type"] == "text-delta")
    assert text == expected_text(fake_openai.scenario)
    assert chunks[-1]["messageMetadata"]["status"] == "completed"
    reasoning = "".join(c["delta"] for c in chunks if c["type"] == "reasoning-delta")
    assert stored[-1]["parts"] == [{"type": "reasoning", "text": reasoning}, {"type": "text", "text": text}]
    assert fake_openai.stats.requests_total == 1
