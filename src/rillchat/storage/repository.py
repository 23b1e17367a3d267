"""The queries the rest of rillchat uses. Each method is one short transaction."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rillchat.errors import Conflict, NotFound, clip
from rillchat.storage.search import SearchHit, search
from rillchat.storage.tables import Conversation, Message, utcnow

__all__ = [
    "CONTINUABLE",
    "Checkpoint",
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

# Replies that ended before their end: Continue carries them on.
CONTINUABLE = frozenset({"incomplete", "interrupted", "stopped"})


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
    parent_id: str | None = None
    version_ids: tuple[str, ...] = ()
    """Ids of every version at this place in the tree (siblings of the same role), oldest first."""
    version_index: int = 0

    @classmethod
    def of(cls, row: Message, version_ids: tuple[str, ...] = ()) -> MessageRecord:
        versions = version_ids or (row.id,)
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
            row.parent_id,
            versions,
            versions.index(row.id),
        )


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    id: str
    owner: str | None
    title: str
    created_at: datetime
    updated_at: datetime
    messages: list[MessageRecord] | None = None
    """The active branch, oldest first (only when read with its messages)."""
    model: str | None = None
    instructions: str | None = None
    temperature: float | None = None
    running_reply_id: str | None = None

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
            row.running_reply_id,
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
    """The messages a reply writes into, before its first token.

    The model is sent ``history``, then the user message ``user_text``, then (for a Continue) the reply's
    own text so far, ``prefix``, which the new text is appended to.
    """

    conversation_id: str
    user_message_id: str
    assistant_message_id: str
    history: list[HistoryTurn]
    user_text: str = ""
    prefix: str = ""
    prefix_output_tokens: int | None = None
    prefix_reasoning: str = ""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The text a running reply has produced so far, for its ``streaming`` message."""

    message_id: str
    reply_id: str
    content: str
    reasoning: str = ""


class _Tree:
    """A conversation's messages as the tree they form; versions are siblings of the same role."""

    def __init__(self, rows: Sequence[Message]) -> None:
        self.by_id = {r.id: r for r in rows}
        self.children: dict[str | None, list[Message]] = {}
        for row in sorted(rows, key=lambda r: (r.created_at, r.position, r.id)):
            self.children.setdefault(row.parent_id, []).append(row)

    def branch(self, leaf_id: str | None) -> list[Message]:
        """The path from a root to ``leaf_id``, oldest first."""
        path: list[Message] = []
        node = self.by_id.get(leaf_id) if leaf_id else None
        while node is not None:
            path.append(node)
            node = self.by_id.get(node.parent_id) if node.parent_id else None
        path.reverse()
        return path

    def newest_leaf_below(self, message_id: str | None) -> str | None:
        """Down from ``message_id`` (or from the roots), always into the most recently created child."""
        current = message_id
        while children := self.children.get(current):
            current = children[-1].id
        return current

    def versions(self, row: Message) -> tuple[str, ...]:
        return tuple(r.id for r in self.children.get(row.parent_id, ()) if r.role == row.role)

    def records(self, path: list[Message]) -> list[MessageRecord]:
        return [MessageRecord.of(m, self.versions(m)) for m in path]


def _active_branch(conversation: Conversation, messages: Sequence[Message]) -> list[MessageRecord]:
    tree = _Tree(messages)
    leaf = conversation.active_message_id
    return tree.records(tree.branch(leaf if leaf in tree.by_id else tree.newest_leaf_below(None)))


def _history(path: list[Message]) -> list[HistoryTurn]:
    return [HistoryTurn(m.role, m.content, m.reasoning) for m in path if m.content and m.role in ("user", "assistant")]


def _busy() -> Conflict:
    return Conflict(
        "a reply is still being generated in this conversation; stop it or wait for it to finish",
        code="conversation_busy",
    )


def _chat_key(owner: str | None, chat_id: str) -> str:
    return f"{owner or ''}/{chat_id}"


def _title_from(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TITLE_LENGTH else line[: _TITLE_LENGTH - 1].rstrip() + "…"


class Repository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        bind = sessions.kw.get("bind")
        # SQLite has one writer at a time. Writers that wait in SQLite's busy handler retry at random and
        # give up after busy_timeout, so under a burst (a thousand turns starting at once) some would fail
        # with "database is locked"; queued here instead, they take turns in order and none times out.
        is_sqlite = bind is not None and bind.dialect.name == "sqlite"
        self._write_turn: asyncio.Lock | None = asyncio.Lock() if is_sqlite else None

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncSession]:
        """A write transaction (one at a time in this process on SQLite)."""
        if self._write_turn is None:
            async with self.sessions.begin() as session:
                yield session
            return
        async with self._write_turn, self.sessions.begin() as session:
            yield session

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
        async with self._writing() as session:
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
            async with self._writing() as session:
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
        async with self._writing() as session:
            conversation = await self._owned(session, conversation_id, owner)
            exists = await session.scalar(select(Message.id).where(Message.conversation_id == conversation_id))
            if exists is not None:
                return False
            parent_id: str | None = None
            for position, (role, text) in enumerate(turns):
                message_id = new_id("msg")
                session.add(
                    Message(
                        id=message_id,
                        conversation_id=conversation_id,
                        parent_id=parent_id,
                        position=position,
                        role=role,
                        content=text,
                        status="completed",
                        created_at=now,
                        updated_at=now,
                    )
                )
                parent_id = message_id
            conversation.active_message_id = parent_id
            first_user = next((text for role, text in turns if role == "user"), None)
            if first_user and not conversation.title_is_custom:
                conversation.title = _title_from(first_user)
            conversation.updated_at = now
        return True

    async def get_conversation(self, conversation_id: str, owner: str | None) -> ConversationRecord:
        async with self.sessions() as session:
            row = await self._owned(session, conversation_id, owner)
            messages = await self._messages(session, conversation_id)
        return ConversationRecord.of(row, _active_branch(row, messages))

    async def _messages(self, session: AsyncSession, conversation_id: str) -> Sequence[Message]:
        query = select(Message).where(Message.conversation_id == conversation_id).order_by(Message.position)
        return (await session.scalars(query)).all()

    async def select_branch(self, conversation_id: str, owner: str | None, message_id: str) -> ConversationRecord:
        """Make the branch through ``message_id`` active, down to its most recently created leaf."""
        async with self._writing() as session:
            row = await self._owned(session, conversation_id, owner)
            if row.running_reply_id is not None:
                raise _busy()
            tree = _Tree(await self._messages(session, conversation_id))
            if message_id not in tree.by_id:
                raise NotFound(f"message {clip(message_id)} not found in this conversation")
            row.active_message_id = tree.newest_leaf_below(message_id)
        return await self.get_conversation(conversation_id, owner)

    async def rename_conversation(self, conversation_id: str, owner: str | None, title: str) -> ConversationRecord:
        async with self._writing() as session:
            row = await self._owned(session, conversation_id, owner)
            row.title = title
            row.title_is_custom = True
            row.updated_at = utcnow()
        return ConversationRecord.of(row)

    async def update_conversation(
        self, conversation_id: str, owner: str | None, changes: Mapping[str, Any]
    ) -> ConversationRecord:
        """Change the title and/or settings given; a setting given as None goes back to the default."""
        async with self._writing() as session:
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
            message_ids = [new_id("msg") for _ in imported.messages]
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
                    "active_message_id": message_ids[-1] if message_ids else None,
                }
            )
            for position, m in enumerate(imported.messages):
                message_rows.append(
                    {
                        "id": message_ids[position],
                        "conversation_id": conversation_id,
                        "parent_id": message_ids[position - 1] if position else None,
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
        async with self._writing() as session:
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
        async with self._writing() as session:
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
        replace_from_message_id: str | None = None,
        regenerate_message_id: str | None = None,
        continue_message_id: str | None = None,
    ) -> TurnRecord:
        """Claim the conversation for ``reply_id`` and write the messages its reply goes into.

        A new turn adds a user message and a ``streaming`` assistant placeholder at the end of the active
        branch. ``replace_from_message_id`` (edit) adds a new version of that user message, with the
        placeholder under it; ``regenerate_message_id`` a new version of that assistant message;
        ``continue_message_id`` sets that (cut short) assistant message streaming again. Earlier versions
        stay in the tree; the new branch becomes the active one.

        Raises ``Conflict`` (``conversation_busy``) while another reply runs in the conversation, and
        (``duplicate_request``) when ``client_request_id`` was used already.
        """
        now = utcnow()
        user_id, assistant_id = new_id("msg"), new_id("msg")
        try:
            async with self._writing() as session:
                # The claim comes first and is one conditional UPDATE: the database serializes it (a row
                # lock on PostgreSQL, the write lock on SQLite), so two replies never run at once in one
                # conversation, whichever replicas start them.
                claimed = await session.execute(
                    update(Conversation)
                    .where(
                        Conversation.id == conversation_id,
                        Conversation.owner.is_(None) if owner is None else Conversation.owner == owner,
                        Conversation.running_reply_id.is_(None),
                    )
                    .values(running_reply_id=reply_id, updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if not claimed.rowcount:  # type: ignore[attr-defined]
                    await self._owned(session, conversation_id, owner)  # raises NotFound
                    raise _busy()
                conversation = await session.get(Conversation, conversation_id)
                assert conversation is not None
                active = conversation.active_message_id
                tree = _Tree(await self._messages(session, conversation_id))
                # Set after the last query (no autoflush in between): one UPDATE with the title, if any.
                conversation.active_message_id = continue_message_id or assistant_id
                if continue_message_id is not None:
                    return self._continue(tree, conversation_id, continue_message_id, reply_id, now)
                if regenerate_message_id is not None:
                    assistant = _message_in(tree, regenerate_message_id, "assistant", "regenerateMessageId")
                    user = tree.by_id.get(assistant.parent_id or "")
                    if user is None or user.role != "user":
                        raise Conflict("this reply answers no user message", code="not_regenerable")
                    history = _history(tree.branch(user.parent_id))
                    user_id, user_text = user.id, user.content
                    position = assistant.position
                else:
                    if replace_from_message_id is not None:
                        edited = _message_in(tree, replace_from_message_id, "user", "replaceFromMessageId")
                        parent_id, position = edited.parent_id, edited.position
                    else:
                        # Defensive: an active message that vanished means going on from the newest branch.
                        parent_id = active if active in tree.by_id else tree.newest_leaf_below(None)
                        position = tree.by_id[parent_id].position + 1 if parent_id else 0
                    history = _history(tree.branch(parent_id))
                    session.add(
                        Message(
                            id=user_id,
                            conversation_id=conversation_id,
                            parent_id=parent_id,
                            position=position,
                            role="user",
                            content=user_text,
                            status="completed",
                            # The same columns as the assistant row's: both go in one INSERT statement.
                            model=None,
                            reply_id=None,
                            client_request_id=None,
                            request_owner=owner or "",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    position += 1
                    if not tree.by_id and not conversation.title_is_custom:
                        conversation.title = _title_from(user_text)
                session.add(
                    Message(
                        id=assistant_id,
                        conversation_id=conversation_id,
                        parent_id=user_id,
                        position=position,
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
        except IntegrityError:
            raise Conflict("this clientRequestId was already used", code="duplicate_request") from None
        return TurnRecord(conversation_id, user_id, assistant_id, history, user_text)

    def _continue(self, tree: _Tree, conversation_id: str, message_id: str, reply_id: str, now: datetime) -> TurnRecord:
        message = _message_in(tree, message_id, "assistant", "continueMessageId")
        if message.status not in CONTINUABLE:
            raise Conflict(
                f"only a reply that ended incomplete, interrupted or stopped can be continued (this one is "
                f"{message.status})",
                code="not_continuable",
            )
        if tree.children.get(message.id):
            raise Conflict("only the last reply of a branch can be continued", code="not_continuable")
        user = tree.by_id.get(message.parent_id or "")
        if user is None or user.role != "user":
            raise Conflict("this reply answers no user message", code="not_continuable")
        prefix, prefix_tokens = message.content, message.output_tokens
        message.status = "streaming"
        message.reply_id = reply_id
        message.finish_reason = message.error_code = message.error_message = None
        message.updated_at = now
        history = _history(tree.branch(user.parent_id))
        return TurnRecord(
            conversation_id, user.id, message.id, history, user.content, prefix, prefix_tokens, message.reasoning or ""
        )

    async def checkpoint(self, checkpoints: Sequence[Checkpoint]) -> None:
        """Write the partial text of many running replies in one transaction (one statement, many rows)."""
        if not checkpoints:
            return
        table = Message.__table__
        assert isinstance(table, Table)
        statement = (
            update(table)
            .where(
                # A reply that ended (or a later one, continuing the same message) is not overwritten.
                table.c.id == bindparam("of_message"),
                table.c.reply_id == bindparam("of_reply"),
                table.c.status == "streaming",
            )
            # A checkpoint without reasoning leaves what is stored (a Continue's earlier thoughts) alone.
            .values(content=bindparam("text"), reasoning=func.coalesce(bindparam("thoughts"), table.c.reasoning))
        )
        async with self._writing() as session:
            await session.execute(
                statement,
                [
                    {
                        "of_message": c.message_id,
                        "of_reply": c.reply_id,
                        "text": c.content,
                        "thoughts": c.reasoning or None,
                    }
                    for c in checkpoints
                ],
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
        """Store how a reply ended, and free its conversation for the next one."""
        now = utcnow()
        async with self._writing() as session:
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
                    updated_at=now,
                )
            )
            of_message = select(Message.conversation_id, Message.reply_id).where(Message.id == assistant_message_id)
            await session.execute(
                update(Conversation)
                .where(
                    Conversation.id == of_message.with_only_columns(Message.conversation_id).scalar_subquery(),
                    Conversation.running_reply_id == of_message.with_only_columns(Message.reply_id).scalar_subquery(),
                )
                # updated_at moves: lists show the conversation with the reply that just finished on top.
                .values(running_reply_id=None, updated_at=now)
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
        """Mark replies left ``streaming`` by a crash ``interrupted``, keeping their last checkpointed text.

        Without ``reply_ids``: every one (start-up of a single server, whose last run died).
        """
        now = utcnow()
        query = update(Message).where(Message.status == "streaming")
        released = update(Conversation).where(Conversation.running_reply_id.is_not(None))
        if reply_ids is not None:
            query = query.where(Message.reply_id.in_(reply_ids))
            released = released.where(Conversation.running_reply_id.in_(reply_ids))
        async with self._writing() as session:
            result = await session.execute(
                query.values(
                    status="interrupted",
                    finish_reason="cancelled",
                    error_code="server_restarted",
                    error_message="the server stopped while this reply was being written; "
                    "the text saved until then is kept",
                    updated_at=now,
                )
            )
            await session.execute(released.values(running_reply_id=None, updated_at=now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def interrupt_reply(
        self, reply_id: str, content: str | None, output_tokens: int | None, *, reasoning: str = ""
    ) -> bool:
        """End one reply whose generator died (its replica is gone), keeping the text (and reasoning) it had
        produced. ``content`` None keeps the last checkpoint (the live log is lost)."""
        now = utcnow()
        values: dict[str, object] = {
            "status": "interrupted",
            "finish_reason": "cancelled",
            "error_code": "replica_lost",
            "error_message": "the server writing this reply went away; the text written until then is kept",
            "updated_at": now,
        }
        if content is not None:
            values["content"] = content
            values["reasoning"] = reasoning or None
            values["output_tokens"] = output_tokens
        async with self._writing() as session:
            result = await session.execute(
                update(Message).where(Message.reply_id == reply_id, Message.status == "streaming").values(**values)
            )
            await session.execute(
                update(Conversation)
                .where(Conversation.running_reply_id == reply_id)
                .values(running_reply_id=None, updated_at=now)
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


def _message_in(tree: _Tree, message_id: str, role: str, field: str) -> Message:
    message = tree.by_id.get(message_id)
    if message is None:
        raise NotFound(f"{field}: message {clip(message_id)} not found in this conversation")
    if message.role != role:
        raise Conflict(
            f"{field} must name {'a user' if role == 'user' else 'an assistant'} message",
            code=f"not_an_{role}_message" if role == "assistant" else "not_a_user_message",
        )
    return message
