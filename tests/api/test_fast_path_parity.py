"""The streaming routes answer through a raw-ASGI fast path, except for cross-origin requests, which go
through FastAPI so the CORS middleware runs. Both paths must give the same answers."""

from __future__ import annotations

import pytest

from rillchat.api.edge import hash_api_key
from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import sse_events, text_of

ORIGIN = {"origin": "http://localhost:3000"}
KEY = {"authorization": "Bearer k"}


@pytest.fixture
def server(server_with_fake):
    return server_with_fake(
        cors_origins=["http://localhost:3000"], api_keys={"me": hash_api_key("k")}, max_body_bytes=5_000
    )


CASES = [
    ("POST", "/api/chat/stream", {"json": {"userInput": "x", "temperature": 9}}),
    ("POST", "/api/chat/stream", {"json": {}}),
    ("POST", "/api/chat/stream", {"content": b"{nope", "headers": {"content-type": "application/json"}}),
    ("POST", "/api/chat/stream", {"json": {"userInput": "x" * 6_000}}),
    ("POST", "/api/chat/stream", {"json": {"userInput": "x", "model": "missing"}}),
    ("POST", "/api/chat/stream", {"json": {"userInput": "x", "conversationId": "conv_missing"}}),
    ("GET", "/api/streams/rep_missing", {}),
    ("GET", "/api/streams/rep_missing?lastEventId=abc", {}),
]


@pytest.mark.parametrize(("method", "path", "kwargs"), CASES)
def test_errors_are_the_same_on_both_paths(server, client, method, path, kwargs):
    headers = {**KEY, **kwargs.pop("headers", {})}
    fast = client.request(method, f"{server}{path}", headers=headers, **kwargs)
    framework = client.request(method, f"{server}{path}", headers={**headers, **ORIGIN}, **kwargs)
    assert fast.status_code == framework.status_code >= 400
    assert fast.json() == framework.json()
    assert fast.headers["x-request-id"] and framework.headers["x-request-id"]
    assert "access-control-allow-origin" in framework.headers and "access-control-allow-origin" not in fast.headers


def test_missing_keys_are_refused_on_both_paths(server, client):
    for headers in ({}, ORIGIN):
        response = client.post(f"{server}/api/chat/stream", json={"userInput": "x"}, headers=headers)
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_replies_are_the_same_on_both_paths(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=6)
    body = {"userInput": "x", "model": "fake-chat"}
    fast = sse_events(client, "POST", f"{server}/api/chat/stream", json=body, headers=KEY)
    framework = sse_events(client, "POST", f"{server}/api/chat/stream", json=body, headers={**KEY, **ORIGIN})
    assert text_of(fast) == text_of(framework) == expected_text(fake_openai.scenario)
    assert [e.event for e in fast] == [e.event for e in framework]
