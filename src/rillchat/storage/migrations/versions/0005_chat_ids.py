"""chat ids: a client-chosen chat id (the Vercel AI SDK's ``useChat`` id) names a conversation per owner

``chat_key`` is ``<owner>/<chat id>`` (owner empty when keys are off); chat ids never hold a ``/``.

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
    # add_column alone never makes batch mode copy the table on SQLite: a plain ALTER TABLE ADD COLUMN.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("chat_key", sa.String(340), nullable=True))
    # A plain column index, not an expression one: SQLite's batch mode could not reflect (and keep) that.
    op.create_index("ux_conversations_chat_key", "conversations", ["chat_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_conversations_chat_key", table_name="conversations")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("chat_key")
