"""A client that leaves takes its reply down with it: the upstream connection is closed within a second.

(SSE clients get a grace period to come back; with it set to 0 they behave like plain-text clients. The
grace period itself is tested with the resume tests.)
"""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.openai_server import Scenario

MODELS = ["fake-responses", "fake-chat"]


@pytest.fixture
def server(server_with_fake):
    return server_with_fake(stream_grace_seconds=0)


def _disconnect_after(server: str, model: str, sse: bool, read_chunks: int) -> None:
    """Open a reply, read ``read_chunks`` body chunks, close the connection."""
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


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_disconnect_while_waiting_for_the_first_token_cancels_the_upstream(server, fake_openai, model, sse):
    # The first token would come after 300 s: only a cancelled upstream stream disconnects before it.
    fake_openai.scenario = Scenario(tokens=5, first_token_delay=300)
    _disconnect_after(server, model, sse, read_chunks=0)
    # 30 s: generous, yet below the server's own 60 s upstream and stall timeouts, which would also cut it.
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30)
    record = fake_openai.requests[-1]
    assert record.deltas_sent == 0 and not record.finished
    assert record.disconnected_at is not None


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_disconnect_mid_reply_cancels_the_upstream(server, fake_openai, model, sse):
    # 2000 tokens at 50/s run 40 s: the generous wait below ends before that, so the upstream was cut.
    fake_openai.scenario = Scenario(tokens=2_000, rate=50)
    _disconnect_after(server, model, sse, read_chunks=4)
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30)
    record = fake_openai.requests[-1]
    assert record.disconnected_at is not None
    assert not record.finished and 0 < record.deltas_sent < 2_000


def test_a_non_streaming_client_that_leaves_cancels_the_upstream(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=2_000, rate=50)
    with httpx.Client(timeout=0.5) as client, pytest.raises(httpx.ReadTimeout):
        client.post(f"{server}/api/chat", json={"userInput": "go", "model": "fake-responses"})
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30)
    record = fake_openai.requests[-1]
    assert record.disconnected_at is not None and not record.finished and record.deltas_sent < 2_000
