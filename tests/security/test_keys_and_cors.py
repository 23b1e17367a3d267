"""API keys, ownership (another key's things are 404, never 403), CORS, request ids."""

from __future__ import annotations

import httpx
import pytest

from rillchat.api.edge import hash_api_key
from tests.fakes.openai_server import Scenario
from tests.helpers import sse_events

ALICE = {"authorization": "Bearer key-alice"}
BOB = {"authorization": "Bearer key-bob"}


@pytest.fixture
def server(server_with_fake):
    keys = {"alice": hash_api_key("key-alice"), "bob": hash_api_key("key-bob")}
    return server_with_fake(api_keys=keys, cors_origins=["http://localhost:3000"])


@pytest.fixture
def alice_world(server, client, fake_openai):
    """A conversation of Alice's with a finished reply, and a stateless reply of hers."""
    fake_openai.scenario = Scenario(tokens=3)
    conversation_id = client.post(f"{server}/api/conversations", json={}, headers=ALICE).json()["id"]
    body = {"userInput": "hi", "model": "fake-responses", "conversationId": conversation_id, "clientRequestId": "a-1"}
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json=body, headers=ALICE)
    return conversation_id, events[0].data["replyId"]


def routes(conversation_id: str, reply_id: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", "/api/models", None),
        ("GET", "/api/conversations", None),
        ("POST", "/api/conversations", {}),
        ("GET", f"/api/conversations/{conversation_id}", None),
        ("PATCH", f"/api/conversations/{conversation_id}", {"title": "mine now"}),
        ("DELETE", f"/api/conversations/{conversation_id}", None),
        ("POST", "/api/chat", {"userInput": "x", "model": "fake-chat", "conversationId": conversation_id}),
        ("POST", "/api/chat/stream", {"userInput": "x", "model": "fake-chat", "conversationId": conversation_id}),
        ("GET", f"/api/streams/{reply_id}", None),
        ("POST", f"/api/streams/{reply_id}/stop", None),
    ]


def test_every_api_route_needs_a_valid_key(server, client, alice_world):
    for method, path, body in routes(*alice_world):
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "Basic a2V5LWFsaWNl"}):
            response = client.request(method, f"{server}{path}", json=body, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_another_keys_conversations_and_replies_do_not_exist_for_you(server, client, alice_world):
    conversation_id, reply_id = alice_world
    owned = {p for _, p, _ in routes(conversation_id, reply_id) if conversation_id in p or reply_id in p}
    owned |= {"/api/chat", "/api/chat/stream"}
    for method, path, body in routes(conversation_id, reply_id):
        response = client.request(method, f"{server}{path}", json=body, headers=BOB)
        if path in owned:
            assert response.status_code == 404, (method, path, response.text)
            assert conversation_id not in response.text or "not found" in response.text
        else:
            assert response.status_code < 400, (method, path, response.text)
    bobs = client.get(f"{server}/api/conversations", headers=BOB).json()["data"]
    assert conversation_id not in {c["id"] for c in bobs} and len(bobs) == 1  # only the one Bob created
    # Alice still has everything, untouched by Bob's attempts.
    mine = client.get(f"{server}/api/conversations/{conversation_id}", headers=ALICE).json()
    assert mine["title"] != "mine now" and len(mine["messages"]) == 2
    assert len(client.get(f"{server}/api/conversations", headers=ALICE).json()["data"]) == 1


def test_a_retry_id_of_another_key_does_not_attach_to_its_reply(server, client, alice_world, fake_openai):
    conversation_id = client.post(f"{server}/api/conversations", json={}, headers=BOB).json()["id"]
    body = {"userInput": "hi", "model": "fake-responses", "conversationId": conversation_id, "clientRequestId": "a-1"}
    response = client.post(f"{server}/api/chat", json=body, headers=BOB)
    # Request ids are per owner (issue 11): bob's "a-1" is a new request of his, not a look at alice's.
    assert response.status_code == 200
    assert response.json()["replyId"] != alice_world[1] and response.json()["conversationId"] == conversation_id


def test_ids_are_unguessable(server, client, alice_world):
    conversation_id, reply_id = alice_world
    for value in (conversation_id, reply_id):
        _, _, token = value.partition("_")
        assert len(token) >= 22  # 128 random bits


def test_every_response_carries_a_request_id_and_a_valid_one_sent_is_echoed(server, client):
    for response in (
        client.get(f"{server}/api/models", headers=ALICE),
        client.get(f"{server}/api/models"),
        client.get(f"{server}/api/conversations/nope", headers=ALICE),
        client.post(f"{server}/api/chat", json={}, headers=ALICE),
        client.get(f"{server}/healthz"),
    ):
        assert len(response.headers["x-request-id"]) >= 16
    echoed = client.get(f"{server}/api/models", headers={**ALICE, "x-request-id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"
    forged = client.get(f"{server}/api/models", headers={**ALICE, "x-request-id": "bad id\r\x00<script>"[:6]})
    assert forged.headers["x-request-id"] != "bad id"


def test_cors_preflight_from_an_allowed_origin_is_answered(server, client):
    response = client.options(
        f"{server}/api/chat/stream",
        headers={
            "origin": "http://localhost:3000",
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert response.headers["access-control-allow-credentials"] == "true"
    unauthorized = client.get(f"{server}/api/models", headers={"origin": "http://localhost:3000"})
    assert unauthorized.status_code == 401
    assert unauthorized.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_cors_preflight_from_another_origin_is_refused(server, client):
    response = client.options(
        f"{server}/api/chat/stream",
        headers={"origin": "http://evil.example", "access-control-request-method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    simple = client.get(f"{server}/api/models", headers={**ALICE, "origin": "http://evil.example"})
    assert "access-control-allow-origin" not in simple.headers


def test_cors_is_off_by_default_and_a_wildcard_never_allows_credentials(server_with_fake, client):
    plain = server_with_fake()
    response = client.options(
        f"{plain}/api/chat/stream", headers={"origin": "http://localhost:3000", "access-control-request-method": "POST"}
    )
    assert "access-control-allow-origin" not in response.headers
    open_server = server_with_fake(cors_origins=["*"])
    response = client.options(
        f"{open_server}/api/chat/stream",
        headers={"origin": "http://a.example", "access-control-request-method": "POST"},
    )
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


def test_keys_are_off_by_default(server_with_fake, client):
    assert client.get(f"{server_with_fake()}/api/models").status_code == 200


def test_hash_key_command_prints_what_the_config_stores():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "rillchat.cli.main", "hash-key", "key-alice"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == hash_api_key("key-alice") and "key-alice" not in out


def test_the_guides_frontend_on_another_port_can_stream(server_with_fake, client, fake_openai):
    """One line of config lets the guide's React app on :3000 use rillchat (a browser sends Origin)."""
    fake_openai.scenario = Scenario(tokens=4)
    base = server_with_fake(cors_origins=["http://localhost:3000"])
    with httpx.stream(
        "POST",
        f"{base}/api/chat/stream",
        json={"userInput": "hi", "messages": [], "model": "fake-responses"},
        headers={"origin": "http://localhost:3000"},
    ) as response:
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "".join(response.iter_text()) == "tok0 tok1 tok2 tok3 "
