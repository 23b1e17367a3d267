"""What a web page on another site, or a DNS-rebinding attacker, can make a local rillchat do (issue 11):
the Host header must name this server, JSON endpoints take JSON only, and with keys on, metrics and the
API docs are closed unless opened by a setting."""

from __future__ import annotations

import pytest

from rillchat.api.edge import hash_api_key

KEY = {"authorization": "Bearer k"}


def test_a_foreign_host_name_is_refused_everywhere_but_the_health_probes(server_with_fake, client):
    server = server_with_fake()
    rebound = {"host": "attacker.example"}
    for path in ("/api/conversations", "/api/models", "/", "/api/streams/rep_x", "/metrics", "/docs"):
        response = client.get(f"{server}{path}", headers=rebound)
        assert response.status_code == 400, path
        assert response.json()["error"]["code"] == "host_not_allowed"
        assert response.headers["x-request-id"]
    response = client.post(f"{server}/api/chat/stream", json={"userInput": "x"}, headers=rebound)
    assert response.status_code == 400 and response.json()["error"]["code"] == "host_not_allowed"
    for path in ("/healthz", "/readyz"):
        assert client.get(f"{server}{path}", headers=rebound).status_code == 200
    port = server.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "LOCALHOST"):
        assert client.get(f"{server}/api/models", headers={"host": host}).status_code == 200, host


def test_allowed_hosts_widen_the_list_with_names_and_wildcards(server_with_fake, client):
    server = server_with_fake(allowed_hosts=["chat.example.com", "*.internal.example"])
    for host, status in (
        ("chat.example.com", 200),
        ("chat.example.com:8443", 200),
        ("a.internal.example", 200),
        ("internal.example", 400),
        ("127.0.0.1", 400),
        ("chat.example.com.attacker.example", 400),
    ):
        assert client.get(f"{server}/api/models", headers={"host": host}).status_code == status, host
    anything = server_with_fake(allowed_hosts=["*"])
    assert client.get(f"{anything}/api/models", headers={"host": "whatever.example"}).status_code == 200


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_cross_site_simple_post_cannot_start_a_reply(server_with_fake, client, content_type):
    server = server_with_fake()
    for path in ("/api/chat/stream", "/api/chat", "/api/conversations"):
        response = client.post(f"{server}{path}", content=b'{"userInput": "x"}', headers={"content-type": content_type})
        assert response.status_code == 415, path
        assert response.json()["error"]["code"] == "unsupported_media_type"
    assert client.get(f"{server}/api/conversations").json()["data"] == []


def test_a_body_without_a_content_type_is_refused_and_json_variants_are_taken(server_with_fake, client):
    server = server_with_fake()
    bare = client.post(f"{server}/api/conversations", content=b"{}", headers={"content-type": ""})
    assert bare.status_code == 415
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json", "Application/JSON"):
        response = client.post(f"{server}/api/conversations", content=b"{}", headers={"content-type": content_type})
        assert response.status_code == 201, content_type
    # A bodiless POST needs no content type (stop takes none).
    assert client.post(f"{server}/api/streams/rep_missing/stop").status_code == 404


def test_with_keys_on_metrics_and_docs_need_a_key_unless_opened(server_with_fake, client):
    closed = server_with_fake(api_keys={"me": hash_api_key("k")})
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        assert client.get(f"{closed}{path}").status_code == 401, path
        assert client.get(f"{closed}{path}", headers=KEY).status_code == 200, path
    assert client.get(f"{closed}/healthz").status_code == 200
    opened = server_with_fake(api_keys={"me": hash_api_key("k")}, public_metrics=True, public_docs=True)
    for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
        assert client.get(f"{opened}{path}").status_code == 200, path
    keys_off = server_with_fake()
    assert client.get(f"{keys_off}/metrics").status_code == 200


def test_blank_titles_are_refused(server_with_fake, client):
    server = server_with_fake()
    assert client.post(f"{server}/api/conversations", json={"title": "  \n "}).status_code == 422
    conversation = client.post(f"{server}/api/conversations", json={"title": "  kept  "}).json()
    assert conversation["title"] == "kept"
    response = client.patch(f"{server}/api/conversations/{conversation['id']}", json={"title": "\t"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "title"
    assert client.post(f"{server}/api/conversations", json={"title": 5}).status_code == 422


def test_an_error_echoes_only_a_short_form_of_the_input(server_with_fake, client):
    server = server_with_fake()
    huge = "c" * 500_000
    for response in (
        client.post(f"{server}/api/chat/stream", json={"userInput": "x", "conversationId": huge}),
        client.get(f"{server}/api/conversations/{'c' * 5000}"),
        client.post(f"{server}/api/chat", json={"userInput": "x", "model": huge}),
    ):
        assert response.status_code in (404, 413, 422), response.text[:200]
        assert len(response.content) < 500


def test_every_response_carries_the_security_headers(server_with_fake, client):
    server = server_with_fake()
    for response in (
        client.get(f"{server}/"),
        client.get(f"{server}/guide.html"),
        client.get(f"{server}/api/models"),
        client.get(f"{server}/api/streams/rep_missing"),
        client.post(f"{server}/api/chat/stream", json={}),
        client.get(f"{server}/api/conversations", headers={"host": "attacker.example"}),
    ):
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
