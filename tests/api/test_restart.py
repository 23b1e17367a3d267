"""A real ``rillchat serve`` process killed mid-reply: after the restart, no reply is left 'streaming'."""

from __future__ import annotations

import json
import signal

import httpx
import pytest
from httpx_sse import connect_sse

from tests.fakes.openai_server import Scenario
from tests.helpers import read_events, sse_events, text_of, wait_until
from tests.processes import rillchat_process


@pytest.fixture
def env(fake_openai, database_url) -> dict[str, str]:
    upstreams = [
        {
            "name": "fake",
            "kind": "openai-responses",
            "base_url": fake_openai.base_url,
            "api_key": "x",
            "models": ["fake-responses"],
        }
    ]
    return {"RILLCHAT_UPSTREAMS": json.dumps(upstreams), "RILLCHAT_DATABASE_URL": database_url}


def _start_reply(client: httpx.Client, base: str) -> tuple[str, str]:
    conversation_id = client.post(f"{base}/api/conversations", json={}).json()["id"]
    body = {"userInput": "long", "model": "fake-responses", "conversationId": conversation_id}
    with connect_sse(
        client, "POST", f"{base}/api/chat/stream", json=body, headers={"accept": "text/event-stream"}
    ) as s:
        events = read_events(s.iter_sse(), 4)
    return conversation_id, events[0].data["replyId"]


def test_a_reply_cut_by_a_crash_is_interrupted_after_the_restart(env, fake_openai):
    fake_openai.scenario = Scenario(tokens=10_000, rate=100)
    with httpx.Client(timeout=10) as client:
        with rillchat_process(env) as (base, process):
            conversation_id, _ = _start_reply(client, base)
            assert (
                client.get(f"{base}/api/conversations/{conversation_id}").json()["messages"][-1]["status"]
                == "streaming"
            )
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        with rillchat_process(env) as (base, _):
            last = client.get(f"{base}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert last["status"] == "interrupted"


def test_after_kill_9_the_checkpointed_text_survives_with_a_reason_and_continue_finishes_it(env, fake_openai):
    fake_openai.scenario = Scenario(tokens=10_000, rate=100)
    with httpx.Client(timeout=10) as client:
        with rillchat_process(env) as (base, process):
            conversation_id, _ = _start_reply(client, base)

            def last() -> dict:
                return client.get(f"{base}/api/conversations/{conversation_id}").json()["messages"][-1]

            wait_until(lambda: len(last()["content"]) > 50, timeout=30, what="a checkpoint of the partial text")
            seen = last()
            assert seen["status"] == "streaming"
            process.send_signal(signal.SIGKILL)
            process.wait(10)
        with rillchat_process(env) as (base, _):
            after = client.get(f"{base}/api/conversations/{conversation_id}").json()
            message = after["messages"][-1]
            assert message["status"] == "interrupted" and message["finishReason"] == "cancelled"
            assert message["error"]["code"] == "server_restarted" and message["error"]["message"]
            # At least what had been seen checkpointed before the kill: never less text than was shown.
            assert message["content"].startswith(seen["content"])
            assert after["runningReplyId"] is None

            fake_openai.scenario = Scenario(tokens=5, token_text=["end "])
            body = {"model": "fake-responses", "conversationId": conversation_id, "continueMessageId": message["id"]}
            events = sse_events(client, "POST", f"{base}/api/chat/stream", json=body)
            assert events[0].data["prefix"] == message["content"]
            assert fake_openai.requests[-1].json["input"][-1] == {"role": "assistant", "content": message["content"]}
            done = client.get(f"{base}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert done["id"] == message["id"] and done["status"] == "completed" and done["error"] is None
    assert done["content"] == message["content"] + text_of(events) == message["content"] + "end " * 5


def test_sigterm_lets_running_replies_finish_up_to_the_deadline_then_interrupts_the_rest(env, fake_openai):
    fake_openai.scenario = Scenario(tokens=10_000, rate=100)
    env = {**env, "RILLCHAT_SHUTDOWN_GRACE_SECONDS": "0.5"}
    with httpx.Client(timeout=10) as client:
        with rillchat_process(env) as (base, process):
            conversation_id, _ = _start_reply(client, base)
            process.send_signal(signal.SIGTERM)
            # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM is its clean exit.
            assert process.wait(15) in (0, -signal.SIGTERM)
        fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5)
        with rillchat_process(env) as (base, _):
            last = client.get(f"{base}/api/conversations/{conversation_id}").json()["messages"][-1]
    assert last["status"] == "interrupted"
    assert last["content"], "the text received before shutdown is kept"
