"""The search index follows every write, whoever makes it, and survives a migration that rebuilds a table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from rillchat.storage import Database, Repository
from rillchat.storage.repository import ImportedConversation, ImportedMessage
from rillchat.storage.search import search_terms
from rillchat.storage.tables import Message


@pytest.fixture
async def database(database_url) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.aclose()


async def _found(repo: Repository, query: str, owner: str | None = None) -> list[str]:
    return [hit.conversation_id for hit in await repo.search_conversations(owner, search_terms(query), 10)]


async def test_a_checkpoint_that_updates_a_streaming_message_is_searchable_at_once(database):
    """A write from outside the repository's functions (issue 12's checkpointer is one) is indexed all the same."""
    repo = Repository(database.sessions)
    conversation = await repo.create_conversation(None)
    turn = await repo.begin_turn(
        conversation_id=conversation.id,
        owner=None,
        user_text="hello",
        model="m",
        reply_id="rep_1",
        client_request_id=None,
        replace_from_message_id=None,
    )
    for text in ("Partial answer about quasars", "Partial answer about quasars and pulsars"):
        async with database.sessions.begin() as session:
            await session.execute(update(Message).where(Message.id == turn.assistant_message_id).values(content=text))
        assert await _found(repo, "quasars") == [conversation.id]
    assert await _found(repo, "pulsars") == [conversation.id]


def _rebuild_messages_table(connection: Connection) -> None:
    """What Alembic's batch mode does on SQLite for most ALTERs: copy the table, drop the old one, rename."""
    with Operations(MigrationContext.configure(connection)).batch_alter_table("messages", recreate="always") as batch:
        batch.alter_column("role", existing_type=None, nullable=False)


async def test_a_migration_that_rebuilds_the_messages_table_leaves_search_working(database_url, tmp_path):
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL alters tables in place; only SQLite's batch mode rebuilds them")
    database = Database(database_url)
    await database.migrate()
    repo = Repository(database.sessions)
    kept = await repo.create_conversation(None, "notes")
    async with database.sessions.begin() as session:
        session.add(Message(id="m1", conversation_id=kept.id, position=0, role="user", content="ancient amphora"))
    async with database.engine.begin() as connection:
        await connection.run_sync(_rebuild_messages_table)
    await database.aclose()

    database = Database(database_url)  # the next start-up repairs what the rebuild dropped
    await database.migrate()
    repo = Repository(database.sessions)
    try:
        assert await _found(repo, "amphora") == [kept.id]
        later = await repo.create_conversation(None, "later")
        async with database.sessions.begin() as session:
            session.add(Message(id="m2", conversation_id=later.id, position=0, role="user", content="bronze amphora"))
        assert sorted(await _found(repo, "amphora")) == sorted([kept.id, later.id])
    finally:
        await database.aclose()


async def test_an_import_that_the_database_refuses_stores_nothing(database):
    repo = Repository(database.sessions)
    now = datetime.now(UTC)
    good = ImportedConversation("good", now, now, messages=[ImportedMessage("user", "fine words", now)])
    bad = ImportedConversation("bad", now, now, messages=[ImportedMessage(None, "no role", now)])  # type: ignore[arg-type]
    with pytest.raises(IntegrityError):
        await repo.import_conversations("alice", [good, bad])
    assert await repo.list_conversations("alice", 10) == []
    assert await _found(repo, "fine", "alice") == []
    assert await repo.count_messages() == 0
