"""The client's Continue, regenerate, edit and version switching, against a real rillchat (async and sync)."""

from __future__ import annotations

import pytest

from rillchat.client import AsyncClient, Client, ConflictError, ReplyStatus
from tests.fakes.openai_server import Scenario


@pytest.fixture
def server(server_with_fake):
    return server_with_fake()


async def test_async_continue_regenerate_and_select(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=6, token_text=["a "])
    async with AsyncClient(server) as client:
        conversation = await client.conversations.create()
        cut = await client.chat("go", model="fake-responses", conversation_id=conversation.id, max_output_tokens=2)
        assert cut.status is ReplyStatus.INCOMPLETE and cut.text == "a a " and cut.prefix == ""
        stored = await client.conversations.get(conversation.id)
        assert stored.messages is not None and stored.messages[1].continuable
        async with client.stream(
            model="fake-responses", conversation_id=conversation.id, continue_message_id=cut.assistant_message_id
        ) as reply:
            carried = await reply.collect()
        assert reply.start is not None and reply.start.prefix == "a a "
        assert carried.assistant_message_id == cut.assistant_message_id and carried.prefix == "a a "
        assert carried.text == "a " * 6 and carried.status is ReplyStatus.COMPLETED

        fake_openai.scenario = Scenario(tokens=2, token_text=["b "])
        again = await client.chat(
            model="fake-responses", conversation_id=conversation.id, regenerate_message_id=cut.assistant_message_id
        )
        current = await client.conversations.get(conversation.id)
        assert current.messages is not None
        last = current.messages[-1]
        assert last.id == again.assistant_message_id and last.content == "b b "
        assert last.version_ids == (cut.assistant_message_id, again.assistant_message_id) and last.version_index == 1
        assert last.parent_id == current.messages[0].id and not last.continuable
        back = await client.conversations.select(conversation.id, cut.assistant_message_id)
        assert back.messages is not None and back.messages[-1].content == "a a " + "a " * 6
        assert back.running_reply_id is None


def test_sync_edit_and_a_conflict_is_typed(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    with Client(server) as client:
        conversation = client.conversations.create()
        first = client.chat("first", model="fake-chat", conversation_id=conversation.id)
        edited = client.chat(
            "first, edited",
            model="fake-chat",
            conversation_id=conversation.id,
            replace_from_message_id=first.user_message_id,
        )
        messages = client.conversations.get(conversation.id).messages
        assert messages is not None and messages[0].content == "first, edited"
        assert messages[0].version_ids == (first.user_message_id, edited.user_message_id)
        with pytest.raises(ConflictError) as caught:
            client.chat(
                model="fake-chat", conversation_id=conversation.id, continue_message_id=first.assistant_message_id
            )
        assert caught.value.code == "not_continuable"
