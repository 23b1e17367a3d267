"""The schema. Changes go through a new Alembic revision in ``migrations/versions``, never an edit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = ["Base", "Conversation", "Message", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.astimezone(UTC) if value is not None and value.tzinfo else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128), index=True)
    title: Mapped[str] = mapped_column(String(200), default="New conversation")
    title_is_custom: Mapped[bool] = mapped_column(default=False)
    # Per-conversation settings; None means "the server's default" (temperature 0 is a value).
    model: Mapped[str | None] = mapped_column(String(200))
    instructions: Mapped[str | None] = mapped_column(Text)
    temperature: Mapped[float | None] = mapped_column(Float)
    # The last message of the branch shown and continued (versions are branches of the message tree).
    active_message_id: Mapped[str | None] = mapped_column(String(64))
    # The reply generating in it right now: set and cleared atomically, it keeps replies one at a time.
    running_reply_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # ``<owner>/<chat id>`` of the Vercel AI SDK chat this conversation is (``api/aisdk.py``), if any: one
    # conversation per owner and client-chosen chat id (chat ids hold no "/", so the key is unambiguous).
    chat_key: Mapped[str | None] = mapped_column(String(340))

    __table_args__ = (
        Index("ix_conversations_owner_updated", "owner", "updated_at", "id"),
        Index("ux_conversations_chat_key", "chat_key", unique=True),
        Index("ix_conversations_owner_created", "owner", "created_at", "id"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # The message this one answers or follows; siblings (same parent and role) are its versions.
    parent_id: Mapped[str | None] = mapped_column(String(64), index=True)
    # Depth in the tree: siblings share it.
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    # What a reasoning model thought before answering: shown apart, never part of the history sent upstream
    # (unless an upstream asks for it). NULL when the model did not think.
    reasoning: Mapped[str | None] = mapped_column(Text)
    reasoning_seconds: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    finish_reason: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    reply_id: Mapped[str | None] = mapped_column(String(64), index=True)
    client_request_id: Mapped[str | None] = mapped_column(String(200))
    # The key owner that sent ``client_request_id`` ('' when keys are off): request ids are unique per owner.
    request_owner: Mapped[str] = mapped_column(String(128), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_messages_conversation_position", "conversation_id", "position"),
        Index("ux_messages_request_owner_client_request_id", "request_owner", "client_request_id", unique=True),
    )
