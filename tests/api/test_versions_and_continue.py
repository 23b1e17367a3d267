"""Versions (regenerate and edit keep the earlier ones as branches of the conversation) and Continue (a reply
cut short carries on in the same message), over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import sse_events, text_of


@pytest.fixture
def server(server_with_fake, database_url):
    return server_with_fake(database_url=database_url)


def _conversation(client: httpx.Client, server: str) -> str:
    return client.post(f"{server}/api/conversations", json={}).json()["id"]


def _messages(client: httpx.Client, server: str, conversation_id: str) -> list[dict]:
    return client.get(f"{server}/api/conversations/{conversation_id}").json()["messages"]


def _turn(client: httpx.Client, server: str, conversation_id: str, model: str = "fake-responses", **body) -> list:
    request = {"model": model, "conversationId": conversation_id, **body}
    return sse_events(client, "POST", f"{server}/api/chat/stream", json=request)


def _sent_messages(fake_openai) -> list[tuple[str, str]]:
    """What the last upstream request carried as conversation (either wire format), without the system prompt."""
    body = fake_openai.requests[-1].json
    items = body.get("input") or body.get("messages")
    return [(m["role"], m["content"]) for m in items if m["role"] != "system"]


def test_regenerate_keeps_the_earlier_version_and_select_switches_between_them(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=3, token_text=["a "])
    conversation_id = _conversation(client, server)
    _turn(client, server, conversation_id, userInput="q1")
    first = _messages(client, server, conversation_id)
    assert first[0]["parentId"] is None and first[1]["parentId"] == first[0]["id"]
    assert first[1]["versionIds"] == [first[1]["id"]] and first[1]["versionIndex"] == 0
    fake_openai.scenario = Scenario(tokens=3, token_text=["b "])
    events = _turn(client, server, conversation_id, regenerateMessageId=first[1]["id"])
    assert events[0].data["userMessageId"] == first[0]["id"] and events[0].data["prefix"] == ""
    assert _sent_messages(fake_openai) == [("user", "q1")]
    second = _messages(client, server, conversation_id)
    assert [m["content"] for m in second] == ["q1", "b b b "]
    assert second[1]["id"] == events[0].data["assistantMessageId"] != first[1]["id"]
    assert second[1]["versionIds"] == [first[1]["id"], second[1]["id"]] and second[1]["versionIndex"] == 1
    assert second[1]["parentId"] == first[0]["id"]

    selected = client.post(f"{server}/api/conversations/{conversation_id}/select", json={"messageId": first[1]["id"]})
    assert selected.status_code == 200
    assert [m["content"] for m in selected.json()["messages"]] == ["q1", "a a a "]
    assert selected.json() == client.get(f"{server}/api/conversations/{conversation_id}").json()
    # The next turn follows the version shown.
    _turn(client, server, conversation_id, userInput="q2")
    assert _sent_messages(fake_openai) == [("user", "q1"), ("assistant", "a a a "), ("user", "q2")]
    assert [m["content"] for m in _messages(client, server, conversation_id)][:2] == ["q1", "a a a "]


def test_edit_adds_a_version_of_the_user_message_and_keeps_the_old_branch(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = _conversation(client, server)
    _turn(client, server, conversation_id, userInput="first")
    _turn(client, server, conversation_id, userInput="second")
    _turn(client, server, conversation_id, userInput="third")
    old = _messages(client, server, conversation_id)
    events = _turn(client, server, conversation_id, userInput="second, edited", replaceFromMessageId=old[2]["id"])
    assert text_of(events) == expected_text(fake_openai.scenario)
    assert _sent_messages(fake_openai)[-1] == ("user", "second, edited")
    assert len(_sent_messages(fake_openai)) == 3
    new = _messages(client, server, conversation_id)
    assert [m["content"] for m in new[::2]] == ["first", "second, edited"] and len(new) == 4
    assert new[2]["versionIds"] == [old[2]["id"], new[2]["id"]] and new[2]["versionIndex"] == 1
    assert new[2]["parentId"] == old[1]["id"]
    # Selecting the old version of the second message brings back its whole branch, down to "third".
    back = client.post(f"{server}/api/conversations/{conversation_id}/select", json={"messageId": old[2]["id"]})
    assert [m["id"] for m in back.json()["messages"]] == [m["id"] for m in old]
    # Selecting an earlier message follows the most recently created child below it.
    latest = client.post(f"{server}/api/conversations/{conversation_id}/select", json={"messageId": old[0]["id"]})
    assert [m["id"] for m in latest.json()["messages"]] == [m["id"] for m in new]


def test_versions_refuse_what_they_cannot_do_with_clear_4xx(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    conversation_id = _conversation(client, server)
    _turn(client, server, conversation_id, userInput="q")
    user, assistant = _messages(client, server, conversation_id)
    url = f"{server}/api/chat/stream"
    base = {"model": "fake-responses", "conversationId": conversation_id}
    cases = [
        ({**base, "regenerateMessageId": user["id"]}, 409, "not_an_assistant_message"),
        ({**base, "userInput": "x", "replaceFromMessageId": assistant["id"]}, 409, "not_a_user_message"),
        ({**base, "regenerateMessageId": "msg_nope"}, 404, "not_found"),
        ({**base, "continueMessageId": assistant["id"]}, 409, "not_continuable"),  # it completed
        ({"model": "fake-responses", "regenerateMessageId": assistant["id"]}, 422, "invalid_field"),
        ({**base}, 422, "invalid_field"),  # no userInput for a new turn
        ({**base, "regenerateMessageId": assistant["id"], "continueMessageId": assistant["id"]}, 422, "invalid_field"),
    ]
    for body, status, code in cases:
        response = client.post(url, json=body)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), body
    missing = client.post(f"{server}/api/conversations/{conversation_id}/select", json={"messageId": "msg_nope"})
    assert missing.status_code == 404
    assert client.post(f"{server}/api/conversations/{conversation_id}/select", json={}).status_code == 422
    assert [m["id"] for m in _messages(client, server, conversation_id)] == [user["id"], assistant["id"]]


@pytest.mark.parametrize("model", ["fake-responses", "fake-chat"])
def test_continue_after_incomplete_appends_to_the_same_message(server, client, fake_openai, model):
    fake_openai.scenario = Scenario(tokens=10)
    conversation_id = _conversation(client, server)
    cut = _turn(client, server, conversation_id, model=model, userInput="write a lot", maxOutputTokens=4)
    assert cut[-1].data["status"] == "incomplete" and cut[-1].data["reason"] == "length"
    user, partial = _messages(client, server, conversation_id)
    assert partial["content"] == expected_text(fake_openai.scenario, max_output_tokens=4)

    events = _turn(client, server, conversation_id, model=model, continueMessageId=partial["id"])
    start = events[0].data
    assert start["assistantMessageId"] == partial["id"] and start["userMessageId"] == user["id"]
    assert start["prefix"] == partial["content"]
    # The model got the partial reply as the conversation's last (assistant) message, and no cap of ours.
    assert _sent_messages(fake_openai) == [("user", "write a lot"), ("assistant", partial["content"])]
    body = fake_openai.requests[-1].json
    assert "max_output_tokens" not in body and "max_tokens" not in body
    after = _messages(client, server, conversation_id)
    assert [m["id"] for m in after] == [user["id"], partial["id"]]
    assert after[1]["content"] == start["prefix"] + text_of(events)
    assert after[1]["status"] == "completed" and after[1]["replyId"] == start["replyId"]


def test_continue_after_stopped_and_plain_text_carries_only_the_new_text(server, client, fake_openai):
    fake_openai.scenario = Scenario(tokens=5_000, rate=100, token_text=["x "])
    conversation_id = _conversation(client, server)
    body = {"model": "fake-chat", "conversationId": conversation_id, "userInput": "go"}
    with client.stream("POST", f"{server}/api/chat/stream", json=body) as response:
        next(response.iter_raw())
        reply_id = response.headers["x-rillchat-reply-id"]
        assert client.post(f"{server}/api/streams/{reply_id}/stop").json()["status"] == "stopped"
    _, partial = _messages(client, server, conversation_id)
    assert partial["status"] == "stopped" and partial["content"].startswith("x ")
    fake_openai.scenario = Scenario(tokens=3, token_text=["y "])
    body = {"model": "fake-chat", "conversationId": conversation_id, "continueMessageId": partial["id"]}
    plain = client.post(f"{server}/api/chat/stream", json=body)
    assert plain.status_code == 200 and plain.text == "y y y "
    assert _messages(client, server, conversation_id)[1]["content"] == partial["content"] + "y y y "
    whole = client.post(f"{server}/api/chat", json={**body, "continueMessageId": partial["id"]})
    assert whole.status_code == 409 and whole.json()["error"]["code"] == "not_continuable"
