"""chat ids: a client-chosen chat id (the Vercel AI SDK's ``useChat`` id) names a conversation per owner

Revision ID: 0005_chat_ids
Revises: 0016_search
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_chat_ids"
down_revision = "0016_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("chat_id", sa.String(200), nullable=True))
    # One conversation per (owner, chat id); anonymous owners (keys off) share the empty-string owner, since
    # NULLs never collide in a unique index.
    op.create_index(
        "ux_conversations_owner_chat_id",
        "conversations",
        [sa.text("coalesce(owner, '')"), "chat_id"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ux_conversations_owner_chat_id", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("chat_id")
