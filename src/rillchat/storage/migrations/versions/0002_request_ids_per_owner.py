"""request ids per owner: ``clientRequestId`` is unique per (owner, id), not across every owner (issue 11)

``request_owner`` is the owner of the key that sent the request ('' when keys are off, so that the unique
key holds there too: NULLs never collide). The global unique constraint on ``client_request_id`` goes.

SQLite cannot drop a constraint, so the table is rebuilt (batch mode); its triggers (the search index's)
go with the old table, so they are re-created as they were and the full-text index is rebuilt, since
rows get new rowids in the copy.

Revision ID: 0002_request_ids_per_owner
Revises: 0004_reasoning
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_request_ids_per_owner"
down_revision = "0004_reasoning"
branch_labels = None
depends_on = None

_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}  # names SQLite's unnamed constraints for batch mode


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    triggers = _messages_triggers() if sqlite else []
    with op.batch_alter_table("messages", naming_convention=_NAMES, recreate="auto" if not sqlite else "always") as b:
        b.add_column(sa.Column("request_owner", sa.String(128), nullable=False, server_default=""))
        b.drop_constraint(
            "uq_messages_client_request_id" if sqlite else "messages_client_request_id_key", type_="unique"
        )
    op.execute(
        "UPDATE messages SET request_owner = COALESCE("
        "(SELECT owner FROM conversations WHERE conversations.id = messages.conversation_id), '') "
        "WHERE client_request_id IS NOT NULL"
    )
    op.create_index(
        "ux_messages_request_owner_client_request_id",
        "messages",
        ["request_owner", "client_request_id"],
        unique=True,
    )
    for sql in triggers:
        op.execute(sql)
    if sqlite and _has_table("messages_fts"):
        op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def downgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    triggers = _messages_triggers() if sqlite else []
    op.drop_index("ux_messages_request_owner_client_request_id", table_name="messages")
    with op.batch_alter_table("messages", recreate="auto" if not sqlite else "always") as b:
        b.drop_column("request_owner")
        b.create_unique_constraint("messages_client_request_id_key", ["client_request_id"])
    for sql in triggers:
        op.execute(sql)
    if sqlite and _has_table("messages_fts"):
        op.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def _messages_triggers() -> list[str]:
    rows = op.get_bind().execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'messages' ORDER BY name")
    )
    return [row[0] for row in rows]


def _has_table(name: str) -> bool:
    return bool(op.get_bind().execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = :n"), {"n": name}).first())
