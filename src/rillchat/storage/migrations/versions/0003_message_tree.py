"""message tree: versions as branches, the active branch, the reply running in a conversation

Revision ID: 0003_message_tree
Revises: 0002_request_ids_per_owner
Create Date: 2026-11-30

Existing conversations are linear: each message's parent is the one before it (by position), and the
active branch ends at the last message. A conversation whose reply was left ``streaming`` keeps that
reply as its running one, so start-up recovery (or the cluster's sweeper) can end it as usual.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_message_tree"
down_revision = "0002_request_ids_per_owner"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(64), nullable=True))
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("active_message_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("running_reply_id", sa.String(64), nullable=True))
    op.create_index("ix_messages_parent_id", "messages", ["parent_id"])
    op.execute(
        """
        UPDATE messages SET parent_id = (
            SELECT earlier.id FROM messages AS earlier
            WHERE earlier.conversation_id = messages.conversation_id AND earlier.position < messages.position
            ORDER BY earlier.position DESC LIMIT 1
        )
        """
    )
    op.execute(
        """
        UPDATE conversations SET
            active_message_id = (
                SELECT m.id FROM messages AS m WHERE m.conversation_id = conversations.id
                ORDER BY m.position DESC LIMIT 1
            ),
            running_reply_id = (
                SELECT m.reply_id FROM messages AS m
                WHERE m.conversation_id = conversations.id AND m.status = 'streaming'
                ORDER BY m.position DESC LIMIT 1
            )
        """
    )


def downgrade() -> None:
    op.drop_index("ix_messages_parent_id", "messages")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("running_reply_id")
        batch.drop_column("active_message_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("parent_id")
