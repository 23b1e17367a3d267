"""The guide's endpoint, POST /api/chat/stream, and POST /api/chat, against the fake OpenAI upstream."""

from __future__ import annotations

import pytest
from httpx_sse import connect_sse

from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import read_events, sse_events, text_of

MODELS = ["fake-responses", "fake-chat"]


@pytest.fixture
def server(server_with_fake):
    return server_with_fake()


def guide_body(model: str, **extra):
    """Exactly the fields the guide's frontend and backend use."""
    return {
        "userInput": "What is a river?",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello!"}],
        "instructions": "You are terse.",
        "model": model,
        "temperature": 0.3,
        **extra,
    }


@pytest.mark.parametrize("model", MODELS)
def test_plain_text_chunks_appended_in_order_give_the_whole_reply(server, client, fake_openai, model):
    fake_openai.scenario = Scenario(tokens=30, rate=300)
    chunks: list[str] = []
    # The guide's reading loop: read chunks, decode with stream=True, append.
    with client.stream("POST", f"{server}/api/chat/stream", json=guide_body(model)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert "content-encoding" not in response.headers
        for chunk in response.iter_text():
            chunks.append(chunk)
    assert "".join(chunks) == expected_text(fake_openai.scenario)
    assert len(chunks) > 5, "the reply must arrive as it is generated, not at the end"


@pytest.mark.parametrize("model", MODELS)
def test_sse_answers_typed_events_with_ids_and_streaming_headers(server, client, fake_openai, model):
    fake_openai.scenario = Scenario(tokens=12)
    with connect_sse(
        client, "POST", f"{server}/api/chat/stream", json=guide_body(model), headers={"accept": "text/event-stream"}
    ) as source:
        headers = source.response.headers
        events = read_events(source.iter_sse())
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["cache-control"] == "no-cache"
    assert headers["x-accel-buffering"] == "no"
    assert "content-encoding" not in headers
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert events[0].event == "start" and events[0].data["replyId"].startswith("rep_")
    assert headers["x-rillchat-reply-id"] == events[0].data["replyId"]
    assert text_of(events) == expected_text(fake_openai.scenario)
    finish = events[-1]
    assert finish.event == "finish"
    assert finish.data["status"] == "completed" and finish.data["reason"] == "stop"
    assert finish.data["usage"]["outputTokens"] == 12 and finish.data["usage"]["inputTokens"] > 0


def test_the_guides_fields_reach_the_responses_api(server, client, fake_openai):
    client.post(f"{server}/api/chat", json=guide_body("fake-responses", temperature=0)).raise_for_status()
    sent = fake_openai.requests[-1].json
    assert sent["instructions"] == "You are terse."
    assert sent["input"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello!"},
        {"role": "user", "content": "What is a river?"},
    ]
    assert sent["temperature"] == 0, "temperature 0 must stay 0 (the guide's `|| 0.7` bug)"
    assert sent["stream"] is True


def test_the_guides_fields_reach_a_chat_completions_server(server, client, fake_openai):
    client.post(f"{server}/api/chat", json=guide_body("fake-chat", temperature=0)).raise_for_status()
    sent = fake_openai.requests[-1].json
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["messages"][-1] == {"role": "user", "content": "What is a river?"}
    assert sent["temperature"] == 0
    assert sent["stream_options"] == {"include_usage": True}


def test_no_temperature_means_the_default_and_model_defaults_to_the_embedded_one(server, client, fake_openai):
    body = {"userInput": "hi", "model": "fake-responses"}
    client.post(f"{server}/api/chat", json=body).raise_for_status()
    assert fake_openai.requests[-1].json["temperature"] == 0.7
    models = client.get(f"{server}/api/models").json()
    assert models["default"] == "smollm2"
    assert {m["id"] for m in models["data"]} >= {"smollm2", "fake-responses", "fake-chat"}
    assert models["limits"] == {"maxTextChars": 100_000, "maxOutputTokens": 8192}


@pytest.mark.parametrize("model", MODELS)
def test_non_streaming_chat_returns_text_finish_reason_and_usage(server, client, fake_openai, model):
    fake_openai.scenario = Scenario(tokens=7)
    reply = client.post(f"{server}/api/chat", json=guide_body(model)).json()
    assert reply["text"] == expected_text(fake_openai.scenario)
    assert reply["model"] == model
    assert reply["status"] == "completed" and reply["finishReason"] == "stop"
    assert reply["usage"]["outputTokens"] == 7


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("sse", [False, True])
def test_utf8_split_inside_a_character_across_tcp_writes_arrives_whole(server, client, fake_openai, model, sse):
    fake_openai.scenario = Scenario(tokens=40, split_utf8=True)
    if sse:
        text = text_of(sse_events(client, "POST", f"{server}/api/chat/stream", json=guide_body(model)))
    else:
        raw = b""
        with client.stream("POST", f"{server}/api/chat/stream", json=guide_body(model)) as response:
            for chunk in response.iter_raw():
                raw += chunk
        text = raw.decode("utf-8")  # strict: a broken character would raise here
    assert text == expected_text(fake_openai.scenario)
    assert any(ch in text for ch in ("é", "日本", "🙂"))


def test_a_model_that_stops_at_the_token_cap_ends_incomplete(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=50)
    body = guide_body("fake-chat", maxOutputTokens=5)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body)
    assert events[-1].data["status"] == "incomplete" and events[-1].data["reason"] == "length"
    assert text_of(events) == expected_text(fake_openai.scenario, max_output_tokens=5)
