"""Conversations: create, list (newest first, by cursor), search, read with messages, edit, delete, and
choose which versions (branches of the message tree) are shown."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rillchat.api.chat import ERROR_RESPONSES, owner_of
from rillchat.api.schemas import not_blank
from rillchat.api.services import Services
from rillchat.errors import InvalidField
from rillchat.storage import ConversationRecord, MessageRecord
from rillchat.storage.search import SearchHit, SnippetPart, search_terms

__all__ = ["router"]

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


class ConversationSettings(BaseModel):
    """What a conversation remembers for its replies; null (or absent) means the server's default."""

    model_config = ConfigDict(strict=True)

    model: str | None = Field(default=None, max_length=200, description="A model id from /api/models.")
    instructions: str | None = Field(default=None, description="System prompt.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 means 0.")


class NewConversation(ConversationSettings):
    title: str | None = Field(default=None, max_length=200)

    _title_not_blank = field_validator("title")(not_blank)


class ConversationChanges(ConversationSettings):
    """Only the fields sent change; a setting sent as null goes back to the server's default."""

    title: str | None = Field(default=None, min_length=1, max_length=200)

    _title_not_blank = field_validator("title")(not_blank)


class SelectBranch(BaseModel):
    messageId: str = Field(min_length=1, max_length=100, description="Any message of the conversation.")


class MessageOut(BaseModel):
    id: str
    parentId: str | None
    versionIds: list[str] = Field(description="Every version at this place in the tree, oldest first.")
    versionIndex: int = Field(description="This message's index in versionIds.")
    role: str
    content: str
    reasoning: str | None = None
    reasoningSeconds: float | None = None
    status: str
    finishReason: str | None
    error: dict[str, str] | None
    model: str | None
    usage: dict[str, int | None] | None
    replyId: str | None
    createdAt: datetime


class ConversationOut(BaseModel):
    id: str
    title: str
    createdAt: datetime
    updatedAt: datetime
    model: str | None = None
    instructions: str | None = None
    temperature: float | None = None
    runningReplyId: str | None = Field(description="The reply generating in it right now, if any.")
    messages: list[MessageOut] | None = Field(default=None, description="The active branch, oldest first.")


class ConversationPage(BaseModel):
    data: list[ConversationOut]
    nextCursor: str | None


class TextPart(BaseModel):
    text: str
    match: bool


class SearchResult(BaseModel):
    id: str
    title: str
    createdAt: datetime
    updatedAt: datetime
    titleMatch: list[TextPart] | None = Field(description="The title in parts, when the title matched.")
    messageId: str | None = Field(description="The best-matching message, when a message matched.")
    role: str | None
    snippet: list[TextPart] | None = Field(description="Text around the hits in that message, in parts.")


class SearchPage(BaseModel):
    data: list[SearchResult]
    nextCursor: str | None


def _message_out(m: MessageRecord) -> MessageOut:
    return MessageOut(
        id=m.id,
        parentId=m.parent_id,
        versionIds=list(m.version_ids),
        versionIndex=m.version_index,
        role=m.role,
        content=m.content,
        reasoning=m.reasoning,
        reasoningSeconds=m.reasoning_seconds,
        status=m.status,
        finishReason=m.finish_reason,
        error={"code": m.error_code, "message": m.error_message or ""} if m.error_code else None,
        model=m.model,
        usage=_usage_out(m),
        replyId=m.reply_id,
        createdAt=m.created_at,
    )


def _usage_out(m: MessageRecord) -> dict[str, int | None] | None:
    if m.input_tokens is None and m.output_tokens is None:
        return None
    usage = {"inputTokens": m.input_tokens, "outputTokens": m.output_tokens}
    if m.reasoning_tokens is not None:
        usage["reasoningTokens"] = m.reasoning_tokens
    return usage


def _conversation_out(c: ConversationRecord) -> ConversationOut:
    return ConversationOut(
        id=c.id,
        title=c.title,
        createdAt=c.created_at,
        updatedAt=c.updated_at,
        model=c.model,
        instructions=c.instructions,
        temperature=c.temperature,
        runningReplyId=c.running_reply_id,
        messages=[_message_out(m) for m in c.messages] if c.messages is not None else None,
    )


def _parts(parts: list[SnippetPart] | None) -> list[TextPart] | None:
    return [TextPart(text=t, match=m) for t, m in parts] if parts is not None else None


def _search_result(hit: SearchHit) -> SearchResult:
    return SearchResult(
        id=hit.conversation_id,
        title=hit.title,
        createdAt=hit.created_at,
        updatedAt=hit.updated_at,
        titleMatch=_parts(hit.title_parts),
        messageId=hit.message_id,
        role=hit.role,
        snippet=_parts(hit.snippet),
    )


def _encode_cursor(c: ConversationRecord) -> str:
    return base64.urlsafe_b64encode(f"{c.updated_at.isoformat()}|{c.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, conversation_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), conversation_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidField("cursor", "not a cursor this server gave out", status_code=400) from None


def _encode_offset(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset|{offset}".encode()).decode()


def _decode_offset(cursor: str) -> int:
    try:
        kind, offset = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidField("cursor", "not a cursor this server gave out", status_code=400)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _settings_changes(body: ConversationSettings, services: Services) -> dict[str, Any]:
    """The settings the body sets (null included), checked: a model must exist, instructions fit the limit."""
    changes: dict[str, Any] = {
        name: getattr(body, name) for name in ("model", "instructions", "temperature") if name in body.model_fields_set
    }
    if changes.get("model") is not None:
        changes["model"] = services.registry.resolve(changes["model"]).id
    limit = services.settings.max_text_chars
    if changes.get("instructions") is not None and len(changes["instructions"]) > limit:
        raise InvalidField("instructions", f"at most {limit} characters")
    return changes


@router.post("", status_code=201, response_model=ConversationOut, responses=ERROR_RESPONSES)
async def create_conversation(body: NewConversation, request: Request) -> ConversationOut:
    services = _services(request)
    record = await services.repository.create_conversation(
        owner_of(request), body.title.strip() if body.title else None, _settings_changes(body, services)
    )
    return _conversation_out(record)


@router.get("", response_model=ConversationPage, responses=ERROR_RESPONSES)
async def list_conversations(
    request: Request,
    limit: int = Query(default=50, ge=1, le=200),
    cursor: str | None = Query(default=None),
) -> ConversationPage:
    before = _decode_cursor(cursor) if cursor else None
    records = await _services(request).repository.list_conversations(owner_of(request), limit + 1, before)
    page = records[:limit]
    next_cursor = _encode_cursor(page[-1]) if len(records) > limit else None
    return ConversationPage(data=[_conversation_out(r) for r in page], nextCursor=next_cursor)


@router.get("/search", response_model=SearchPage, responses=ERROR_RESPONSES)
async def search_conversations(
    request: Request,
    q: str = Query(min_length=1, max_length=500, description="Words to find in titles and messages."),
    limit: int = Query(default=20, ge=1, le=100),
    cursor: str | None = Query(default=None),
) -> SearchPage:
    """Conversations whose title or messages contain every word (the last one as a prefix), best first."""
    terms = search_terms(q)
    if not terms:
        return SearchPage(data=[], nextCursor=None)
    offset = _decode_offset(cursor) if cursor else 0
    hits = await _services(request).repository.search_conversations(owner_of(request), terms, limit + 1, offset)
    next_cursor = _encode_offset(offset + limit) if len(hits) > limit else None
    return SearchPage(data=[_search_result(h) for h in hits[:limit]], nextCursor=next_cursor)


@router.get("/{conversation_id}", response_model=ConversationOut, responses=ERROR_RESPONSES)
async def get_conversation(conversation_id: str, request: Request) -> ConversationOut:
    record = await _services(request).repository.get_conversation(conversation_id, owner_of(request))
    return _conversation_out(record)


@router.patch("/{conversation_id}", response_model=ConversationOut, responses=ERROR_RESPONSES)
async def update_conversation(conversation_id: str, body: ConversationChanges, request: Request) -> ConversationOut:
    """Rename, and/or change the settings its replies use."""
    services = _services(request)
    changes = _settings_changes(body, services)
    if "title" in body.model_fields_set:
        if body.title is None:
            raise InvalidField("title", "a conversation needs a title")
        changes["title"] = body.title.strip()
    record = await services.repository.update_conversation(conversation_id, owner_of(request), changes)
    return _conversation_out(record)


@router.post("/{conversation_id}/select", response_model=ConversationOut, responses=ERROR_RESPONSES)
async def select_branch(conversation_id: str, body: SelectBranch, request: Request) -> ConversationOut:
    """Show the branch through ``messageId`` (following the newest version below it); 409 while a reply runs."""
    record = await _services(request).repository.select_branch(conversation_id, owner_of(request), body.messageId)
    return _conversation_out(record)


@router.delete("/{conversation_id}", status_code=204, responses=ERROR_RESPONSES)
async def delete_conversation(conversation_id: str, request: Request) -> Response:
    services = _services(request)
    owner = owner_of(request)
    record = await services.repository.get_conversation(conversation_id, owner)
    # A reply still running in it (here or on another replica) stops first, so it cannot write into a
    # deleted conversation.
    if record.running_reply_id is not None:
        generation = await services.replies.find(record.running_reply_id, owner)
        if generation is not None:
            generation.stop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(generation.wait(), timeout=10)
    await services.repository.delete_conversation(conversation_id, owner)
    return Response(status_code=204)
