"""reasoning: what a reasoning model thought, kept apart from the answer (issue 14)

Revision ID: 0004_reasoning
Revises: 0016_search_vector
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_reasoning"
down_revision = "0016_search_vector"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs (no batch mode): on SQLite a batch would copy the table and lose the search triggers.
    op.add_column("messages", sa.Column("reasoning", sa.Text(), nullable=True))
    op.add_column("messages", sa.Column("reasoning_seconds", sa.Float(), nullable=True))
    op.add_column("messages", sa.Column("reasoning_tokens", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "reasoning_tokens")
    op.drop_column("messages", "reasoning_seconds")
    op.drop_column("messages", "reasoning")
