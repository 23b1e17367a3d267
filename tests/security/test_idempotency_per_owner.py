"""A ``clientRequestId`` names a request among its owner's only (issue 11, finding 3): another key's use of
the same id neither blocks, reveals nor hijacks it. On one server (SQLite, PostgreSQL) and on two replicas
sharing PostgreSQL and Redis (the Redis claim)."""

from __future__ import annotations

import pytest

from rillchat.api.edge import hash_api_key
from tests.conftest import POSTGRES_URL, REDIS_URL, fake_upstreams
from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import sse_events, text_of

ALICE = {"authorization": "Bearer key-alice"}
BOB = {"authorization": "Bearer key-bob"}
KEYS = {"alice": hash_api_key("key-alice"), "bob": hash_api_key("key-bob")}


@pytest.fixture(params=["one server", "two replicas"])
def servers(request, fake_openai, database_url, make_settings, start_server) -> tuple[str, str]:
    """Where alice and bob send their requests: the same server, or two replicas of one cluster."""
    if request.param == "one server":
        server = start_server(
            make_settings(database_url=database_url, upstreams=fake_upstreams(fake_openai), api_keys=KEYS)
        )
        return server, server
    if not (POSTGRES_URL and REDIS_URL) or database_url.startswith("sqlite"):
        pytest.skip("the replicas share PostgreSQL and Redis (RILLCHAT_TEST_POSTGRES_URL, RILLCHAT_TEST_REDIS_URL)")
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = make_settings(
        database_url=database_url, redis_url=REDIS_URL, upstreams=fake_upstreams(fake_openai), api_keys=KEYS
    )
    return start_server(settings), start_server(settings)


def _start(client, server, headers, **body):
    return sse_events(
        client,
        "POST",
        f"{server}/api/chat/stream",
        json={"userInput": "hi", "model": "fake-chat", **body},
        headers=headers,
    )


def test_a_stateless_request_id_is_per_owner(servers, client, fake_openai):
    alice_server, bob_server = servers
    fake_openai.scenario = Scenario(tokens=3)
    first = _start(client, alice_server, ALICE, clientRequestId="shared-1")
    bobs = _start(client, bob_server, BOB, clientRequestId="shared-1")
    retry = _start(client, alice_server, ALICE, clientRequestId="shared-1")
    assert bobs[0].data["replyId"] != first[0].data["replyId"], "bob got a reply of his own"
    assert retry[0].data["replyId"] == first[0].data["replyId"], "alice's retry attached to her reply"
    assert text_of(bobs) == text_of(retry) == expected_text(fake_openai.scenario)
    assert fake_openai.stats.requests_total == 2


def test_a_conversation_request_id_is_per_owner(servers, client, fake_openai):
    alice_server, bob_server = servers
    fake_openai.scenario = Scenario(tokens=3)
    mine = client.post(f"{alice_server}/api/conversations", json={}, headers=ALICE).json()["id"]
    theirs = client.post(f"{bob_server}/api/conversations", json={}, headers=BOB).json()["id"]
    bobs = _start(client, bob_server, BOB, conversationId=theirs, clientRequestId="shared-2")
    # Used by bob or unused, the answer alice gets is the same: her own new reply.
    first = _start(client, alice_server, ALICE, conversationId=mine, clientRequestId="shared-2")
    retry = _start(client, alice_server, ALICE, conversationId=mine, clientRequestId="shared-2")
    assert first[0].data["replyId"] != bobs[0].data["replyId"]
    assert retry[0].data["replyId"] == first[0].data["replyId"]
    stored = client.get(f"{alice_server}/api/conversations/{mine}", headers=ALICE).json()["messages"]
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert fake_openai.stats.requests_total == 2
