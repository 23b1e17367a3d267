"""``client.conversations.search/export/import_file``, sync and async twins, against a real server."""

from __future__ import annotations

import orjson
import pytest

from rillchat.client import AsyncClient, Client, NotFoundError, ValidationError
from tests.archive.corpus import conversation, export_file


@pytest.fixture
def server(server_with_fake):
    return server_with_fake()


def test_search_export_and_import_with_the_sync_client(server):
    with Client(server) as client:
        result = client.conversations.import_file(
            orjson.dumps(export_file([conversation("Birds", "owls hoot", "yes")]))
        )
        assert result.imported == 1
        ((conversation_id, title),) = result.conversations
        page = client.conversations.search("owl")
        assert [r.id for r in page] == [conversation_id] and page.next_cursor is None
        assert ("owls", True) in page.results[0].snippet
        exported = orjson.loads(b"".join(client.conversations.export()))
        assert [c["title"] for c in exported["conversations"]] == [title]
        markdown = b"".join(client.conversations.export(conversation_id, format="markdown")).decode()
        assert markdown.startswith("# Birds")
        with pytest.raises(NotFoundError):
            b"".join(client.conversations.export("conv_nope"))
        with pytest.raises(ValidationError) as refused:
            client.conversations.import_file(b'{"format": "rillchat-export", "version": 1}')
        assert refused.value.field == "conversations"


async def test_search_export_and_import_with_the_async_client(server):
    async with AsyncClient(server) as client:
        result = await client.conversations.import_file(orjson.dumps(export_file([conversation("Fish", "salmon run")])))
        assert (await client.conversations.search("salmon")).results[0].id == result.conversations[0][0]
        chunks = [chunk async for chunk in client.conversations.export()]
        assert orjson.loads(b"".join(chunks))["conversations"][0]["title"] == "Fish"
        assert (await client.conversations.get(result.conversations[0][0])).temperature is None


def test_conversation_settings_through_the_client(server):
    with Client(server) as client:
        created = client.conversations.create("Tuned", model="fake-chat", temperature=0.0)
        assert (created.model, created.instructions, created.temperature) == ("fake-chat", None, 0.0)
        changed = client.conversations.update(created.id, instructions="Be brief.")
        assert (changed.model, changed.instructions, changed.temperature) == ("fake-chat", "Be brief.", 0.0)
        reset = client.conversations.update(created.id, model=None, temperature=None)
        assert (reset.model, reset.instructions, reset.temperature) == (None, "Be brief.", None)
        assert client.conversations.update(created.id, title="Renamed").title == "Renamed"
