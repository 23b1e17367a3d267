"""rillchat.client against a real rillchat on loopback (the fake upstream behind it): typed events, exact
text, resume across connections a proxy cuts at random points, retries that never generate twice, typed
errors. Async and sync clients are the same code paths twice, so most tests run both."""

from __future__ import annotations

import random
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from rillchat.client import (
    AsyncClient,
    Client,
    ConnectionLostError,
    Delta,
    ErrorEvent,
    Event,
    Finish,
    FinishReason,
    NotFoundError,
    Queued,
    RateLimitedError,
    ReplyFailedError,
    ReplyStatus,
    RillchatConnectionError,
    Start,
    UpstreamError,
    UpstreamRateLimitedError,
    ValidationError,
)
from tests.fakes.openai_server import Scenario, expected_text
from tests.netproxy import BreakingProxy
from tests.servers import serve_in_thread


@pytest.fixture
def server(server_with_fake):
    return server_with_fake(event_log_ttl_seconds=60)


def assert_whole_reply(numbered: list[tuple[int, Event]], text: str) -> None:
    """Every event once, in order: ids 1..n, start first, finish last, the deltas spelling ``text``."""
    assert [seq for seq, _ in numbered] == list(range(1, len(numbered) + 1)), "an event was lost or doubled"
    events = [e for _, e in numbered]
    assert type(events[0]) is Start and type(events[-1]) is Finish
    assert sum(type(e) is Finish for e in events) == 1
    assert "".join(e.text for e in events if type(e) is Delta) == text


# ---- streaming


def test_sync_stream_yields_typed_events_and_the_exact_text(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=30, split_utf8=True)
    with Client(server) as client, client.stream("hello", model="fake-responses", temperature=0) as reply:
        assert reply.reply_id is not None  # from the response headers, before any event
        numbered = list(reply.numbered())
    assert_whole_reply(numbered, expected_text(fake_openai.scenario))
    start = numbered[0][1]
    assert isinstance(start, Start) and start.reply_id == reply.reply_id and start.model == "fake-responses"
    assert reply.finish == numbered[-1][1]
    assert reply.status is ReplyStatus.COMPLETED and reply.finish.reason is FinishReason.STOP
    assert reply.usage is not None and reply.usage.output_tokens == 30
    assert reply.text_so_far == expected_text(fake_openai.scenario)
    assert reply.last_event_id == len(numbered) and reply.resumes == 0
    body = fake_openai.requests[0].json
    assert body["model"] == "fake-responses" and body["temperature"] == 0


async def test_async_stream_text_and_events(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=25)
    async with AsyncClient(server) as client:
        async with client.stream("hello", model="fake-chat", instructions="Be brief.") as reply:
            pieces = [text async for text in reply.text()]
        assert "".join(pieces) == expected_text(fake_openai.scenario) == reply.text_so_far
        assert len(pieces) == 25 and reply.status is ReplyStatus.COMPLETED
        async with client.stream("again", model="fake-chat") as reply:
            numbered = [item async for item in reply.numbered()]
        assert_whole_reply(numbered, expected_text(fake_openai.scenario))
    assert fake_openai.requests[0].json["messages"][0] == {"role": "system", "content": "Be brief."}


def test_breaking_out_and_iterating_again_goes_on_where_it_left_off(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=20)
    with Client(server) as client, client.stream("hi", model="fake-responses") as reply:
        first: list[Event] = []
        for event in reply:
            first.append(event)
            if len(first) == 5:
                break
        rest = list(reply)
    assert "".join(e.text for e in first + rest if type(e) is Delta) == expected_text(fake_openai.scenario)


async def test_chat_models_and_conversations(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=8)
    async with AsyncClient(server) as client:
        models = await client.models()
        assert {"fake-responses", "fake-chat"} <= {m.id for m in models}
        assert sum(m.default for m in models) == 1
        conversation = await client.conversations.create("Rivers")
        result = await client.chat("hi", model="fake-chat", conversation_id=conversation.id)
        assert result.text == expected_text(fake_openai.scenario)
        assert result.status is ReplyStatus.COMPLETED and result.model == "fake-chat"
        assert result.conversation_id == conversation.id and result.reply_id.startswith("rep")
        assert result.usage is not None and result.usage.output_tokens == 8
        stored = await client.conversations.get(conversation.id)
        assert stored.messages is not None
        assert [(m.role, m.content) for m in stored.messages] == [("user", "hi"), ("assistant", result.text)]
        assert stored.messages[1].reply_id == result.reply_id
        renamed = await client.conversations.rename(conversation.id, "Streams")
        assert renamed.title == "Streams"
        page = await client.conversations.list(limit=10)
        assert [c.id for c in page] == [conversation.id] and page.next_cursor is None
        await client.conversations.delete(conversation.id)
        with pytest.raises(NotFoundError):
            await client.conversations.get(conversation.id)


def test_sync_chat_and_conversations(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=6)
    with Client(server) as client:
        conversation = client.conversations.create()
        first = client.chat("one", model="fake-responses", conversation_id=conversation.id)
        second = client.chat("two", model="fake-responses", conversation_id=conversation.id)
        assert first.text == second.text == expected_text(fake_openai.scenario)
        messages = client.conversations.get(conversation.id).messages
        assert messages is not None and [m.content for m in messages][::2] == ["one", "two"]
        assert len(client.conversations.list()) == 1
    # The second turn carried the first as history, from storage.
    assert [m["role"] for m in fake_openai.requests[1].json["input"]] == ["user", "assistant", "user"]


# ---- resume across dropped connections


def random_cuts(seed: int, low: int, high: int, first_free: bool = False):
    rng = random.Random(seed)

    def cut_after(index: int) -> int | None:
        if first_free and index == 0:
            return None
        return rng.randint(low, high)

    return cut_after


@pytest.mark.parametrize("reset", [False, True], ids=["fin", "rst"])
def test_sync_resume_across_random_drops_yields_every_event_exactly_once(server, fake_openai, reset):
    fake_openai.scenario = Scenario(tokens=150, rate=2000)
    text = expected_text(fake_openai.scenario)
    # The SSE response headers are ~200 bytes and each delta ~50: cuts anywhere from inside the headers of
    # a resume to a few dozen events in, several per reply.
    with BreakingProxy(server, random_cuts(7, 150, 1500), reset=reset) as proxy:
        with Client(proxy.url, max_resume_attempts=8) as client:
            for _ in range(4):
                with client.stream("tell me", model="fake-responses") as reply:
                    numbered = list(reply.numbered())
                assert_whole_reply(numbered, text)
                assert reply.status is ReplyStatus.COMPLETED
                assert reply.resumes >= 2
        assert proxy.cuts >= 8
    assert fake_openai.stats.requests_total == 4, "resuming never starts another generation"


async def test_async_resume_across_random_drops_yields_every_event_exactly_once(server, fake_openai):
    # split_utf8: rillchat's frames leave in two writes, so cuts also land inside multi-byte characters.
    fake_openai.scenario = Scenario(tokens=100, rate=2000, split_utf8=True)
    text = expected_text(fake_openai.scenario)
    with BreakingProxy(server, random_cuts(11, 150, 1500)) as proxy:
        async with AsyncClient(proxy.url, max_resume_attempts=8) as client:
            for _ in range(3):
                async with client.stream("tell me", model="fake-chat") as reply:
                    numbered = [item async for item in reply.numbered()]
                assert_whole_reply(numbered, text)
                assert reply.resumes >= 2
    assert fake_openai.stats.requests_total == 3


@pytest.mark.parametrize("cut", [0, 40])
def test_a_drop_before_start_retries_the_post_and_attaches_to_the_same_reply(server, fake_openai, cut):
    """Cut the first connection as rillchat starts answering (0: nothing forwarded; 40: inside the headers).
    The retried POST carries the same clientRequestId, so it attaches instead of generating again."""
    fake_openai.scenario = Scenario(tokens=40, rate=400)
    with (
        BreakingProxy(server, lambda index: cut if index == 0 else None) as proxy,
        Client(proxy.url) as client,
        client.stream("hello", model="fake-responses") as reply,
    ):
        numbered = list(reply.numbered())
    assert proxy.cuts == 1 and reply.resumes == 1
    assert_whole_reply(numbered, expected_text(fake_openai.scenario))
    assert fake_openai.stats.requests_total == 1


async def test_a_retry_with_the_same_client_request_id_never_generates_twice(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=30, rate=300)
    async with AsyncClient(server) as client:
        async with client.stream("hi", model="fake-chat", client_request_id="retry-me") as first:
            async for event in first:
                if type(event) is Delta:
                    break  # the caller gives up early, then retries the whole call
        again = await client.chat("hi", model="fake-chat", client_request_id="retry-me")
    assert again.reply_id == first.reply_id
    assert again.text == expected_text(fake_openai.scenario)
    assert fake_openai.stats.requests_total == 1


def test_resume_gives_up_with_connection_lost_after_max_attempts(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=200, rate=100)
    # The first connection carries the headers (security headers included: ~1 KB) and a few events;
    # every later one dies at once.
    with (
        BreakingProxy(server, lambda index: 2500 if index == 0 else 0) as proxy,
        Client(proxy.url, max_resume_attempts=3) as client,
        client.stream("hello", model="fake-responses") as reply,
    ):
        seen: list[Event] = []
        with pytest.raises(ConnectionLostError) as caught:
            for event in reply:
                seen.append(event)
        assert proxy.connections == 4  # the POST, then 3 attempts to resume
    assert caught.value.reply_id == reply.reply_id and caught.value.last_event_id == len(seen) > 1
    assert "could not resume" in caught.value.message
    with Client(server) as direct:
        assert direct.stop(caught.value.reply_id).status == "stopped"  # the reply itself ran on


def test_an_unreachable_server_fails_fast_and_typed():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        with Client(url) as client:
            with pytest.raises(RillchatConnectionError) as caught, client.stream("hi"):
                pass
            # "unreachable", not ConnectionLostError: it gave up at the first refusal, with no retries.
            assert caught.value.code == "unreachable"
            with pytest.raises(RillchatConnectionError):
                client.models()


def test_an_answer_that_is_not_an_event_stream_is_a_protocol_error():
    # A captive portal or a misrouted proxy answers 200 with a page: that is no reply, and no drop to retry.
    login_page = Starlette(
        routes=[Route("/api/chat/stream", lambda _: HTMLResponse("<h1>Sign in</h1>"), methods=["POST"])]
    )
    with (
        serve_in_thread(login_page) as url,
        Client(url) as client,
        pytest.raises(RillchatConnectionError) as caught,
        client.stream("hi"),
    ):
        pass
    assert caught.value.code == "protocol_error"
    assert "text/html" in caught.value.message


# ---- stop


def test_stop_ends_the_stream_with_a_stopped_finish_and_cancels_the_upstream(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=200)
    with Client(server) as client, client.stream("go on", model="fake-responses") as reply:
        for event in reply:
            if type(event) is Delta and len(reply.text_so_far) > 20:
                result = reply.stop()
                assert result is not None and result.status == "stopped"
        assert reply.status is ReplyStatus.STOPPED
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1)


async def test_async_stop_by_reply_id(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=200)
    async with AsyncClient(server) as client, client.stream("go on", model="fake-chat") as reply:
        assert reply.reply_id is not None
        result = await client.stop(reply.reply_id)
        assert result.reply_id == reply.reply_id and result.status == "stopped"
        events = [e async for e in reply]
    assert type(events[-1]) is Finish and events[-1].status is ReplyStatus.STOPPED
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1)


# ---- errors


def server_error(server: str, **body: object) -> dict[str, str]:
    response = httpx.post(f"{server}/api/chat/stream", json={"userInput": "hi", **body}, timeout=30)
    assert response.status_code >= 400
    return response.json()["error"]


async def test_unknown_model_is_a_not_found_error_with_the_servers_message(server):
    expected = server_error(server, model="nope")
    async with AsyncClient(server) as client:
        with pytest.raises(NotFoundError) as caught:
            async with client.stream("hi", model="nope"):
                pass
    assert caught.value.status_code == 404 and caught.value.code == "unknown_model"
    assert caught.value.message == expected["message"] and "fake-responses" in caught.value.message


def test_a_bad_field_is_a_validation_error_naming_it(server):
    with Client(server) as client:
        with pytest.raises(ValidationError) as caught:
            client.chat("hi", model="fake-responses", temperature=5)
        assert caught.value.status_code == 422 and caught.value.field == "temperature"
        assert "temperature" in caught.value.message
        with pytest.raises(ValidationError) as too_many:
            client.chat("hi", model="fake-responses", max_output_tokens=10**6)
        assert too_many.value.field == "maxOutputTokens"


@pytest.mark.parametrize(
    ("upstream_status", "error_type", "status", "code"),
    [
        (401, UpstreamError, 502, "upstream_auth"),
        (429, UpstreamRateLimitedError, 503, "upstream_rate_limited"),
        (503, UpstreamError, 503, "upstream_unavailable"),
    ],
)
def test_upstream_failures_before_the_stream_are_typed(server, fake_openai, upstream_status, error_type, status, code):
    fake_openai.scenario = Scenario(status_before_stream=upstream_status)
    with Client(server) as client, pytest.raises(error_type) as caught, client.stream("hi", model="fake-responses"):
        pass
    error = caught.value
    assert isinstance(error, UpstreamError) and error.status_code == status and error.code == code
    assert error.message and "Traceback" not in error.message
    if upstream_status == 429:
        assert isinstance(error, RateLimitedError) and error.retry_after == 1
    assert fake_openai.stats.requests_total == 1, "an error before the stream is not retried"


async def test_a_reply_failing_mid_stream_is_an_error_event_then_a_failed_finish(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=20, fail_after=5)
    async with AsyncClient(server) as client:
        async with client.stream("hi", model="fake-responses") as reply:
            events = [e async for e in reply]
        assert [type(e) for e in events[-2:]] == [ErrorEvent, Finish]
        assert reply.status is ReplyStatus.FAILED and reply.error is not None and reply.error.message
        assert not any(type(e) is Queued for e in events)
        with pytest.raises(ReplyFailedError) as caught:
            await client.chat("hi", model="fake-responses")
    assert caught.value.partial_text == expected_text(fake_openai.scenario)
    assert caught.value.message == reply.error.message


def test_the_api_key_goes_as_a_bearer_token_and_a_missing_one_is_an_authentication_error(server_with_fake, fake_openai):
    from rillchat.api.edge import hash_api_key
    from rillchat.client import AuthenticationError

    fake_openai.scenario = Scenario(tokens=5)
    server = server_with_fake(api_keys={"alice": hash_api_key("key-alice")})
    with Client(server) as anonymous, pytest.raises(AuthenticationError) as caught:
        anonymous.models()
    assert caught.value.status_code == 401 and "API key" in caught.value.message
    with Client(server, api_key="key-alice") as client:
        result = client.chat("hi", model="fake-chat", conversation_id=client.conversations.create().id)
        assert result.text == expected_text(fake_openai.scenario)
        assert len(client.conversations.list()) == 1
