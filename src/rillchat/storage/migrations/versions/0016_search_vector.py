"""PostgreSQL search: a stored tsvector per message instead of an expression index

With only the expression index, a prefix query (``word:*``, what search-as-you-type sends) makes the
bitmap heap scan recheck every candidate by re-parsing its text, and ranking parses it once more: about
5 s for a word found in 15,000 messages. A generated column is parsed once, when the text is written (by
any write: PostgreSQL computes it), and both the recheck and the ranking read it: about 0.1 s.

SQLite's FTS5 index needs no change.

Revision ID: 0016_search_vector
Revises: 0016_export_order
Create Date: 2026-11-30
"""

from alembic import op

revision = "0016_search_vector"
down_revision = "0016_export_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    # Adding the column computes it for every stored message: the backfill.
    op.execute(
        "ALTER TABLE messages ADD COLUMN search_vector tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED"
    )
    op.execute("CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)")
    op.execute("DROP INDEX IF EXISTS ix_messages_search")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.execute("CREATE INDEX ix_messages_search ON messages USING gin (to_tsvector('simple', content))")
    op.execute("DROP INDEX IF EXISTS ix_messages_search_vector")
    op.execute("ALTER TABLE messages DROP COLUMN search_vector")
