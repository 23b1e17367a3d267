"""The fake OpenAI server, tested over real HTTP on loopback (httpx and the official openai SDK)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import (
    ResponseCompletedEvent,
    ResponseCreatedEvent,
    ResponseErrorEvent,
    ResponseTextDeltaEvent,
)

from tests.fakes.openai_server import (
    REFUSAL_DELTAS,
    REFUSAL_TEXT,
    FakeOpenAI,
    Scenario,
    expected_text,
    parse_directive,
    token_texts,
)

pytest_plugins = ["tests.fakes.fixtures"]

REPO = Path(__file__).resolve().parents[2]

Event = tuple[str | None, Any]


# ---------------------------------------------------------------------------------------------------
# helpers


@asynccontextmanager
async def http(fake: FakeOpenAI, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    kwargs.setdefault("timeout", 10)
    async with httpx.AsyncClient(base_url=fake.base_url, **kwargs) as client:
        yield client


@asynccontextmanager
async def sdk(fake: FakeOpenAI, api_key: str = "x") -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=fake.base_url, api_key=api_key, max_retries=0) as client:
        yield client


def responses_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "input": [{"role": "user", "content": text}], "stream": True, **extra}


def chat_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": text}],
        "stream": True,
        "stream_options": {"include_usage": True},
        **extra,
    }


def parse_sse(raw: bytes) -> list[Event]:
    """(event name, parsed data) per SSE frame; "[DONE]" stays a string."""
    events: list[Event] = []
    for frame in raw.decode("utf-8").split("\n\n"):
        if not frame:
            continue
        name: str | None = None
        data: list[str] = []
        for line in frame.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        joined = "\n".join(data)
        events.append((name, joined if joined == "[DONE]" else orjson.loads(joined)))
    return events


async def stream(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> tuple[httpx.Response, list[Event]]:
    async with client.stream("POST", path, json=body) as response:
        raw = await response.aread()
    return response, parse_sse(raw)


def response_text(events: list[Event]) -> str:
    return "".join(data["delta"] for name, data in events if name == "response.output_text.delta")


def chat_chunks(events: list[Event]) -> list[dict[str, Any]]:
    return [data for _name, data in events if isinstance(data, dict) and "choices" in data]


def chat_text(events: list[Event]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chat_chunks(events) if c["choices"])


# ---------------------------------------------------------------------------------------------------
# wire formats


async def test_responses_stream_has_the_real_event_sequence(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai) as client:
        response, events = await stream(
            client, "/responses", responses_body(instructions="be brief", max_output_tokens=500)
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _data in events]
    tokens = Scenario().tokens
    assert names == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * tokens,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [data["type"] for _name, data in events] == names
    assert [data["sequence_number"] for _name, data in events] == list(range(len(events)))

    created = events[0][1]["response"]
    assert created["id"].startswith("resp_")
    assert created["object"] == "response"
    assert created["status"] == "in_progress"
    assert created["output"] == [] and created["usage"] is None
    assert created["model"] == "gpt-4o-mini" and created["instructions"] == "be brief"
    assert created["max_output_tokens"] == 500 and isinstance(created["created_at"], int)

    item = events[2][1]["item"]
    assert item["id"].startswith("msg_") and item["type"] == "message" and item["role"] == "assistant"
    assert events[3][1]["part"] == {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    delta = events[4][1]
    assert delta == {
        "type": "response.output_text.delta",
        "sequence_number": 4,
        "item_id": item["id"],
        "output_index": 0,
        "content_index": 0,
        "delta": "tok0 ",
        "logprobs": [],
    }
    text = expected_text(Scenario())
    assert response_text(events) == text == "".join(f"tok{i} " for i in range(tokens))
    assert events[-4][1]["text"] == text
    assert events[-2][1]["item"]["content"][0]["text"] == text
    done = events[-1][1]["response"]
    assert done["status"] == "completed" and done["id"] == created["id"]
    assert done["output"][0]["content"][0]["text"] == text
    assert done["usage"] == {
        "input_tokens": 4,  # "hello there" + "be brief": whitespace words
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 4 + tokens,
    }


async def test_chat_stream_has_the_real_chunk_sequence(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai) as client:
        response, events = await stream(client, "/chat/completions", chat_body())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert all(name is None for name, _data in events)
    assert events[-1][1] == "[DONE]"
    chunks = chat_chunks(events)
    tokens = Scenario().tokens
    assert len(chunks) == 1 + tokens + 1 + 1  # role, deltas, finish, usage
    first = chunks[0]
    assert first["id"].startswith("chatcmpl-") and first["object"] == "chat.completion.chunk"
    assert first["system_fingerprint"].startswith("fp_") and isinstance(first["created"], int)
    assert first["model"] == "gpt-4o-mini"
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "", "refusal": None},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert all(c["id"] == first["id"] and c["usage"] is None for c in chunks[:-1])
    assert chunks[1]["choices"] == [
        {"index": 0, "delta": {"content": "tok0 "}, "logprobs": None, "finish_reason": None}
    ]
    assert chunks[-2]["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]
    assert chunks[-1]["choices"] == []
    usage = chunks[-1]["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (2, tokens, 2 + tokens)
    assert chat_text(events) == expected_text(Scenario())


async def test_chat_stream_without_include_usage_has_no_usage(fake_openai: FakeOpenAI) -> None:
    body = chat_body()
    del body["stream_options"]
    async with http(fake_openai) as client:
        _response, events = await stream(client, "/chat/completions", body)
    chunks = chat_chunks(events)
    assert all("usage" not in c for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1][1] == "[DONE]"


async def test_openai_sdk_parses_the_responses_stream(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=7)
    async with sdk(fake_openai) as client:
        events = [e async for e in await client.responses.create(model="gpt-4o-mini", input="hi", stream=True)]
    assert isinstance(events[0], ResponseCreatedEvent)
    deltas = [e for e in events if isinstance(e, ResponseTextDeltaEvent)]
    assert "".join(d.delta for d in deltas) == expected_text(Scenario(tokens=7))
    final = events[-1]
    assert isinstance(final, ResponseCompletedEvent)
    assert final.response.output_text == expected_text(Scenario(tokens=7))
    assert final.response.usage is not None and final.response.usage.output_tokens == 7


async def test_openai_sdk_parses_the_chat_stream(fake_openai: FakeOpenAI) -> None:
    async with sdk(fake_openai) as client:
        chunks = [
            c
            async for c in await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hi [[fake tokens=9]]"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        ]
    assert all(isinstance(c, ChatCompletionChunk) for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_text(Scenario(tokens=9))
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 9


async def test_non_streaming_replies_are_whole_objects(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=4)
    async with sdk(fake_openai) as client:
        response = await client.responses.create(model="gpt-4o-mini", input="hi")
        completion = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
        )
    assert response.id.startswith("resp_") and response.status == "completed"
    assert response.output_text == "tok0 tok1 tok2 tok3 "
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "tok0 tok1 tok2 tok3 "
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 4
    assert fake_openai.stats.streams_started == 0 and fake_openai.stats.streams_completed == 2


async def test_models_list_and_allowlist(fake_openai: FakeOpenAI) -> None:
    async with sdk(fake_openai) as client:
        default = [m.id async for m in client.models.list()]
        fake_openai.models = ("gpt-test-a", "gpt-test-b")
        allowed = [m.id async for m in client.models.list()]
        model = await client.models.retrieve("gpt-test-b")
        with pytest.raises(openai.BadRequestError) as info:
            await client.responses.create(model="gpt-nope", input="hi", stream=True)
    assert "gpt-4o-mini" in default
    assert allowed == ["gpt-test-a", "gpt-test-b"] and model.id == "gpt-test-b"
    assert info.value.status_code == 400 and info.value.code == "model_not_found"


# ---------------------------------------------------------------------------------------------------
# errors before the stream


@pytest.mark.parametrize("path", ["/responses", "/chat/completions"])
@pytest.mark.parametrize(
    ("status", "code", "type_"),
    [
        (401, "invalid_api_key", "invalid_request_error"),
        (429, "rate_limit_exceeded", "requests"),
        (500, None, "server_error"),
        (503, None, "server_error"),
    ],
)
async def test_status_before_stream(
    fake_openai: FakeOpenAI, path: str, status: int, code: str | None, type_: str
) -> None:
    fake_openai.scenario = Scenario(status_before_stream=status, retry_after=7)
    body = responses_body() if path == "/responses" else chat_body()
    async with http(fake_openai) as client:
        response = await client.post(path, json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["code"], error["type"]) == (code, type_) and error["message"]
    if status == 429:
        assert response.headers["retry-after"] == "7"
    assert fake_openai.stats.streams_started == 0
    assert fake_openai.requests[0].terminal == f"http_{status}"


async def test_api_key_is_checked_when_configured(fake_openai: FakeOpenAI) -> None:
    fake_openai.api_key = "sk-right-key-1234"
    async with sdk(fake_openai, api_key="sk-wrong-key-9999") as client:
        with pytest.raises(openai.AuthenticationError) as info:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
            )
    assert info.value.status_code == 401 and info.value.code == "invalid_api_key"
    async with sdk(fake_openai, api_key="sk-right-key-1234") as client:
        response = await client.responses.create(model="gpt-4o-mini", input="hi")
    assert response.output_text == expected_text(Scenario())
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-right-key-1234"


async def test_sdk_sees_rate_limit_with_retry_after(fake_openai: FakeOpenAI) -> None:
    async with sdk(fake_openai) as client:
        with pytest.raises(openai.RateLimitError) as info:
            await client.responses.create(model="gpt-4o-mini", input="[[fake status_before_stream=429]]")
    assert info.value.response.headers["retry-after"] == "1"


async def test_bad_requests(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai) as client:
        unknown_path = await client.post("/completions", json={})
        not_json = await client.post("/responses", content=b"{nope", headers={"content-type": "application/json"})
        no_messages = await client.post("/chat/completions", json={"model": "gpt-4o-mini"})
        bad_directive = await client.post("/responses", json=responses_body("[[fake tokenz=3]]"))
        bad_failure = await client.post("/responses", json=responses_body("[[fake fail_after=1 failure=boom]]"))
    assert unknown_path.status_code == 404 and "Invalid URL" in unknown_path.json()["error"]["message"]
    assert not_json.status_code == 400
    assert no_messages.status_code == 400 and no_messages.json()["error"]["param"] == "messages"
    assert bad_directive.status_code == 400 and "tokenz" in bad_directive.json()["error"]["message"]
    assert bad_failure.status_code == 400


# ---------------------------------------------------------------------------------------------------
# failures during the stream


@pytest.mark.parametrize(
    ("failure", "terminal", "extra_names"),
    [
        ("response.failed", "response.failed", []),
        ("error", "error", []),
        ("incomplete", "response.incomplete", ["response.output_text.done", "response.content_part.done"]),
        ("content_filter", "response.incomplete", ["response.output_text.done", "response.content_part.done"]),
    ],
)
async def test_responses_failures(fake_openai: FakeOpenAI, failure: str, terminal: str, extra_names: list[str]) -> None:
    fake_openai.scenario = Scenario(tokens=10, fail_after=3, failure=failure)  # type: ignore[arg-type]
    async with http(fake_openai) as client:
        _response, events = await stream(client, "/responses", responses_body())
    names = [name for name, _data in events]
    assert names.count("response.output_text.delta") == 3
    assert response_text(events) == expected_text(fake_openai.scenario) == "tok0 tok1 tok2 "
    tail = names[names.index("response.output_text.delta") + 3 :]
    if extra_names:
        assert tail == [*extra_names, "response.output_item.done", terminal]
    else:
        assert tail == [terminal]
    assert [data["sequence_number"] for _name, data in events] == list(range(len(events)))
    last = events[-1][1]
    if failure == "response.failed":
        assert last["response"]["status"] == "failed"
        assert last["response"]["error"]["code"] == "server_error" and last["response"]["error"]["message"]
    elif failure == "error":
        assert set(last) == {"type", "sequence_number", "code", "message", "param"}
        assert last["code"] == "server_error" and last["param"] is None
    else:
        reason = "content_filter" if failure == "content_filter" else "max_output_tokens"
        assert last["response"]["status"] == "incomplete"
        assert last["response"]["incomplete_details"] == {"reason": reason}
        assert last["response"]["usage"]["output_tokens"] == 3
    assert fake_openai.stats.streams_completed == 1
    assert fake_openai.requests[0].terminal == terminal


@pytest.mark.parametrize("after", [0, 2])
async def test_responses_refusal(fake_openai: FakeOpenAI, after: int) -> None:
    async with http(fake_openai) as client:
        _response, events = await stream(
            client, "/responses", responses_body(f"[[fake fail_after={after} failure=refusal]]")
        )
    names = [name for name, _data in events]
    refusal_deltas = [data for name, data in events if name == "response.refusal.delta"]
    assert "".join(d["delta"] for d in refusal_deltas) == REFUSAL_TEXT
    assert len(refusal_deltas) == len(REFUSAL_DELTAS)
    part_index = 1 if after else 0
    assert {d["content_index"] for d in refusal_deltas} == {part_index}
    added = [data for name, data in events if name == "response.content_part.added"]
    assert added[-1]["part"] == {"type": "refusal", "refusal": ""}
    done = dict(events)["response.refusal.done"]
    assert done["refusal"] == REFUSAL_TEXT
    assert names[-2:] == ["response.output_item.done", "response.completed"]
    content = events[-1][1]["response"]["output"][0]["content"]
    assert content[-1] == {"type": "refusal", "refusal": REFUSAL_TEXT}
    assert len(content) == 1 + (1 if after else 0)
    assert names.count("response.output_text.delta") == after
    assert [data["sequence_number"] for _name, data in events] == list(range(len(events)))


@pytest.mark.parametrize(
    ("failure", "finish_reason"),
    [("incomplete", "length"), ("content_filter", "content_filter"), ("refusal", "stop")],
)
async def test_chat_finish_reasons(fake_openai: FakeOpenAI, failure: str, finish_reason: str) -> None:
    async with http(fake_openai) as client:
        _response, events = await stream(
            client, "/chat/completions", chat_body(f"[[fake tokens=6 fail_after=2 failure={failure}]]")
        )
    chunks = chat_chunks(events)
    assert chat_text(events) == "tok0 tok1 "
    assert chunks[-2]["choices"][0]["finish_reason"] == finish_reason
    assert chunks[-1]["choices"] == []
    assert events[-1][1] == "[DONE]"
    refusal = "".join(c["choices"][0]["delta"].get("refusal") or "" for c in chunks if c["choices"])
    assert refusal == (REFUSAL_TEXT if failure == "refusal" else "")


@pytest.mark.parametrize("failure", ["response.failed", "error"])
async def test_chat_mid_stream_error(fake_openai: FakeOpenAI, failure: str) -> None:
    async with http(fake_openai) as client:
        response, events = await stream(
            client, "/chat/completions", chat_body(f"[[fake fail_after=3 failure={failure}]]")
        )
    assert response.status_code == 200
    assert chat_text(events) == "tok0 tok1 tok2 "
    assert events[-1] == (
        None,
        {"error": {"message": events[-1][1]["error"]["message"], "type": "server_error", "param": None, "code": None}},
    )
    assert "[DONE]" not in [data for _name, data in events]


async def test_sdk_surfaces_mid_stream_errors(fake_openai: FakeOpenAI) -> None:
    async with sdk(fake_openai) as client:
        events = [
            e
            async for e in await client.responses.create(
                model="gpt-4o-mini", input="[[fake fail_after=2 failure=error]]", stream=True
            )
        ]
        assert isinstance(events[-1], ResponseErrorEvent) and events[-1].code == "server_error"
        chat = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "[[fake fail_after=2 failure=error]]"}],
            stream=True,
        )
        with pytest.raises(openai.APIError, match="server had an error"):
            async for _chunk in chat:
                pass


async def test_non_streaming_failures(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai) as client:
        failed = await client.post("/responses", json=responses_body("[[fake fail_after=1]]", stream=False))
        cut = await client.post(
            "/responses", json=responses_body("[[fake tokens=9]]", max_output_tokens=3, stream=False)
        )
        refused = await client.post(
            "/chat/completions", json=chat_body("[[fake fail_after=0 failure=refusal]]", stream=False)
        )
    assert failed.status_code == 500 and failed.json()["error"]["type"] == "server_error"
    assert cut.json()["status"] == "incomplete" and cut.json()["incomplete_details"] == {"reason": "max_output_tokens"}
    assert cut.json()["output"][0]["content"][0]["text"] == "tok0 tok1 tok2 "
    message = refused.json()["choices"][0]["message"]
    assert message["content"] is None and message["refusal"] == REFUSAL_TEXT


async def test_request_max_tokens_truncates_the_reply(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai) as client:
        _r, responses_events = await stream(client, "/responses", responses_body(max_output_tokens=5))
        _r, chat_events = await stream(client, "/chat/completions", chat_body(max_tokens=4))
        _r, chat_events2 = await stream(client, "/chat/completions", chat_body(max_completion_tokens=3))
    assert response_text(responses_events) == expected_text(Scenario(), max_output_tokens=5)
    assert responses_events[-1][1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert chat_text(chat_events) == "tok0 tok1 tok2 tok3 "
    assert chat_chunks(chat_events)[-2]["choices"][0]["finish_reason"] == "length"
    assert chat_text(chat_events2) == "tok0 tok1 tok2 "


# ---------------------------------------------------------------------------------------------------
# transport-level knobs


@pytest.mark.parametrize(("path", "body"), [("/responses", responses_body()), ("/chat/completions", chat_body())])
async def test_split_utf8_cuts_characters_across_writes(
    fake_openai: FakeOpenAI, path: str, body: dict[str, Any]
) -> None:
    scenario = Scenario(tokens=6, split_utf8=True)
    fake_openai.scenario = scenario
    raw_chunks: list[bytes] = []
    async with http(fake_openai) as client, client.stream("POST", path, json=body) as response:
        async for chunk in response.aiter_raw():
            raw_chunks.append(chunk)
    texts = token_texts(scenario)
    assert any(len(ch.encode()) > 1 for t in texts for ch in t)  # the tokens do carry multi-byte characters

    def valid(chunk: bytes) -> bool:
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    assert not all(valid(c) for c in raw_chunks), "no chunk ended inside a UTF-8 character"
    events = parse_sse(b"".join(raw_chunks))
    text = response_text(events) if path == "/responses" else chat_text(events)
    assert text == expected_text(scenario) == "tok0é tok1日本 tok2🙂 tok3é tok4日本 tok5🙂 "


@pytest.mark.parametrize(("path", "body"), [("/responses", responses_body()), ("/chat/completions", chat_body())])
async def test_drop_after_breaks_the_transport(fake_openai: FakeOpenAI, path: str, body: dict[str, Any]) -> None:
    fake_openai.scenario = Scenario(tokens=10, drop_after=4)
    received = b""
    async with http(fake_openai) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("POST", path, json=body) as response:
                async for chunk in response.aiter_raw():
                    received += chunk
    events = parse_sse(received)
    text = response_text(events) if path == "/responses" else chat_text(events)
    assert text == expected_text(fake_openai.scenario) == "tok0 tok1 tok2 tok3 "
    assert fake_openai.stats.streams_dropped == 1 and fake_openai.stats.streams_completed == 0
    assert fake_openai.requests[0].terminal == "dropped" and not fake_openai.requests[0].finished


async def test_sdk_sees_a_dropped_stream_as_a_connection_error(fake_openai: FakeOpenAI) -> None:
    async with sdk(fake_openai) as client:
        events: list[Any] = []
        with pytest.raises(openai.APIConnectionError):
            async for event in await client.responses.create(
                model="gpt-4o-mini", input="[[fake drop_after=2]]", stream=True
            ):
                events.append(event)
    assert sum(isinstance(e, ResponseTextDeltaEvent) for e in events) == 2


async def test_client_disconnect_is_noticed_and_the_stream_stops(fake_openai: FakeOpenAI) -> None:
    # 2000 tokens at 20/s: the stream would run 100 s, so only noticing the disconnect ends it early.
    fake_openai.scenario = Scenario(tokens=2000, rate=20)
    async with http(fake_openai) as client, client.stream("POST", "/responses", json=responses_body()) as response:
        seen = 0
        async for line in response.aiter_lines():
            seen += line == "event: response.output_text.delta"
            if seen == 3:
                break
    # Generous: only a fake that never notices the disconnect waits this long.
    await fake_openai.wait_for(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30.0)
    record = fake_openai.requests[0]
    assert record.disconnected_at is not None
    assert not record.finished and record.terminal is None
    sent = fake_openai.stats.deltas_sent
    assert 3 <= sent < 2000
    await asyncio.sleep(0.3)  # at 20/s a stream still running would add ~6 deltas
    assert fake_openai.stats.deltas_sent == sent
    assert fake_openai.stats.streams_completed == 0


async def test_stall_after_keeps_quiet_until_the_client_leaves(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=10, stall_after=2)
    async with http(fake_openai, timeout=httpx.Timeout(10, read=0.4)) as client:
        received = b""
        with pytest.raises(httpx.ReadTimeout):
            async with client.stream("POST", "/chat/completions", json=chat_body()) as response:
                async for chunk in response.aiter_raw():
                    received += chunk
        # The stream-context exit closed the connection.
    assert chat_text(parse_sse(received)) == "tok0 tok1 "
    # Generous: a stalled stream never ends by itself, so only a fake that never notices waits this long.
    await fake_openai.wait_for(lambda: fake_openai.stats.streams_disconnected == 1, timeout=30.0)
    record = fake_openai.requests[0]
    assert record.terminal == "stalled" and record.deltas_sent == 2
    assert record.disconnected_at is not None


@pytest.mark.parametrize(("path", "body"), [("/responses", responses_body()), ("/chat/completions", chat_body())])
async def test_silent_sends_no_headers_until_the_client_leaves(
    fake_openai: FakeOpenAI, path: str, body: dict[str, Any]
) -> None:
    fake_openai.scenario = Scenario(silent=True)
    async with http(fake_openai, timeout=httpx.Timeout(10, read=0.3)) as client:
        with pytest.raises(httpx.ReadTimeout):  # waiting for the status line and headers
            await client.post(path, json=body)
    await fake_openai.wait_for(lambda: fake_openai.stats.streams_disconnected == 1, timeout=5.0)
    record = fake_openai.requests[0]
    assert record.terminal == "silent" and record.status is None and record.disconnected_at is not None
    assert fake_openai.stats.streams_started == 0 and fake_openai.stats.deltas_sent == 0


async def test_reset_cuts_streams_left_running(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            async with client.stream("POST", "/responses", json=responses_body("[[fake stall_after=1]]")) as response:
                async for line in response.aiter_lines():
                    if line.startswith("event: response.output_text.delta"):
                        fake_openai.reset()


async def test_rate_and_first_token_delay(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=11, rate=50, first_token_delay=0.3)
    arrivals: dict[str, list[float]] = {}
    async with (
        http(fake_openai) as client,
        client.stream("POST", "/responses", json=responses_body()) as response,
    ):
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                arrivals.setdefault(line[7:], []).append(time.monotonic())
    first_delta = arrivals["response.output_text.delta"][0]
    last_delta = arrivals["response.output_text.delta"][-1]
    assert first_delta - arrivals["response.created"][0] >= 0.28
    assert last_delta - first_delta >= 10 / 50 * 0.9  # 11 deltas at 50/s span 0.2 s


async def test_embed_timestamp(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=5, rate=100, embed_timestamp=True)
    sent_at = time.time()
    async with http(fake_openai) as client:
        _response, events = await stream(client, "/chat/completions", chat_body())
    received_at = time.time()
    stamps = [float(piece) for piece in chat_text(events).split("|") if piece]
    assert len(stamps) == 5
    assert stamps == sorted(stamps)
    assert sent_at <= stamps[0] <= stamps[-1] <= received_at  # stamped while the stream was sent
    assert all(len(piece.split(".")[1]) == 6 for piece in chat_text(events).split("|") if piece)
    with pytest.raises(ValueError, match="embed_timestamp"):
        expected_text(fake_openai.scenario)


# ---------------------------------------------------------------------------------------------------
# scenario selection, records, helpers


async def test_directive_in_last_user_message_overrides_the_default(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=5)
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "input": [
            {"role": "user", "content": "[[fake tokens=50]] (not the last user message)"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "input_text", "text": "go [[fake tokens=3 rate=500]] now"}]},
        ],
    }
    async with http(fake_openai) as client:
        _r, overridden = await stream(client, "/responses", body)
        _r, default = await stream(client, "/responses", responses_body())
        _r, as_string = await stream(client, "/responses", {**responses_body(), "input": "[[fake tokens=2]]"})
    assert response_text(overridden) == "tok0 tok1 tok2 "
    assert response_text(default) == expected_text(Scenario(tokens=5))
    assert response_text(as_string) == "tok0 tok1 "
    effective = fake_openai.requests[0].scenario
    assert effective is not None and (effective.tokens, effective.rate) == (3, 500.0)


def test_parse_directive() -> None:
    assert parse_directive("no directive") == {}
    assert parse_directive("x [[fake]] y") == {}
    assert parse_directive("[[fake tokens=50 rate=200 fail_after=10 failure=error]]") == {
        "tokens": 50,
        "rate": 200.0,
        "fail_after": 10,
        "failure": "error",
    }
    assert parse_directive("[[fake split-utf8=true embed_timestamp=0 drop_after=none]]") == {
        "split_utf8": True,
        "embed_timestamp": False,
        "drop_after": None,
    }
    with pytest.raises(ValueError, match="tokens"):
        parse_directive("[[fake tokens=many]]")


def test_expected_text_and_custom_tokens() -> None:
    assert expected_text(Scenario(tokens=3)) == "tok0 tok1 tok2 "
    assert expected_text(Scenario(tokens=5, fail_after=2)) == "tok0 tok1 "
    assert expected_text(Scenario(tokens=5, drop_after=1, stall_after=0)) == ""
    assert expected_text(Scenario(tokens=4, token_text=["a", "b"])) == "abab"
    assert expected_text(Scenario(tokens=3, token_text=lambda i: f"<{i}>")) == "<0><1><2>"
    with pytest.raises(ValueError, match="failure"):
        Scenario(failure="nope")  # type: ignore[arg-type]


def test_custom_tokens_over_http_and_sync_wait(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario = Scenario(tokens=4, token_text=["Ünï ", "🙂 ", '"q" ', "\\n\n"])
    with httpx.Client(base_url=fake_openai.base_url, timeout=10) as client:
        raw = client.post("/responses", json=responses_body()).content
    assert response_text(parse_sse(raw)) == expected_text(fake_openai.scenario) == 'Ünï 🙂 "q" \\n\n'
    fake_openai.wait_until(lambda: fake_openai.stats.streams_completed == 1, timeout=1)
    with pytest.raises(TimeoutError, match="stats="):
        fake_openai.wait_until(lambda: False, timeout=0.05)


async def test_counters_and_records(fake_openai: FakeOpenAI) -> None:
    async with http(fake_openai, headers={"authorization": "Bearer abc"}) as client:
        await stream(client, "/responses", responses_body("[[fake tokens=3]]"))
        await stream(client, "/chat/completions", chat_body("[[fake tokens=4]]"))
        await client.get("/models")
    stats = fake_openai.stats
    assert (stats.requests_total, stats.streams_started, stats.streams_completed) == (3, 2, 2)
    assert (stats.deltas_sent, stats.streams_disconnected, stats.streams_dropped) == (7, 0, 0)
    first, second, third = fake_openai.requests
    assert (first.path, first.method, first.stream, first.status) == ("/v1/responses", "POST", True, 200)
    assert first.json["input"][0]["content"] == "[[fake tokens=3]]"
    assert first.headers["authorization"] == "Bearer abc"
    assert (first.deltas_sent, first.finished, first.terminal) == (3, True, "response.completed")
    assert (second.deltas_sent, second.terminal) == (4, "stop")
    assert first.started_at <= second.started_at <= third.started_at
    assert third.path == "/v1/models" and third.status == 200
    fake_openai.reset()
    assert fake_openai.stats.requests_total == 0 and fake_openai.requests == []
    assert fake_openai.scenario == Scenario()


def test_context_manager_and_stop_with_a_stalled_stream() -> None:
    with FakeOpenAI(Scenario(stall_after=1)) as fake:
        assert fake.base_url.startswith("http://127.0.0.1:") and fake.base_url.endswith("/v1")
        client = httpx.Client(base_url=fake.base_url, timeout=10)
        response = client.send(client.build_request("POST", "/responses", json=responses_body()), stream=True)
        fake.wait_until(lambda: fake.stats.deltas_sent == 1)
    # Leaving the block ran stop(): it did not wait for the stalled stream, which never ends by itself
    # (stop() raises if its server thread is still alive after a generous 10 s). The port is closed.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{fake.base_url}/models", timeout=10)
    with pytest.raises(httpx.TransportError):
        response.read()
    response.close()
    client.close()


def test_runs_as_a_process_for_benchmarks() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "tests.fakes.openai_server", "--port", "0", "--tokens", "6"]
    command += ["--rate", "200", "--embed-timestamp"]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("fake openai listening on http://127.0.0.1:"), line
        base_url = line.split()[-1]
        with httpx.Client(base_url=base_url, timeout=10) as client:
            sent_at = time.time()
            raw = client.post("/chat/completions", json=chat_body()).content
            received_at = time.time()
            stats = client.get(base_url.removesuffix("/v1") + "/_fake/stats").json()
        stamps = [float(s) for s in chat_text(parse_sse(raw)).split("|") if s]
        assert len(stamps) == 6 and sent_at <= stamps[0] <= stamps[-1] <= received_at
        assert stats["streams_completed"] == 1 and stats["deltas_sent"] == 6
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()
