"""How useChat's view of a chat and the stored conversation are reconciled (``plan_turn``), case by case."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rillchat.api.aisdk_chats import UIChatRequest, plan_turn
from rillchat.errors import InvalidField
from rillchat.storage import MessageRecord

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def stored_message(message_id: str, role: str, content: str) -> MessageRecord:
    status = "completed"
    return MessageRecord(
        message_id, "conv", role, content, status, None, None, None, None, None, None, None, None, NOW, NOW
    )


def ui(role: str, text: str, message_id: str = "") -> dict[str, Any]:
    return {"id": message_id or f"ui-{text}", "role": role, "parts": [{"type": "text", "text": text}]}


def request(*messages: dict[str, Any], **extra: Any) -> UIChatRequest:
    return UIChatRequest.model_validate({"id": "chat", "messages": list(messages), **extra})


STORED = [
    stored_message("u1", "user", "one"),
    stored_message("a1", "assistant", "answer one"),
    stored_message("u2", "user", "two"),
    stored_message("a2", "assistant", "answer two"),
]


def test_a_new_turn_is_appended_whether_the_client_sent_the_whole_chat_or_only_the_last_message():
    whole = request(
        ui("user", "one"), ui("assistant", "answer"), ui("user", "two"), ui("assistant", "x"), ui("user", "3")
    )
    only_last = request(ui("user", "3"))
    for body in (whole, only_last):
        plan = plan_turn(body, STORED, 1000)
        assert (plan.user_text, plan.replace_from_message_id, plan.seed) == ("3", None, [])


def test_a_chat_storage_does_not_know_is_seeded_with_the_earlier_turns_and_the_system_message_instructs():
    body = request(ui("system", "be brief"), ui("user", "one"), ui("assistant", "answer"), ui("user", "two"))
    plan = plan_turn(body, [], 1000)
    assert plan.seed == [("user", "one"), ("assistant", "answer")]
    assert plan.instructions == "be brief" and plan.user_text == "two"


def test_regenerate_makes_a_new_version_of_the_named_reply_or_of_the_reply_at_the_same_place():
    turns = (ui("user", "one"), ui("assistant", "x"), ui("user", "two"))
    by_id = request(*turns, trigger="regenerate-message", messageId="a2")
    assert plan_turn(by_id, STORED, 1000).regenerate_message_id == "a2"
    by_place = request(*turns, trigger="regenerate-message")
    assert plan_turn(by_place, STORED, 1000).regenerate_message_id == "a2"
    first = request(ui("user", "one"), trigger="regenerate-message", messageId="a1")
    assert plan_turn(first, STORED, 1000).regenerate_message_id == "a1"
    no_reply_yet = request(*turns, trigger="regenerate-message")
    plan = plan_turn(no_reply_yet, STORED[:3], 1000)
    assert (plan.regenerate_message_id, plan.replace_from_message_id) == (None, "u2")


def test_an_edit_replaces_the_stored_turn_at_its_place():
    body = request(ui("user", "one"), ui("assistant", "x"), ui("user", "TWO", "client-id"), messageId="client-id")
    plan = plan_turn(body, STORED, 1000)
    assert (plan.user_text, plan.replace_from_message_id) == ("TWO", "u2")


@pytest.mark.parametrize(
    "messages",
    [
        [ui("assistant", "no question")],
        [{"id": "x", "role": "user", "parts": [{"type": "file", "url": "data:,", "mediaType": "text/plain"}]}],
        [ui("user", "   ")],
    ],
)
def test_the_last_message_must_be_a_user_message_with_text(messages):
    with pytest.raises(InvalidField) as caught:
        plan_turn(request(*messages), STORED, 1000)
    assert caught.value.field == "messages"


def test_text_longer_than_the_limit_names_the_message():
    with pytest.raises(InvalidField) as caught:
        plan_turn(request(ui("user", "x" * 11)), [], 10)
    assert caught.value.field == "messages.0.parts"
