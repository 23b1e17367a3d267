"""The Vercel AI SDK endpoint (``/api/ai-sdk/chat``) at the HTTP level: the UI message stream's chunks and
headers, chats as conversations, history from storage, regenerate, resume, stop on abort, errors, keys.
The real ``useChat`` in Chromium is in tests/aisdk; these pin the wire and the storage behind it."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import httpx
import orjson
import pytest
from httpx_sse import connect_sse

from rillchat.api.edge import hash_api_key
from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text
from tests.helpers import data_events, wait_until

API = "/api/ai-sdk/chat"

# Every chunk type rillchat sends, with exactly the fields that AI SDK 5.0.0's strict schemas accept.
ALLOWED_FIELDS: dict[str, set[str]] = {
    "start": {"type", "messageId", "messageMetadata"},
    "start-step": {"type"},
    "text-start": {"type", "id"},
    "text-delta": {"type", "id", "delta"},
    "text-end": {"type", "id"},
    "reasoning-start": {"type", "id"},
    "reasoning-delta": {"type", "id", "delta"},
    "reasoning-end": {"type", "id"},
    "data-rillchat-queue": {"type", "data", "transient"},
    "error": {"type", "errorText"},
    "finish-step": {"type"},
    "finish": {"type", "messageMetadata"},
}


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url, default_model="fake-responses")


def user(text: str, message_id: str | None = None) -> dict[str, Any]:
    return {"id": message_id or uuid.uuid4().hex[:16], "role": "user", "parts": [{"type": "text", "text": text}]}


def assistant(text: str, message_id: str | None = None) -> dict[str, Any]:
    parts = [{"type": "step-start"}, {"type": "text", "text": text, "state": "done"}]
    return {"id": message_id or uuid.uuid4().hex[:16], "role": "assistant", "parts": parts}


def chat_body(chat_id: str, *messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"id": chat_id, "messages": list(messages), "trigger": "submit-message", "messageId": None, **extra}


def new_chat_id() -> str:
    return uuid.uuid4().hex[:16]


def read_chunks(source: Any, limit: int | None = None) -> list[Any]:
    """Chunks of a UI message stream (the final ``[DONE]`` as the string ``"[DONE]"``); ``source`` is an
    httpx-sse event source, or its ``iter_sse()`` iterator to go on reading where an earlier call stopped."""
    out: list[Any] = []
    for event in data_events(source.iter_sse() if hasattr(source, "iter_sse") else source):
        out.append("[DONE]" if event.data == "[DONE]" else orjson.loads(event.data))
        if limit is not None and len(out) >= limit:
            break
    return out


def stream(client: httpx.Client, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, list[Any]]:
    with connect_sse(client, method, url, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()
        return source.response, read_chunks(source)


def text_of(chunks: list[Any]) -> str:
    return "".join(c["delta"] for c in chunks if isinstance(c, dict) and c["type"] == "text-delta")


def types_of(chunks: list[Any]) -> list[str]:
    return [c if isinstance(c, str) else c["type"] for c in chunks]


def history(client: httpx.Client, server: str, chat_id: str, **kwargs: Any) -> list[dict[str, Any]]:
    response = client.get(f"{server}{API}/{chat_id}/messages", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()["messages"]


def test_a_reply_streams_as_ui_message_chunks_with_the_protocol_header_and_only_documented_fields(
    server, client, fake_openai
):
    fake_openai.scenario = Scenario(tokens=6)
    chat_id = new_chat_id()
    response, chunks = stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("hello")))
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert response.headers["content-type"].startswith("text/event-stream")
    assert types_of(chunks) == [
        "start",
        "start-step",
        "text-start",
        *["text-delta"] * 6,
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    for chunk in chunks[:-1]:
        assert set(chunk) <= ALLOWED_FIELDS[chunk["type"]], chunk
    assert text_of(chunks) == expected_text(fake_openai.scenario)
    assert len({c["id"] for c in chunks[:-1] if c["type"].startswith("text-")}) == 1
    start, finish = chunks[0], chunks[-2]
    assert start["messageMetadata"]["replyId"] == response.headers["x-rillchat-reply-id"]
    assert finish["messageMetadata"]["status"] == "completed"
    stored = history(client, server, chat_id)
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["id"] == start["messageId"], "the streamed message and the stored one are the same message"
    assert stored[1]["parts"] == [{"type": "text", "text": expected_text(fake_openai.scenario)}]


def test_a_chat_is_one_conversation_and_a_client_that_sends_only_the_last_message_gets_the_stored_history(
    server, client, fake_openai
):
    fake_openai.scenario = Scenario(tokens=2)
    chat_id = new_chat_id()
    stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("first question")))
    stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("second question")))
    upstream_input = fake_openai.requests[-1].json["input"]
    texts = orjson.dumps(upstream_input).decode()
    assert "first question" in texts and "second question" in texts
    assert "tok0 tok1" in texts, "the first reply went upstream as history"
    assert [m["role"] for m in history(client, server, chat_id)] == ["user", "assistant"] * 2
    conversations = client.get(f"{server}/api/conversations").json()["data"]
    assert len(conversations) == 1 and conversations[0]["title"] == "first question"


def test_a_chat_unknown_to_storage_is_seeded_with_the_turns_the_client_brings(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    chat_id = new_chat_id()
    body = chat_body(chat_id, user("from elsewhere"), assistant("an old answer"), user("and now?"))
    stream(client, "POST", f"{server}{API}", json=body)
    stored = history(client, server, chat_id)
    assert [(m["role"], m["parts"][0]["text"]) for m in stored[:3]] == [
        ("user", "from elsewhere"),
        ("assistant", "an old answer"),
        ("user", "and now?"),
    ]
    assert "an old answer" in orjson.dumps(fake_openai.requests[-1].json["input"]).decode()


def test_regenerate_replaces_the_last_reply_and_edit_replaces_from_the_edited_turn(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    chat_id = new_chat_id()
    first = user("one")
    _, chunks = stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, first))
    first_reply = chunks[0]["messageId"]
    second = user("two")
    body = chat_body(chat_id, first, assistant("tok0 tok1 ", first_reply), second)
    _, chunks = stream(client, "POST", f"{server}{API}", json=body)
    second_reply = chunks[0]["messageId"]

    regenerate = chat_body(chat_id, first, assistant("tok0 tok1 ", first_reply), second)
    regenerate.update(trigger="regenerate-message", messageId=second_reply)
    _, chunks = stream(client, "POST", f"{server}{API}", json=regenerate)
    assert chunks[0]["messageId"] != second_reply
    stored = history(client, server, chat_id)
    assert [m["role"] for m in stored] == ["user", "assistant"] * 2
    assert [m["id"] for m in stored if m["role"] == "assistant"] == [first_reply, chunks[0]["messageId"]]
    conversation_id = chunks[0]["messageMetadata"]["conversationId"]
    messages = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]
    assert messages[-1]["versionIds"] == [second_reply, chunks[0]["messageId"]], "the earlier reply is kept"

    edited = user("ONE, edited", first["id"])
    _, chunks = stream(client, "POST", f"{server}{API}", json={**chat_body(chat_id, edited), "messageId": first["id"]})
    stored = history(client, server, chat_id)
    assert [(m["role"], m["parts"][0]["text"]) for m in stored] == [
        ("user", "ONE, edited"),
        ("assistant", "tok0 tok1 "),
    ]


def test_resume_answers_204_without_a_running_reply_and_replays_a_running_one_from_its_start(
    server, client, fake_openai
):
    chat_id = new_chat_id()
    assert client.get(f"{server}{API}/{chat_id}/stream").status_code == 204, "an unknown chat"
    # Held after two thoughts until release(): the resume surely comes while the reply runs.
    fake_openai.scenario = Scenario(tokens=10, reasoning=4, pause_at_reasoning=2)
    body = chat_body(chat_id, user("go"), resumable=True, model="fake-chat")
    with connect_sse(client, "POST", f"{server}{API}", json=body) as source:
        first = read_chunks(source, limit=5)
    assert types_of(first) == ["start", "start-step", "reasoning-start", "reasoning-delta", "reasoning-delta"]
    wait_until(lambda: fake_openai.paused == 1, what="the reply is held")
    # The POST is gone: the reply goes on (resumable) and a resume replays it from the start, then live.
    with connect_sse(client, "GET", f"{server}{API}/{chat_id}/stream") as source:
        assert source.response.status_code == 200
        events = source.iter_sse()
        replayed = read_chunks(events, limit=len(first))
        fake_openai.release()
        resumed = replayed + read_chunks(events)
    assert replayed == first, "the same message, from its start chunk"
    assert text_of(resumed) == expected_text(fake_openai.scenario)
    assert resumed[-2]["messageMetadata"]["status"] == "completed" and resumed[-1] == "[DONE]"
    assert client.get(f"{server}{API}/{chat_id}/stream").status_code == 204, "finished: the history has it"
    assert fake_openai.stats.requests_total == 1


def test_an_abort_without_resume_stops_the_model(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=500, rate=50)
    chat_id = new_chat_id()
    with connect_sse(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("long"))) as source:
        read_chunks(source, limit=4)
    wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=10, what="the upstream was closed")
    wait_until(lambda: len(history(client, server, chat_id)) == 2, what="the cut reply is stored")
    assert history(client, server, chat_id)[-1]["metadata"]["status"] == "interrupted"
    assert fake_openai.stats.streams_completed == 0


def test_stop_with_the_reply_id_from_start_stops_a_resumable_reply(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=500, rate=50)
    chat_id = new_chat_id()
    body = chat_body(chat_id, user("long"), resumable=True)
    with connect_sse(client, "POST", f"{server}{API}", json=body) as source:
        events = source.iter_sse()
        chunks = read_chunks(events, limit=4)
        reply_id = chunks[0]["messageMetadata"]["replyId"]
        assert client.post(f"{server}/api/streams/{reply_id}/stop").json()["status"] == "stopped"
        rest = read_chunks(events)
    assert rest[-2]["messageMetadata"]["status"] == "stopped" and rest[-1] == "[DONE]"
    wait_until(lambda: fake_openai.stats.streams_disconnected == 1, timeout=10, what="the upstream was closed")
    assert history(client, server, chat_id)[-1]["metadata"]["status"] == "stopped"


def test_a_failure_mid_reply_is_an_error_chunk_with_the_message_and_no_trace(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=10, fail_after=3, failure="error")
    _, chunks = stream(client, "POST", f"{server}{API}", json=chat_body(new_chat_id(), user("x")))
    assert types_of(chunks)[-6:] == ["text-delta", "text-end", "error", "finish-step", "finish", "[DONE]"]
    error = chunks[-4]
    assert set(error) == {"type", "errorText"} and error["errorText"]
    assert "Traceback" not in error["errorText"] and "File " not in error["errorText"]
    assert chunks[-2]["messageMetadata"]["status"] == "failed"


def test_an_upstream_that_refuses_to_open_is_an_error_chunk_too(server, client, fake_openai):
    fake_openai.scenario = Scenario(status_before_stream=500)
    _, chunks = stream(client, "POST", f"{server}{API}", json=chat_body(new_chat_id(), user("x")))
    assert types_of(chunks) == ["start", "start-step", "error", "finish-step", "finish", "[DONE]"]


def test_chat_ids_are_per_api_key(server_with_fake, client, fake_openai):
    keys = {"alice": hash_api_key("key-alice"), "bob": hash_api_key("key-bob")}
    server = server_with_fake(api_keys=keys, default_model="fake-responses")
    alice, bob = {"authorization": "Bearer key-alice"}, {"authorization": "Bearer key-bob"}
    fake_openai.scenario = Scenario(tokens=2)
    chat_id = new_chat_id()
    stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("alice's secret")), headers=alice)
    assert history(client, server, chat_id, headers=bob) == []
    stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("bob's")), headers=bob)
    assert history(client, server, chat_id, headers=alice)[0]["parts"][0]["text"] == "alice's secret"
    assert history(client, server, chat_id, headers=bob)[0]["parts"][0]["text"] == "bob's"
    assert client.post(f"{server}{API}", json=chat_body(chat_id, user("x"))).status_code == 401


def test_the_first_two_requests_of_a_new_chat_make_one_conversation(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    chat_id = new_chat_id()
    results: list[int] = []

    def post(text: str) -> None:
        with (
            httpx.Client(timeout=30) as own,
            own.stream("POST", f"{server}{API}", json=chat_body(chat_id, user(text))) as response,
        ):
            response.read()
            results.append(response.status_code)

    threads = [threading.Thread(target=post, args=(f"q{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) in ([200, 200], [200, 409]), results
    assert len(client.get(f"{server}/api/conversations").json()["data"]) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"id": "../x", "messages": [user("x")]}, "id"),
        ({"id": "ok", "messages": []}, "messages"),
        ({"id": "ok", "messages": [assistant("not a question")]}, "messages"),
        ({"id": "ok", "messages": [user("x")], "trigger": "resume-everything"}, "trigger"),
        ({"id": "ok", "messages": [{"role": "robot", "parts": []}]}, "messages.0.role"),
    ],
)
def test_bad_requests_get_a_clear_4xx(server, client, body, field):
    response = client.post(f"{server}{API}", json=body)
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["field"] == field


def test_openapi_declares_the_endpoint_its_resume_route_and_its_history(server, client):
    paths = client.get(f"{server}/openapi.json").json()["paths"]
    assert "post" in paths[API]
    assert "text/event-stream" in paths[API]["post"]["responses"]["200"]["content"]
    assert "204" in paths[f"{API}/{{chat_id}}/stream"]["get"]["responses"]
    assert "get" in paths[f"{API}/{{chat_id}}/messages"]


def test_a_retry_with_the_same_client_request_id_attaches_to_the_same_reply(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5)
    chat_id = new_chat_id()
    body = chat_body(chat_id, user("once"), clientRequestId=f"retry-{chat_id}")
    _, first = stream(client, "POST", f"{server}{API}", json=body)
    _, again = stream(client, "POST", f"{server}{API}", json=body)
    assert again[0]["messageId"] == first[0]["messageId"]
    assert text_of(again) == text_of(first) == expected_text(fake_openai.scenario)
    assert fake_openai.stats.requests_total == 1
    assert len(history(client, server, chat_id)) == 2


def test_the_endpoint_follows_the_edge_rules_json_only_and_known_hosts(server, client):
    body = orjson.dumps(chat_body(new_chat_id(), user("x")))
    response = client.post(f"{server}{API}", content=body, headers={"content-type": "text/plain"})
    assert response.status_code == 415 and response.json()["error"]["code"]
    response = client.post(
        f"{server}{API}", content=body, headers={"content-type": "application/json", "host": "evil.example"}
    )
    assert response.status_code in (400, 421) and response.json()["error"]["code"]
    assert client.get(f"{server}{API}/..%2Fx/stream").status_code in (404, 422)


def test_reasoning_streams_as_a_reasoning_part_before_the_text_and_is_kept_in_the_history(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=3, reasoning=4)
    chat_id = new_chat_id()
    _, chunks = stream(client, "POST", f"{server}{API}", json=chat_body(chat_id, user("think"), model="fake-chat"))
    assert types_of(chunks) == [
        "start",
        "start-step",
        "reasoning-start",
        *["reasoning-delta"] * 4,
        "reasoning-end",
        "text-start",
        *["text-delta"] * 3,
        "text-end",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    reasoning = "".join(c["delta"] for c in chunks[:-1] if c["type"] == "reasoning-delta")
    assert reasoning == expected_reasoning(fake_openai.scenario, "chat")
    assert chunks[-2]["messageMetadata"]["reasoningSeconds"] >= 0
    stored = history(client, server, chat_id)[-1]
    assert stored["parts"] == [
        {"type": "reasoning", "text": reasoning},
        {"type": "text", "text": expected_text(fake_openai.scenario)},
    ]
