"""Migration 0002_request_ids_per_owner on a database that already holds replies (issue 11, finding 3)."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Connection

from rillchat.storage import Database, Repository
from rillchat.storage.database import MIGRATIONS
from rillchat.storage.search import search_terms


def _upgrade(connection: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_existing_request_ids_keep_their_owner_and_search_still_works(database_url):
    database = Database(database_url)
    now = datetime.now(UTC)
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade, "0004_reasoning")
        for conversation, owner in (("c_alice", "alice"), ("c_open", None)):
            await connection.execute(
                text(
                    "INSERT INTO conversations (id, owner, title, title_is_custom, created_at, updated_at) "
                    "VALUES (:id, :owner, 't', false, :now, :now)"
                ),
                {"id": conversation, "owner": owner, "now": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO messages (id, conversation_id, position, role, content, status, reply_id, "
                    "client_request_id, created_at, updated_at) VALUES "
                    "(:id, :c, 0, 'assistant', 'ancient amphora', 'completed', :rep, :req, :now, :now)"
                ),
                {
                    "id": f"m_{conversation}",
                    "c": conversation,
                    "rep": f"rep_{conversation}",
                    "req": f"req_{conversation}",
                    "now": now,
                },
            )
    await database.migrate()
    repo = Repository(database.sessions)
    try:
        found = await repo.find_reply(client_request_id="req_c_alice", owner="alice")
        assert found is not None and found.id == "m_c_alice"
        assert await repo.find_reply(client_request_id="req_c_alice", owner="bob") is None
        keys_off = await repo.find_reply(client_request_id="req_c_open", owner=None)
        assert keys_off is not None and keys_off.id == "m_c_open"
        hits = await repo.search_conversations("alice", search_terms("amphora"), 10)
        assert [hit.conversation_id for hit in hits] == ["c_alice"]
    finally:
        await database.aclose()
