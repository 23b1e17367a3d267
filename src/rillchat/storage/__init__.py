"""Conversations and messages in SQLite (default) or PostgreSQL, through SQLAlchemy; Alembic migrates."""

from rillchat.storage.database import Database
from rillchat.storage.repository import ConversationRecord, MessageRecord, Repository

__all__ = ["ConversationRecord", "Database", "MessageRecord", "Repository"]
