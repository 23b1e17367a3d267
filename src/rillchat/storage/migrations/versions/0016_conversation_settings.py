"""per-conversation settings: model, instructions (system prompt), temperature

Revision ID: 0016_conversation_settings
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_conversation_settings"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column alone never makes batch mode copy the table on SQLite: a plain ALTER TABLE ADD COLUMN.
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("model", sa.String(200), nullable=True))
        batch.add_column(sa.Column("instructions", sa.Text(), nullable=True))
        batch.add_column(sa.Column("temperature", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_column("temperature")
        batch.drop_column("instructions")
        batch.drop_column("model")
