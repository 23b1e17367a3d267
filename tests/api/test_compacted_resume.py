"""Over real HTTP: once a reply has finished (its log compacted), resuming it from every Last-Event-ID sends
exactly the bytes the live stream sent from there, and a plain-text retry gets exactly the live text."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.fakes.openai_server import Scenario

SSE = {"accept": "text/event-stream"}
TOKENS = ["Hello", " wörld", " 🌊", "", ' "quoted"\nline', "x" * 300, " 中文", "\u2028end"]


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url, event_log_ttl_seconds=60)


def raw(client: httpx.Client, method: str, url: str, **kwargs) -> tuple[int, bytes]:
    with client.stream(method, url, **kwargs) as response:
        return response.status_code, response.read()


def frames(body: bytes) -> list[bytes]:
    """SSE frames with their terminating blank line (orjson never writes a raw newline into data)."""
    return [frame + b"\n\n" for frame in body.split(b"\n\n")[:-1]]


@pytest.mark.parametrize(
    "scenario",
    [
        Scenario(tokens=len(TOKENS), token_text=TOKENS),
        Scenario(tokens=len(TOKENS), token_text=TOKENS, fail_after=4, failure="error"),
        Scenario(tokens=12, fail_after=6, failure="incomplete"),
    ],
    ids=["completed", "failed with an error event", "incomplete"],
)
def test_resume_from_every_last_event_id_of_a_finished_reply_sends_exactly_the_live_bytes(
    server, client, fake_openai, scenario
):
    fake_openai.scenario = scenario
    body = {"userInput": "tell me", "model": "fake-responses", "clientRequestId": str(uuid.uuid4())}
    status, live = raw(client, "POST", f"{server}/api/chat/stream", json=body, headers=SSE)
    assert status == 200
    sent = frames(live)
    assert sent[-1].startswith(b"id: %d\nevent: finish\n" % len(sent))
    reply_id = sent[0].split(b'"replyId":"', 1)[1].split(b'"', 1)[0].decode()
    for after in range(len(sent) + 1):
        status, again = raw(
            client, "GET", f"{server}/api/streams/{reply_id}", headers={**SSE, "last-event-id": str(after)}
        )
        assert status == 200
        assert again == b"".join(sent[after:]), f"after {after}"
    # A retry of the same request attaches to the finished reply: the same bytes again, from the start.
    status, retried = raw(client, "POST", f"{server}/api/chat/stream", json=body, headers=SSE)
    assert (status, retried) == (200, live)
    assert fake_openai.stats.requests_total == 1


def test_a_plain_text_retry_of_a_finished_reply_gets_exactly_the_live_text(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=len(TOKENS), token_text=TOKENS)
    body = {"userInput": "tell me", "model": "fake-responses", "clientRequestId": str(uuid.uuid4())}
    status, live = raw(client, "POST", f"{server}/api/chat/stream", json=body)
    assert status == 200
    assert live == "".join(TOKENS).encode()
    status, retried = raw(client, "POST", f"{server}/api/chat/stream", json=body)
    assert (status, retried) == (200, live)
    assert fake_openai.stats.requests_total == 1
