"""The reply routes are served by raw handlers (``fastpath``), everything else by FastAPI, and cross-origin
requests pass the CORS middleware first. Every request enters through the same edge, so they all answer
alike: same statuses, same error bodies, a request id on each (issue 11, finding 7)."""

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
    # Finding 7: empty bodies, invalid UTF-8 and lone surrogates are one error, on every route.
    ("POST", "/api/chat/stream", {"content": b"", "headers": {"content-type": "application/json"}}),
    (
        "POST",
        "/api/chat/stream",
        {"content": b'{"userInput": "\xff"}', "headers": {"content-type": "application/json"}},
    ),
    (
        "POST",
        "/api/chat/stream",
        {"content": b'{"userInput": "\\ud800"}', "headers": {"content-type": "application/json"}},
    ),
    ("POST", "/api/chat", {"content": b'{"userInput": "\xff"}', "headers": {"content-type": "application/json"}}),
    ("POST", "/api/conversations", {"content": b'{"title": "\xff"}', "headers": {"content-type": "application/json"}}),
    # Finding 4: JSON endpoints take JSON only.
    ("POST", "/api/chat/stream", {"content": b'{"userInput": "x"}', "headers": {"content-type": "text/plain"}}),
    ("POST", "/api/conversations", {"content": b"{}", "headers": {"content-type": "text/plain"}}),
    # Finding 2: what str.isdigit() takes and int() refuses, and ids past int()'s digit limit.
    ("GET", "/api/streams/rep_missing", {"headers": {"last-event-id": "9" * 5000}}),
    ("GET", "/api/streams/rep_missing", {"headers": {"last-event-id": b"\xb2"}}),
    ("GET", "/api/streams/rep_missing?lastEventId=%C2%B2", {}),
    # Finding 9: strict types, blank input, a replace without its conversation.
    ("POST", "/api/chat/stream", {"json": {"userInput": "x", "temperature": True}}),
    ("POST", "/api/chat/stream", {"json": {"userInput": "x", "maxOutputTokens": "5"}}),
    ("POST", "/api/chat/stream", {"json": {"userInput": " \n\t "}}),
    ("POST", "/api/chat/stream", {"json": {"userInput": "x", "replaceFromMessageId": "msg_1"}}),
]

EXPECTED = {
    8: (400, "invalid_json"),
    9: (400, "invalid_json"),
    10: (400, "invalid_json"),
    11: (400, "invalid_json"),
    12: (400, "invalid_json"),
    13: (415, "unsupported_media_type"),
    14: (415, "unsupported_media_type"),
    15: (400, "invalid_field"),
    16: (400, "invalid_field"),
    17: (400, "invalid_field"),
    18: (422, "invalid_field"),
    19: (422, "invalid_field"),
    20: (422, "invalid_field"),
    21: (422, "invalid_field"),
}


@pytest.mark.parametrize(("case", "method", "path", "kwargs"), [(i, *c) for i, c in enumerate(CASES)])
def test_errors_are_the_same_on_both_paths(server, client, case, method, path, kwargs):
    headers = {**KEY, **kwargs.pop("headers", {})}
    fast = client.request(method, f"{server}{path}", headers=headers, **kwargs)
    framework = client.request(method, f"{server}{path}", headers={**headers, **ORIGIN}, **kwargs)
    assert fast.status_code == framework.status_code >= 400
    assert fast.json() == framework.json()
    if case in EXPECTED:
        assert (fast.status_code, fast.json()["error"]["code"]) == EXPECTED[case]
    assert len(fast.text) < 400, "an error echoes at most a short form of the input"
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


DUPLICATE_KEYS = [("authorization", "Bearer k"), ("authorization", "Bearer other")]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/chat/stream", {"userInput": "x"}),
        ("GET", "/api/streams/rep_x", None),
        ("GET", "/api/models", None),
    ],
)
def test_two_authorization_headers_are_refused_on_every_route(server, client, method, path, body):
    for extra in ([], [("origin", ORIGIN["origin"])]):
        response = client.request(method, f"{server}{path}", json=body, headers=DUPLICATE_KEYS + extra)
        assert response.status_code == 400
        assert response.json()["error"] == {
            "code": "invalid_field",
            "message": "Authorization: send one Authorization header, not several",
            "field": "Authorization",
        }
        assert response.headers["x-request-id"]


def test_the_first_well_formed_request_id_wins_on_every_route(server, client):
    ids = [("x-request-id", "not valid!"), ("x-request-id", "first-id"), ("x-request-id", "second-id")]
    for method, path in (("GET", "/api/streams/rep_x"), ("GET", "/api/models")):
        for extra in ([], [("origin", ORIGIN["origin"])]):
            response = client.request(method, f"{server}{path}", headers=[*KEY.items(), *ids, *extra])
            assert response.headers["x-request-id"] == "first-id"


def test_an_error_opening_the_model_carries_the_request_id(server, client, fake_openai):
    fake_openai.scenario = Scenario(status_before_stream=401)
    body = {"userInput": "x", "model": "fake-chat"}
    for extra in ({}, ORIGIN):
        response = client.post(
            f"{server}/api/chat/stream", json=body, headers={**KEY, **extra, "x-request-id": "open-fails"}
        )
        assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_auth"
        assert response.headers["x-request-id"] == "open-fails"
