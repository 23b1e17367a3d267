"""index for exporting a key's conversations in creation order, a page at a time

Revision ID: 0016_export_order
Revises: 0005_chat_ids
Create Date: 2026-11-30
"""

from alembic import op

revision = "0016_export_order"
down_revision = "0005_chat_ids"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The export pages by (created_at, id), which never change, so a conversation updated while an export
    # runs is neither skipped nor written twice; without this index each page would sort all of them.
    op.create_index("ix_conversations_owner_created", "conversations", ["owner", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_conversations_owner_created", "conversations")
