"""A client that leaves takes its reply down with it: the upstream connection is closed within a second.

(SSE clients get a grace period to come back; with it set to 0 they behave like plain-text clients. The
grace period itself is tested with the resume tests.)
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes.openai_server import Scenario

MODELS = ["fake-responses", "fake-chat"]


@pytest.fixture
def server(server_with_fake):
    return server_with_fake(stream_grace_seconds=0)


def _disconnect_after(server: str, model: str, sse: bool, read_chunks: int) -> float:
    """Open a reply, read ``read_chunks`` body chunks, close the connection; return when it was closed."""
    headers = {"accept": "text/event-stream"} if sse else {}
    with (
        httpx.Client(timeout=30) as client,
        client.stream(
            "POST", f"{server}/api/chat/stream", json={"userInput": "go", "model": model}, headers=headers
        ) as response,
    ):
        assert response.status_code == 200, "headers go out before the first token"
        if read_chunks:
            for n, _ in enumerate(response.iter_raw(), start=1):
                if n >= read_chunks:
                    break
        closed_at = time.monotonic()
    return closed_at


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_disconnect_while_waiting_for_the_first_token_cancels_the_upstream(server, fake_openai, model, sse):
    fake_openai.scenario = Scenario(tokens=5, first_token_delay=30)
    closed_at = _disconnect_after(server, model, sse, read_chunks=0)
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5)
    record = fake_openai.requests[-1]
    assert record.deltas_sent == 0
    assert record.disconnected_at is not None and record.disconnected_at - closed_at < 1.0


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_disconnect_mid_reply_cancels_the_upstream_within_a_second(server, fake_openai, model, sse):
    fake_openai.scenario = Scenario(tokens=2_000, rate=50)
    closed_at = _disconnect_after(server, model, sse, read_chunks=4)
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5)
    record = fake_openai.requests[-1]
    assert record.disconnected_at is not None and record.disconnected_at - closed_at < 1.0
    assert not record.finished and 0 < record.deltas_sent < 2_000


def test_a_non_streaming_client_that_leaves_cancels_the_upstream(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=2_000, rate=50)
    with httpx.Client(timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{server}/api/chat", json={"userInput": "go", "model": "fake-responses"})
    closed_at = time.monotonic()
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5)
    assert fake_openai.requests[-1].disconnected_at - closed_at < 1.0
