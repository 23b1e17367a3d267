"""Every way a reply can go wrong: before the stream (a status and JSON), mid-stream (typed events in SSE,
a broken body in plain text), and bad requests (4xx naming the field). Never a stack trace."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import fake_upstreams
from tests.fakes.openai_server import REFUSAL_TEXT, Scenario, expected_text
from tests.helpers import sse_events, text_of

MODELS = ["fake-responses", "fake-chat"]


@pytest.fixture
def server(server_with_fake):
    return server_with_fake(max_body_bytes=20_000, max_messages=10, max_text_chars=1_000)


def body(model: str = "fake-responses", **extra):
    return {"userInput": "hello", "model": model, **extra}


def assert_clean_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    payload = response.json()
    assert payload["error"]["code"] == code
    assert payload["error"]["message"]
    assert "Traceback" not in response.text and 'File "' not in response.text
    return payload["error"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("upstream_status", "status", "code"),
    [
        (401, 502, "upstream_auth"),
        (429, 503, "upstream_rate_limited"),
        (500, 503, "upstream_unavailable"),
        (503, 503, "upstream_unavailable"),
    ],
)
@pytest.mark.parametrize("sse", [False, True])
def test_upstream_errors_before_the_stream_map_to_a_status_and_json(
    server, client, fake_openai, model, upstream_status, status, code, sse
):
    fake_openai.scenario = Scenario(status_before_stream=upstream_status)
    headers = {"accept": "text/event-stream"} if sse else {}
    response = client.post(f"{server}/api/chat/stream", json=body(model), headers=headers)
    assert_clean_error(response, status, code)
    if upstream_status == 429:
        assert response.headers["retry-after"] == "1"
    assert_clean_error(client.post(f"{server}/api/chat", json=body(model)), status, code)


def silent_upstream_reply(client, fake_openai, server: str, model: str, sse: bool) -> httpx.Response:
    """Ask for a reply from an upstream that takes the request and never answers, not even headers."""
    fake_openai.scenario = Scenario(silent=True)
    headers = {"accept": "text/event-stream"} if sse else {}
    return client.post(f"{server}/api/chat/stream", json=body(model), headers=headers)


def assert_the_upstream_connection_was_closed(fake_openai) -> None:
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30)
    (record,) = fake_openai.requests
    assert record.terminal == "silent" and record.disconnected_at is not None


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_an_upstream_that_never_answers_is_a_504_after_its_timeout(
    fake_openai, make_settings, start_server, client, model, sse
):
    """Opening the stream (connect + response headers) is bounded by the upstream's ``timeout_seconds``."""
    upstreams = [u.model_copy(update={"timeout_seconds": 0.5}) for u in fake_upstreams(fake_openai)]
    server = start_server(make_settings(upstreams=upstreams))
    assert_clean_error(silent_upstream_reply(client, fake_openai, server, model, sse), 504, "upstream_timeout")
    assert_the_upstream_connection_was_closed(fake_openai)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_the_reply_time_cap_covers_opening_the_stream(server_with_fake, fake_openai, client, model, sse):
    """The upstream's own timeout is long here: the reply's total-time cap ends the wait, with a 504."""
    server = server_with_fake(reply_timeout_seconds=0.5)
    error = assert_clean_error(silent_upstream_reply(client, fake_openai, server, model, sse), 504, "upstream_timeout")
    assert "0.5s" in error["message"]
    assert_the_upstream_connection_was_closed(fake_openai)


def test_unknown_model_is_a_404_listing_the_models(server, client):
    error = assert_clean_error(client.post(f"{server}/api/chat/stream", json=body("nope")), 404, "unknown_model")
    assert "smollm2" in error["message"]


@pytest.mark.parametrize(
    ("failure", "model", "code"),
    [
        ("response.failed", "fake-responses", "server_error"),
        ("error", "fake-responses", None),
        ("error", "fake-chat", None),
    ],
)
def test_a_mid_stream_failure_gives_sse_an_error_event_then_the_terminal_event(
    server, client, fake_openai, failure, model, code
):
    fake_openai.scenario = Scenario(tokens=20, fail_after=5, failure=failure)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body(model))
    names = [e.event for e in events]
    assert names[-2:] == ["error", "finish"]
    assert events[-2].data["message"]
    if code:
        assert events[-2].data["code"] == code
    assert events[-1].data["status"] == "failed" and events[-1].data["reason"] == "error"
    assert text_of(events) == expected_text(fake_openai.scenario)


@pytest.mark.parametrize(("failure", "reason"), [("incomplete", "length"), ("content_filter", "content_filter")])
def test_an_incomplete_response_ends_incomplete_with_its_reason(server, client, fake_openai, failure, reason):
    fake_openai.scenario = Scenario(tokens=20, fail_after=5, failure=failure)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body())
    assert events[-1].data["status"] == "incomplete" and events[-1].data["reason"] == reason
    assert "error" not in [e.event for e in events]


def test_a_refusal_is_shown_as_the_reply_and_marked_as_a_refusal(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=0, fail_after=0, failure="refusal")
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body())
    assert REFUSAL_TEXT in text_of(events)
    assert events[-1].data["status"] == "completed" and events[-1].data["reason"] == "refusal"


@pytest.mark.parametrize("model", MODELS)
def test_a_dropped_upstream_connection_is_an_error_event_in_sse(server, client, fake_openai, model):
    fake_openai.scenario = Scenario(tokens=20, drop_after=6)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body(model))
    assert events[-2].event == "error" and events[-2].data["code"] == "upstream_disconnected"
    assert events[-1].data["status"] == "failed"
    assert text_of(events) == expected_text(fake_openai.scenario)


@pytest.mark.parametrize("scenario", [Scenario(tokens=20, drop_after=6), Scenario(tokens=20, fail_after=6)])
def test_a_broken_plain_text_reply_ends_without_its_terminating_chunk_and_no_error_text(
    server, client, fake_openai, scenario
):
    fake_openai.scenario = scenario
    received = ""
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream("POST", f"{server}/api/chat/stream", json=body()) as response,
    ):
        assert response.status_code == 200
        for chunk in response.iter_text():
            received += chunk
    assert received == expected_text(scenario), "only the model's text, never error text, is in the content"


def test_a_failed_non_streaming_reply_is_a_502_with_the_upstream_message(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=10, fail_after=3)
    assert_clean_error(client.post(f"{server}/api/chat", json=body()), 502, "server_error")


def test_a_body_over_the_size_limit_is_a_413(server, client):
    big = body(userInput="x" * 30_000)
    assert_clean_error(client.post(f"{server}/api/chat/stream", json=big), 413, "payload_too_large")


def test_a_chunked_body_over_the_size_limit_is_a_413_too(server, client):
    def chunks():
        yield b'{"userInput": "'
        for _ in range(30):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(f"{server}/api/chat/stream", content=chunks(), headers={"content-type": "application/json"})
    assert_clean_error(response, 413, "payload_too_large")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"messages": [{"role": "user", "content": "a"}] * 11}, "messages"),
        ({"userInput": "y" * 1_001}, "userInput"),
        ({"messages": [{"role": "user", "content": "z" * 1_001}]}, "messages.0.content"),
        ({"instructions": "i" * 1_001}, "instructions"),
        ({"maxOutputTokens": 100_000}, "maxOutputTokens"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"userInput": ""}, "userInput"),
        ({"messages": [{"role": "wizard", "content": "x"}]}, "messages.0.role"),
    ],
)
def test_limits_and_invalid_fields_answer_422_naming_the_field(server, client, extra, field):
    error = assert_clean_error(client.post(f"{server}/api/chat/stream", json=body(**extra)), 422, "invalid_field")
    assert error["field"] == field


def test_a_missing_user_input_and_broken_json_are_clean_4xx(server, client):
    error = assert_clean_error(client.post(f"{server}/api/chat/stream", json={}), 422, "invalid_field")
    assert error["field"] == "userInput"
    response = client.post(
        f"{server}/api/chat/stream", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_clean_error(response, 400, "invalid_json")
