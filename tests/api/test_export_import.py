"""Export (JSON, Markdown; one or all) and import (ours, ChatGPT's), per key, all-or-nothing; both databases."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from rillchat.api.edge import hash_api_key
from tests.archive.corpus import conversation, export_file
from tests.fakes.openai_server import Scenario

CHATGPT_SAMPLE = Path(__file__).resolve().parent.parent / "archive" / "chatgpt_conversations.json"
ALICE = {"authorization": "Bearer key-alice"}
BOB = {"authorization": "Bearer key-bob"}
KEEP = ("title", "createdAt", "updatedAt", "settings")
KEEP_MESSAGE = ("role", "content", "status", "finishReason", "error", "model", "usage", "createdAt", "updatedAt")


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url)


def _comparable(exported: dict) -> list[dict]:
    """What an export says about its conversations, without this server's ids."""
    return [
        {**{k: c[k] for k in KEEP}, "messages": [{k: m[k] for k in KEEP_MESSAGE} for m in c["messages"]]}
        for c in exported["conversations"]
    ]


def _everything(client, server, headers=None) -> dict:
    response = client.get(f"{server}/api/conversations/export", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _fill_with_chats(client, server, fake_openai) -> list[str]:
    fake_openai.scenario = Scenario(tokens=4)
    ids = []
    for i, (title, settings) in enumerate(
        [("Rivers", {"temperature": 0.0}), ("Mountains", {"instructions": "Be brief."})]
    ):
        conversation_id = client.post(f"{server}/api/conversations", json={"title": title, **settings}).json()["id"]
        for turn in range(2):
            body = {"userInput": f"question {i}.{turn}", "model": "fake-chat", "conversationId": conversation_id}
            client.post(f"{server}/api/chat", json=body).raise_for_status()
        ids.append(conversation_id)
    fake_openai.scenario = Scenario(tokens=5, fail_after=2)
    body = {"userInput": "this one fails", "model": "fake-responses", "conversationId": ids[0]}
    assert client.post(f"{server}/api/chat", json=body).status_code == 502
    return ids


def test_export_everything_then_import_it_into_a_fresh_server_gives_the_same_conversations(
    server, server_with_fake, client, fake_openai, tmp_path
):
    ids = _fill_with_chats(client, server, fake_openai)
    response = client.get(f"{server}/api/conversations/export")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith('attachment; filename="rillchat-conversations-')
    exported = response.json()
    assert exported["format"] == "rillchat-export" and exported["version"] == 1
    assert [c["id"] for c in exported["conversations"]] == ids  # oldest first
    first = exported["conversations"][0]
    assert first["settings"] == {"model": None, "instructions": None, "temperature": 0.0}
    assert [m["status"] for m in first["messages"]] == [
        "completed",
        "completed",
        "completed",
        "completed",
        "completed",
        "failed",
    ]
    assert first["messages"][1]["usage"]["outputTokens"] == 4 and first["messages"][1]["model"] == "fake-chat"
    assert first["messages"][-1]["error"]["code"]

    fresh = server_with_fake(database_url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}")
    imported = client.post(
        f"{fresh}/api/conversations/import", content=response.content, headers={"content-type": "application/json"}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["imported"] == 2
    new_ids = [c["id"] for c in imported.json()["conversations"]]
    assert not set(new_ids) & set(ids)
    again = _everything(client, fresh)
    assert _comparable(again) == _comparable(exported)
    listed = client.get(f"{fresh}/api/conversations").json()["data"]
    original = client.get(f"{server}/api/conversations").json()["data"]
    assert [c["title"] for c in listed] == [c["title"] for c in original] == ["Rivers", "Mountains"]


def test_importing_twice_adds_copies_and_overwrites_nothing(server, client):
    body = export_file([conversation("Only one", "hello", "hi there")])
    first = client.post(f"{server}/api/conversations/import", json=body).json()["conversations"][0]["id"]
    second = client.post(f"{server}/api/conversations/import", json=body).json()["conversations"][0]["id"]
    assert first != second
    assert len(client.get(f"{server}/api/conversations").json()["data"]) == 2


def test_one_conversation_exports_alone_in_both_formats(server, client, fake_openai):
    ids = _fill_with_chats(client, server, fake_openai)
    one = client.get(f"{server}/api/conversations/{ids[1]}/export").json()
    assert [c["id"] for c in one["conversations"]] == [ids[1]] and one["version"] == 1
    markdown = client.get(f"{server}/api/conversations/{ids[1]}/export", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert markdown.headers["content-disposition"].endswith('.md"')
    text = markdown.text
    assert text.startswith("# Mountains\n") and "> Be brief." in text
    assert "### You · " in text and "### Assistant (fake-chat) · " in text and "question 1.1" in text
    assert "Rivers" not in text
    everything = client.get(f"{server}/api/conversations/export", params={"format": "markdown"}).text
    assert everything.index("# Rivers") < everything.index("# Mountains") and "\n---\n" in everything
    assert "*failed*" in everything
    assert client.get(f"{server}/api/conversations/conv_nope/export").status_code == 404
    assert client.get(f"{server}/api/conversations/export", params={"format": "pdf"}).status_code == 422


def test_an_empty_account_exports_a_valid_empty_file(server, client):
    assert _everything(client, server)["conversations"] == []
    assert "No conversations" in client.get(f"{server}/api/conversations/export", params={"format": "markdown"}).text


def test_a_chatgpt_export_imports_the_branch_that_was_on_screen(server, client):
    response = client.post(
        f"{server}/api/conversations/import",
        content=CHATGPT_SAMPLE.read_bytes(),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert [c["title"] for c in response.json()["conversations"]] == [
        "Sourdough starter troubles",
        "Convert Celsius in Python",
    ]
    exported = _everything(client, server)["conversations"]
    sourdough, celsius = exported
    assert [(m["role"], m["content"][:24]) for m in sourdough["messages"]] == [
        ("user", "My sourdough starter sme"),
        ("assistant", "Not dead, just hungry. T"),
        ("user", "Should I feed it rye or "),  # the edited branch, not the draft
        ("assistant", "Rye. It is rich in nutri"),
    ]
    assert sourdough["messages"][1]["model"] == "gpt-4o" and sourdough["messages"][0]["model"] is None
    assert sourdough["createdAt"] == "2024-06-01T10:00:00.123456Z"
    assert sourdough["messages"][1]["createdAt"] == "2024-06-01T10:00:12.250000Z"
    # The image part, the code sent to the tool and the tool's output are not conversation text.
    assert [(m["role"], m["content"]) for m in celsius["messages"]] == [
        ("user", "How do I convert Fahrenheit to Celsius in Python?"),
        ("assistant", "Use `c = (f - 32) * 5 / 9`; 100 °F is about 37.8 °C."),
    ]
    assert celsius["settings"]["instructions"] == "Answer with short code samples."
    found = client.get(f"{server}/api/conversations/search", params={"q": "acetone"}).json()["data"]
    assert [r["title"] for r in found] == ["Sourdough starter troubles"]


def _broken_files() -> list[tuple[str, bytes, str]]:
    """(what, file, the path the error must name)."""
    good = export_file([conversation("Fine", "a", "b", day=1), conversation("Also fine", "c", day=2)])
    cut = orjson.dumps(good)[:-40]
    bad_role = json.loads(json.dumps(good))
    bad_role["conversations"][1]["messages"][0]["role"] = "wizard"
    no_time = json.loads(json.dumps(good))
    del no_time["conversations"][0]["messages"][1]["createdAt"]
    future = {**good, "version": 7}
    sample = json.loads(CHATGPT_SAMPLE.read_text())
    sample[1]["current_node"] = "not-a-node"
    loop = json.loads(CHATGPT_SAMPLE.read_text())
    loop[0]["mapping"]["aaa1-root"]["parent"] = "aaa1-a2"
    no_mapping = json.loads(CHATGPT_SAMPLE.read_text())
    del no_mapping[1]["mapping"]
    return [
        ("cut short", cut, "file"),
        ("empty", b"", "file"),
        ("a wrong role", orjson.dumps(bad_role), "conversations[1].messages[0].role"),
        ("a missing time", orjson.dumps(no_time), "conversations[0].messages[1].createdAt"),
        ("a newer version", orjson.dumps(future), "version"),
        ("something else", b'{"hello": "world"}', "format"),
        ("a dangling current_node", orjson.dumps(sample), "[1] ('Convert Celsius in Python').current_node"),
        ("a parent loop", orjson.dumps(loop), "[0] ('Sourdough starter troubles').mapping"),
        ("no mapping", orjson.dumps(no_mapping), "[1] ('Convert Celsius in Python').mapping"),
    ]


@pytest.mark.parametrize(("what", "body", "field"), _broken_files(), ids=[b[0] for b in _broken_files()])
def test_a_broken_file_changes_nothing_and_the_error_names_what_is_wrong(server, client, what, body, field):
    client.post(
        f"{server}/api/conversations/import", json=export_file([conversation("Before", "kept")])
    ).raise_for_status()
    before = _everything(client, server)
    response = client.post(
        f"{server}/api/conversations/import", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_import" and error["field"] == field, error
    assert error["message"].startswith(f"{field}: ")
    assert _comparable(_everything(client, server)) == _comparable(before)


def test_nul_characters_that_postgresql_cannot_store_are_dropped(server, client):
    body = export_file([conversation("Zero\u0000width", "before\u0000after")])
    assert client.post(f"{server}/api/conversations/import", json=body).status_code == 201
    stored = _everything(client, server)["conversations"][0]
    assert (stored["title"], stored["messages"][0]["content"]) == ("Zerowidth", "beforeafter")


def test_imports_need_json_and_may_be_larger_than_other_bodies(server_with_fake, database_url, client):
    server = server_with_fake(database_url=database_url, max_body_bytes=2_000, max_import_bytes=200_000)
    form = client.post(f"{server}/api/conversations/import", content=b"a=b", headers={"content-type": "text/plain"})
    assert form.status_code == 415 and form.json()["error"]["code"] == "unsupported_media_type"
    big = export_file([conversation("Big", "word " * 5_000)])
    assert client.post(f"{server}/api/conversations/import", json=big).status_code == 201
    assert client.post(f"{server}/api/conversations", json={"title": "x" * 3_000}).status_code == 413
    huge = export_file([conversation("Huge", "word " * 50_000)])
    too_big = client.post(f"{server}/api/conversations/import", json=huge)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "payload_too_large"


def test_export_and_import_belong_to_the_key(server_with_fake, database_url, client):
    keys = {"alice": hash_api_key("key-alice"), "bob": hash_api_key("key-bob")}
    server = server_with_fake(database_url=database_url, api_keys=keys)
    mine = client.post(
        f"{server}/api/conversations/import", json=export_file([conversation("Alice's", "a")]), headers=ALICE
    )
    alice_id = mine.json()["conversations"][0]["id"]
    assert [c["title"] for c in _everything(client, server, ALICE)["conversations"]] == ["Alice's"]
    assert _everything(client, server, BOB)["conversations"] == []
    assert client.get(f"{server}/api/conversations/{alice_id}/export", headers=BOB).status_code == 404
    # Bob imports Alice's file: it becomes Bob's copy; Alice's stays hers and untouched.
    alice_file = client.get(f"{server}/api/conversations/export", headers=ALICE).content
    copied = client.post(
        f"{server}/api/conversations/import", content=alice_file, headers={**BOB, "content-type": "application/json"}
    )
    assert copied.status_code == 201
    assert [c["title"] for c in _everything(client, server, BOB)["conversations"]] == ["Alice's"]
    assert [c["id"] for c in _everything(client, server, ALICE)["conversations"]] == [alice_id]
    for path in ("/api/conversations/export", "/api/conversations/import"):
        assert client.request("GET" if "export" in path else "POST", f"{server}{path}", json={}).status_code == 401


def test_reasoning_goes_out_and_comes_back_in(server, client):
    """Issue 14's stored reasoning is part of the export, and an import keeps it."""
    file = export_file([conversation("Thinking", "What is 6 x 7?", "42")])
    file["conversations"][0]["messages"][1]["reasoning"] = "Six sevens: 35 and 7 more."
    assert client.post(f"{server}/api/conversations/import", json=file).status_code == 201
    exported = _everything(client, server)["conversations"][0]["messages"]
    assert exported[1]["reasoning"] == "Six sevens: 35 and 7 more." and "reasoning" not in exported[0]
    markdown = client.get(f"{server}/api/conversations/export", params={"format": "markdown"}).text
    assert "<summary>Thinking</summary>" in markdown and "Six sevens" in markdown
