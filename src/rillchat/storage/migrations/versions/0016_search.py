"""full-text search over conversation titles and message text, backfilled from what is stored

SQLite: FTS5 tables over ``messages.content`` and ``conversations.title`` (external content, so the text
is not stored twice), kept current by triggers: every write that stores or changes text (a new turn,
a checkpoint of a streaming reply, an import, a rename, a delete) updates the index in the same
transaction, whoever makes it. PostgreSQL: GIN expression indexes on ``to_tsvector('simple', ...)``,
which the database keeps current by itself.

``rillchat.storage.search`` repeats this DDL to repair the index if a later migration rebuilds one of the
tables (SQLite batch mode copies a table and drops the old one, and its triggers with it).

Revision ID: 0016_search
Revises: 0016_conversation_settings
Create Date: 2026-11-30
"""

from alembic import op

revision = "0016_search"
down_revision = "0016_conversation_settings"
branch_labels = None
depends_on = None

SQLITE_UP = [
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "content, content='messages', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE conversations_fts USING fts5("
    "title, content='conversations', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN "
    "INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN "
    "INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title); END",
    "CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN "
    "INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title); "
    "INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title); END",
    # The backfill: index everything stored before this revision.
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')",
    "INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild')",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS messages_fts_insert",
    "DROP TRIGGER IF EXISTS messages_fts_delete",
    "DROP TRIGGER IF EXISTS messages_fts_update",
    "DROP TRIGGER IF EXISTS conversations_fts_insert",
    "DROP TRIGGER IF EXISTS conversations_fts_delete",
    "DROP TRIGGER IF EXISTS conversations_fts_update",
    "DROP TABLE IF EXISTS messages_fts",
    "DROP TABLE IF EXISTS conversations_fts",
]

# Building a GIN index reads every row: that is the backfill.
POSTGRES_UP = [
    "CREATE INDEX ix_messages_search ON messages USING gin (to_tsvector('simple', content))",
    "CREATE INDEX ix_conversations_search ON conversations USING gin (to_tsvector('simple', title))",
]

POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_messages_search", "DROP INDEX IF EXISTS ix_conversations_search"]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    _run(SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP)


def downgrade() -> None:
    _run(SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN)
