"""Full-text search over titles and messages: ranked, with snippets, paged, owner-scoped; both databases."""

from __future__ import annotations

import pytest

from rillchat.api.edge import hash_api_key
from tests.archive.corpus import conversation, export_file
from tests.fakes.openai_server import Scenario

ALICE = {"authorization": "Bearer key-alice"}
BOB = {"authorization": "Bearer key-bob"}


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url)


def _import(client, server, *conversations, headers=None):
    response = client.post(f"{server}/api/conversations/import", json=export_file(list(conversations)), headers=headers)
    assert response.status_code == 201, response.text
    return [c["id"] for c in response.json()["conversations"]]


def _search(client, server, q, **params):
    response = client.get(
        f"{server}/api/conversations/search", params={"q": q, **params}, headers=params.pop("headers", None)
    )
    assert response.status_code == 200, response.text
    return response.json()


def _marked(parts):
    return "".join(f"[{p['text']}]" if p["match"] else p["text"] for p in parts)


def test_a_word_from_the_middle_of_a_conversation_finds_it_with_a_snippet(server, client):
    middle = "The quick brown fox jumps over the lazy dog near the riverbank at dawn, then runs home."
    ids = _import(
        client,
        server,
        conversation("Animals", "Tell me a story", middle, "Thanks!", day=1),
        conversation("Cooking", "How long to boil an egg?", "About nine minutes.", day=2),
    )
    page = _search(client, server, "riverbank")
    assert [r["id"] for r in page["data"]] == [ids[0]]
    hit = page["data"][0]
    assert hit["title"] == "Animals" and hit["role"] == "assistant" and hit["titleMatch"] is None
    messages = client.get(f"{server}/api/conversations/{ids[0]}").json()["messages"]
    assert hit["messageId"] == messages[1]["id"]
    assert "[riverbank]" in _marked(hit["snippet"])
    assert "".join(p["text"] for p in hit["snippet"]).replace("…", "").strip() in middle


def test_every_word_must_match_and_the_last_one_matches_as_a_prefix(server, client):
    ids = _import(
        client,
        server,
        conversation("One", "purple elephants dancing", day=1),
        conversation("Two", "purple giraffes", day=2),
    )
    assert [r["id"] for r in _search(client, server, "purple ele")["data"]] == [ids[0]]
    assert {r["id"] for r in _search(client, server, "PURPLE")["data"]} == set(ids)
    assert _search(client, server, "purple zebra")["data"] == []
    # Query syntax is not syntax: quotes, stars, colons and operators are just punctuation.
    assert [r["id"] for r in _search(client, server, '"elephants": * ( -')["data"]] == [ids[0]]
    assert _search(client, server, "!!! ???")["data"] == []


def test_title_matches_rank_first_and_are_highlighted(server, client):
    ids = _import(
        client,
        server,
        conversation("Notes", "I once read about volcanoes in a book", day=1),
        conversation("Volcanoes of Iceland", "Which ones erupted lately?", day=2),
    )
    data = _search(client, server, "volcanoes")["data"]
    assert [r["id"] for r in data] == [ids[1], ids[0]]
    assert _marked(data[0]["titleMatch"]) == "[Volcanoes] of Iceland"
    assert data[0]["snippet"] is None and data[1]["titleMatch"] is None


def test_results_are_paged_with_a_cursor(server, client):
    ids = _import(
        client, server, *[conversation(f"Topic {i}", f"shared keyword plus {i}", day=i + 1) for i in range(5)]
    )
    seen = []
    page = _search(client, server, "keyword", limit=2)
    while True:
        seen += [r["id"] for r in page["data"]]
        if page["nextCursor"] is None:
            break
        page = _search(client, server, "keyword", limit=2, cursor=page["nextCursor"])
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    bad = client.get(f"{server}/api/conversations/search", params={"q": "x", "cursor": "nope"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "cursor"
    assert client.get(f"{server}/api/conversations/search").status_code == 422


def test_replies_renames_edits_and_deletes_are_searchable_as_they_happen(server, client, fake_openai):
    """The index follows every write: a new turn, the reply's final text, a rename, an edit, a delete."""
    fake_openai.scenario = Scenario(tokens=3, token_text=["zeppelin ", "over ", "Lisbon "])
    conversation_id = client.post(f"{server}/api/conversations", json={}).json()["id"]
    base = {"model": "fake-chat", "conversationId": conversation_id}
    client.post(f"{server}/api/chat", json={**base, "userInput": "tell me about airships"}).raise_for_status()
    assert [r["id"] for r in _search(client, server, "airships")["data"]] == [conversation_id]
    found = _search(client, server, "zeppelin lisbon")["data"]
    assert [r["id"] for r in found] == [conversation_id] and found[0]["role"] == "assistant"

    client.patch(f"{server}/api/conversations/{conversation_id}", json={"title": "Blimp history"}).raise_for_status()
    assert _search(client, server, "blimp")["data"][0]["titleMatch"] is not None

    first_user = client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"][0]["id"]
    edited = {**base, "userInput": "tell me about hovercraft", "replaceFromMessageId": first_user}
    client.post(f"{server}/api/chat", json=edited).raise_for_status()
    # An edit adds a version; the earlier one is kept (a branch of the conversation), so it is still found.
    assert [r["id"] for r in _search(client, server, "airships")["data"]] == [conversation_id]
    assert [r["id"] for r in _search(client, server, "hovercraft")["data"]] == [conversation_id]

    client.delete(f"{server}/api/conversations/{conversation_id}").raise_for_status()
    assert _search(client, server, "hovercraft")["data"] == []
    assert _search(client, server, "blimp")["data"] == []


def test_another_keys_conversations_never_appear(server_with_fake, database_url, client):
    keys = {"alice": hash_api_key("key-alice"), "bob": hash_api_key("key-bob")}
    server = server_with_fake(database_url=database_url, api_keys=keys)
    alice = _import(client, server, conversation("Alice's secret", "the password is swordfish"), headers=ALICE)
    bob = _import(client, server, conversation("Bob's", "swordfish recipes"), headers=BOB)
    for who, mine in ((ALICE, alice), (BOB, bob)):
        response = client.get(f"{server}/api/conversations/search", params={"q": "swordfish"}, headers=who)
        assert [r["id"] for r in response.json()["data"]] == mine
    assert client.get(f"{server}/api/conversations/search", params={"q": "swordfish"}).status_code == 401
