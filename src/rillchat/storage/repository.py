"""The queries the rest of rillchat uses. Each method is one short transaction."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rillchat.errors import Conflict, NotFound, clip
from rillchat.storage.search import SearchHit, search
from rillchat.storage.tables import Conversation, Message, utcnow

__all__ = [
    "ConversationRecord",
    "HistoryTurn",
    "ImportedConversation",
    "ImportedMessage",
    "MessageRecord",
    "Repository",
    "TurnRecord",
    "new_id",
]

SETTINGS_FIELDS = ("model", "instructions", "temperature")
# Imports write rows directly; this says whether the columns of parallel work (issue 12) exist yet.
_HAS_MESSAGE_TREE = hasattr(Message, "parent_id") and hasattr(Conversation, "active_message_id")

_TITLE_LENGTH = 80


def new_id(prefix: str) -> str:
    """Unguessable ids: knowing one is what lets a client read, resume or stop a thing."""
    return f"{prefix}_{secrets.token_urlsafe(16)}"


@dataclass(frozen=True, slots=True)
class MessageRecord:
    id: str
    conversation_id: str
    role: str
    content: str
    status: str
    finish_reason: str | None
    error_code: str | None
    error_message: str | None
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    reply_id: str | None
    client_request_id: str | None
    created_at: datetime
    updated_at: datetime
    reasoning: str | None = None
    reasoning_seconds: float | None = None
    reasoning_tokens: int | None = None

    @classmethod
    def of(cls, row: Message) -> MessageRecord:
        return cls(
            row.id,
            row.conversation_id,
            row.role,
            row.content,
            row.status,
            row.finish_reason,
            row.error_code,
            row.error_message,
            row.model,
            row.input_tokens,
            row.output_tokens,
            row.reply_id,
            row.client_request_id,
            row.created_at,
            row.updated_at,
            row.reasoning,
            row.reasoning_seconds,
            row.reasoning_tokens,
        )


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    owner: str | None
    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[MessageRecord] | None = None
    model: str | None = None
    instructions: str | None = None
    temperature: float | None = None

    @classmethod
    def of(cls, row: Conversation, messages: list[MessageRecord] | None = None) -> ConversationRecord:
        return cls(
            row.id,
            row.owner,
            row.title,
            row.created_at,
            row.updated_at,
            messages,
            row.model,
            row.instructions,
            row.temperature,
        )


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    """A message read from an export file, before it gets an id here."""

    role: str
    content: str
    created_at: datetime
    status: str = "completed"
    finish_reason: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    updated_at: datetime | None = None
    reasoning: str | None = None
    reasoning_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class ImportedConversation:
    title: str
    created_at: datetime
    updated_at: datetime
    model: str | None = None
    instructions: str | None = None
    temperature: float | None = None
    messages: list[ImportedMessage] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    role: str
    content: str
    reasoning: str | None = None


@dataclass(frozen=True, slots=True)
class TurnRecord:
    """A user message and the assistant placeholder written for its reply, before the first token."""

    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    history: list[HistoryTurn]


def _chat_key(owner: str | None, chat_id: str) -> str:
    return f"{owner or ''}/{chat_id}"


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1].rstrip() + "…"


class Repository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # Conversations

    async def create_conversation(
        self, owner: str | None, title: str | None = None, settings: Mapping[str, Any] | None = None
    ) -> ConversationRecord:
        now = utcnow()
        row = Conversation(
            id=new_id("conv"),
            owner=owner,
            title=title or "New conversation",
            title_is_custom=bool(title),
            created_at=now,
            updated_at=now,
            **{k: v for k, v in (settings or {}).items() if k in SETTINGS_FIELDS},
        )
        async with self.sessions.begin() as session:
            session.add(row)
        return ConversationRecord.of(row)

    async def _owned(self, session: AsyncSession, conversation_id: str, owner: str | None) -> Conversation:
        row = await session.get(Conversation, conversation_id)
        if row is None or row.owner != owner:
            # Someone else's conversation is as absent as a missing one: ids leak nothing.
            raise NotFound(f"conversation {clip(conversation_id)} not found")
        return row

    async def list_conversations(
        self, owner: str | None, limit: int, before: tuple[datetime, str] | None = None
    ) -> list[ConversationRecord]:
        query = select(Conversation).where(
            Conversation.owner.is_(None) if owner is None else Conversation.owner == owner
        )
        if before is not None:
            at, conversation_id = before
            query = query.where(
                or_(
                    Conversation.updated_at < at,
                    (Conversation.updated_at == at) & (Conversation.id < conversation_id),
                )
            )
        query = query.order_by(Conversation.updated_at.desc(), Conversation.id.desc()).limit(limit)
        async with self.sessions() as session:
            rows = (await session.scalars(query)).all()
        return [ConversationRecord.of(row) for row in rows]

    async def chat_conversation(self, owner: str | None, chat_id: str, *, create: bool) -> ConversationRecord | None:
        """The conversation a client-chosen chat id names for this owner, with its messages; made if asked."""
        found = await self._chat_conversation(owner, chat_id)
        if found is not None or not create:
            return found
        now = utcnow()
        key = _chat_key(owner, chat_id)
        row = Conversation(id=new_id("conv"), owner=owner, chat_key=key, created_at=now, updated_at=now)
        row.title, row.title_is_custom = "New conversation", False
        try:
            async with self.sessions.begin() as session:
                session.add(row)
        except IntegrityError:  # the same chat's first two requests raced: the other one made it
            return await self._chat_conversation(owner, chat_id)
        return ConversationRecord.of(row, [])

    async def _chat_conversation(self, owner: str | None, chat_id: str) -> ConversationRecord | None:
        query = select(Conversation.id).where(Conversation.chat_key == _chat_key(owner, chat_id))
        async with self.sessions() as session:
            conversation_id = (await session.scalars(query)).first()
        return None if conversation_id is None else await self.get_conversation(conversation_id, owner)

    async def seed_messages(self, conversation_id: str, owner: str | None, turns: list[tuple[str, str]]) -> bool:
        """Store turns a client brought from elsewhere, only into a conversation that has no message yet."""
        now = utcnow()
        async with self.sessions.begin() as session:
            conversation = await self._owned(session, conversation_id, owner)
            exists = await session.scalar(select(Message.id).where(Message.conversation_id == conversation_id))
            if exists is not None:
                return False
            for position, (role, text) in enumerate(turns):
                session.add(
                    Message(
                        id=new_id("msg"),
                        conversation_id=conversation_id,
                        position=position,
                        role=role,
                        content=text,
                        status="completed",
                        created_at=now,
                        updated_at=now,
                    )
                )
            first_user = next((text for role, text in turns if role == "user"), None)
            if first_user and not conversation.title_is_custom:
                conversation.title = _title_from(first_user)
            conversation.updated_at = now
        return True

    async def get_conversation(self, conversation_id: str, owner: str | None) -> ConversationRecord:
        async with self.sessions() as session:
            row = await self._owned(session, conversation_id, owner)
            messages = (
                await session.scalars(
                    select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
                )
            ).all()
        return ConversationRecord.of(row, [MessageRecord.of(m) for m in messages])

    async def rename_conversation(self, conversation_id: str, owner: str | None, title: str) -> ConversationRecord:
        async with self.sessions.begin() as session:
            row = await self._owned(session, conversation_id, owner)
            row.title = title
            row.title_is_custom = True
            row.updated_at = utcnow()
        return ConversationRecord.of(row)

    async def update_conversation(
        self, conversation_id: str, owner: str | None, changes: Mapping[str, Any]
    ) -> ConversationRecord:
        """Change the title and/or settings given; a setting given as None goes back to the default."""
        async with self.sessions.begin() as session:
            row = await self._owned(session, conversation_id, owner)
            if "title" in changes:
                row.title = changes["title"]
                row.title_is_custom = True
            for name in SETTINGS_FIELDS:
                if name in changes:
                    setattr(row, name, changes[name])
            row.updated_at = utcnow()
        return ConversationRecord.of(row)

    async def conversation_header(self, conversation_id: str, owner: str | None) -> ConversationRecord:
        """The conversation without its messages (its settings, say)."""
        async with self.sessions() as session:
            row = await self._owned(session, conversation_id, owner)
        return ConversationRecord.of(row)

    async def search_conversations(
        self, owner: str | None, terms: list[str], limit: int, offset: int = 0
    ) -> list[SearchHit]:
        async with self.sessions() as session:
            return await search(session, owner, terms, limit=limit, offset=offset)

    # Export and import

    async def export_pages(
        self, owner: str | None, conversation_id: str | None = None, page_size: int = 50
    ) -> AsyncIterator[list[ConversationRecord]]:
        """The owner's conversations with their messages, oldest first, a page at a time (one short read each).

        Memory holds one page, however many conversations there are.
        """
        if conversation_id is not None:
            yield [await self.get_conversation(conversation_id, owner)]
            return
        after: tuple[datetime, str] | None = None
        while True:
            query = select(Conversation).where(
                Conversation.owner.is_(None) if owner is None else Conversation.owner == owner
            )
            if after is not None:
                at, last_id = after
                query = query.where(
                    or_(Conversation.created_at > at, (Conversation.created_at == at) & (Conversation.id > last_id))
                )
            query = query.order_by(Conversation.created_at, Conversation.id).limit(page_size)
            async with self.sessions() as session:
                rows = (await session.scalars(query)).all()
            if not rows:
                return
            # Each conversation as ``get_conversation`` reads it (the messages a reader sees, in order),
            # so the export follows whatever that means as the schema grows.
            page = []
            for row in rows:
                try:
                    page.append(await self.get_conversation(row.id, owner))
                except NotFound:
                    continue  # deleted while the export ran
            yield page
            if len(rows) < page_size:
                return
            after = (rows[-1].created_at, rows[-1].id)

    async def import_conversations(
        self, owner: str | None, conversations: Sequence[ImportedConversation]
    ) -> list[ConversationRecord]:
        """Store them all as new conversations of ``owner``, in one transaction: all of them or none."""
        conversation_rows: list[dict[str, Any]] = []
        message_rows: list[dict[str, Any]] = []
        for imported in conversations:
            conversation_id = new_id("conv")
            conversation_rows.append(
                {
                    "id": conversation_id,
                    "owner": owner,
                    "title": imported.title,
                    "title_is_custom": True,
                    "created_at": imported.created_at,
                    "updated_at": imported.updated_at,
                    "model": imported.model,
                    "instructions": imported.instructions,
                    "temperature": imported.temperature,
                }
            )
            for position, m in enumerate(imported.messages):
                message_rows.append(
                    {
                        "id": new_id("msg"),
                        "conversation_id": conversation_id,
                        "position": position,
                        "role": m.role,
                        "content": m.content,
                        "status": m.status,
                        "finish_reason": m.finish_reason,
                        "error_code": m.error_code,
                        "error_message": m.error_message,
                        "model": m.model,
                        "input_tokens": m.input_tokens,
                        "output_tokens": m.output_tokens,
                        "reasoning": m.reasoning or None,
                        "reasoning_seconds": m.reasoning_seconds,
                        "reply_id": None,
                        "client_request_id": None,
                        "created_at": m.created_at,
                        "updated_at": m.updated_at or m.created_at,
                    }
                )
                if _HAS_MESSAGE_TREE:  # issue 12's tree: an imported conversation is one linear branch
                    message_rows[-1]["parent_id"] = message_rows[-2]["id"] if position else None
            if _HAS_MESSAGE_TREE and imported.messages:
                conversation_rows[-1]["active_message_id"] = message_rows[-1]["id"]
        async with self.sessions.begin() as session:
            if conversation_rows:
                await session.execute(insert(Conversation), conversation_rows)
            if message_rows:
                await session.execute(insert(Message), message_rows)
        return [
            ConversationRecord(
                r["id"],
                owner,
                r["title"],
                r["created_at"],
                r["updated_at"],
                None,
                r["model"],
                r["instructions"],
                r["temperature"],
            )
            for r in conversation_rows
        ]

    async def delete_conversation(self, conversation_id: str, owner: str | None) -> None:
        async with self.sessions.begin() as session:
            row = await self._owned(session, conversation_id, owner)
            await session.execute(delete(Message).where(Message.conversation_id == conversation_id))
            await session.delete(row)

    # Turns

    async def begin_turn(
        self,
        *,
        conversation_id: str,
        owner: str | None,
        user_text: str,
        model: str,
        reply_id: str,
        client_request_id: str | None,
        replace_from_message_id: str | None,
    ) -> TurnRecord:
        """Write the user message and a ``streaming`` assistant placeholder; return the history before them.

        Raises ``Conflict`` when ``client_request_id`` was used already (a retry that raced the first try).
        """
        now = utcnow()
        user_id, assistant_id = new_id("msg"), new_id("msg")
        try:
            async with self.sessions.begin() as session:
                conversation = await self._owned(session, conversation_id, owner)
                if replace_from_message_id is not None:
                    await self._truncate_from(session, conversation_id, replace_from_message_id)
                rows = (
                    await session.scalars(
                        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
                    )
                ).all()
                if any(r.status == "streaming" for r in rows):
                    raise Conflict("a reply is still being generated in this conversation; stop it or wait")
                history = [
                    HistoryTurn(r.role, r.content, r.reasoning)
                    for r in rows
                    if r.content and r.role in ("user", "assistant")
                ]
                position = (rows[-1].position + 1) if rows else 0
                session.add(
                    Message(
                        id=user_id,
                        conversation_id=conversation_id,
                        position=position,
                        role="user",
                        content=user_text,
                        status="completed",
                        created_at=now,
                        updated_at=now,
                    )
                )
                session.add(
                    Message(
                        id=assistant_id,
                        conversation_id=conversation_id,
                        position=position + 1,
                        role="assistant",
                        content="",
                        status="streaming",
                        model=model,
                        reply_id=reply_id,
                        client_request_id=client_request_id,
                        request_owner=owner or "",
                        created_at=now,
                        updated_at=now,
                    )
                )
                if not conversation.title_is_custom and not rows:
                    conversation.title = _title_from(user_text)
                conversation.updated_at = now
        except IntegrityError:
            raise Conflict("this clientRequestId was already used", code="duplicate_request") from None
        return TurnRecord(conversation_id, user_id, assistant_id, history)

    async def _truncate_from(self, session: AsyncSession, conversation_id: str, message_id: str) -> None:
        target = await session.get(Message, message_id)
        if target is None or target.conversation_id != conversation_id:
            raise NotFound(f"message {clip(message_id)} not found in this conversation")
        if target.role != "user":
            raise Conflict("replaceFromMessageId must name a user message", code="not_a_user_message")
        await session.execute(
            delete(Message).where(Message.conversation_id == conversation_id, Message.position >= target.position)
        )

    async def finish_reply(
        self,
        assistant_message_id: str,
        *,
        content: str,
        status: str,
        finish_reason: str | None,
        input_tokens: int | None,
        output_tokens: int | None,
        error_code: str | None,
        error_message: str | None,
        reasoning: str | None = None,
        reasoning_seconds: float | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(Message)
                .where(Message.id == assistant_message_id)
                .values(
                    content=content,
                    reasoning=reasoning or None,
                    reasoning_seconds=reasoning_seconds,
                    reasoning_tokens=reasoning_tokens,
                    status=status,
                    finish_reason=finish_reason,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    error_code=error_code,
                    error_message=error_message,
                    updated_at=utcnow(),
                )
            )

    async def find_reply(
        self, *, reply_id: str | None = None, client_request_id: str | None = None, owner: str | None = None
    ) -> MessageRecord | None:
        """By reply id, or by ``client_request_id``, which names a reply only among ``owner``'s requests."""
        query = select(Message).where(Message.role == "assistant")
        if reply_id is not None:
            query = query.where(Message.reply_id == reply_id)
        if client_request_id is not None:
            query = query.where(Message.request_owner == (owner or ""), Message.client_request_id == client_request_id)
        async with self.sessions() as session:
            row = (await session.scalars(query.limit(1))).first()
        return MessageRecord.of(row) if row else None

    async def conversation_owner(self, conversation_id: str) -> str | None:
        async with self.sessions() as session:
            row = await session.get(Conversation, conversation_id)
        return row.owner if row else None

    async def interrupt_streaming(self, reply_ids: list[str] | None = None) -> int:
        """Mark replies left ``streaming`` (by a crash or restart) ``interrupted``: no spinner waits forever."""
        query = update(Message).where(Message.status == "streaming")
        if reply_ids is not None:
            query = query.where(Message.reply_id.in_(reply_ids))
        async with self.sessions.begin() as session:
            result = await session.execute(
                query.values(status="interrupted", finish_reason="cancelled", updated_at=utcnow())
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def interrupt_reply(
        self, reply_id: str, content: str, output_tokens: int | None, *, reasoning: str = ""
    ) -> bool:
        """End one reply whose generator died, keeping the text (and reasoning) it had produced."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Message)
                .where(Message.reply_id == reply_id, Message.status == "streaming")
                .values(
                    status="interrupted",
                    finish_reason="cancelled",
                    content=content,
                    reasoning=reasoning or None,
                    output_tokens=output_tokens,
                    updated_at=utcnow(),
                )
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def streaming_replies(self, updated_before: datetime) -> list[str]:
        query = select(Message.reply_id).where(
            Message.status == "streaming", Message.updated_at < updated_before, Message.reply_id.is_not(None)
        )
        async with self.sessions() as session:
            return [r for r in (await session.scalars(query)).all() if r]

    async def count_messages(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(Message)) or 0)
