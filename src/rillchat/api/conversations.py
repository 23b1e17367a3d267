"""Conversations: create, list (newest first, by cursor), read with messages, rename, delete."""

from __future__ import annotations

import base64
from datetime import datetime

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from rillchat.api.chat import ERROR_RESPONSES, owner_of
from rillchat.api.services import Services
from rillchat.errors import InvalidField
from rillchat.storage import ConversationRecord, MessageRecord

__all__ = ["router"]

router = APIRouter(prefix="/api/conversations", tags=["conversations"])


class NewConversation(BaseModel):
    title: str | None = Field(default=None, max_length=200)


class Rename(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class MessageOut(BaseModel):
    id: str
    role: str
    content: str
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
    messages: list[MessageOut] | None = None


class ConversationPage(BaseModel):
    data: list[ConversationOut]
    nextCursor: str | None


def _message_out(m: MessageRecord) -> MessageOut:
    return MessageOut(
        id=m.id,
        role=m.role,
        content=m.content,
        status=m.status,
        finishReason=m.finish_reason,
        error={"code": m.error_code, "message": m.error_message or ""} if m.error_code else None,
        model=m.model,
        usage={"inputTokens": m.input_tokens, "outputTokens": m.output_tokens}
        if m.input_tokens is not None or m.output_tokens is not None
        else None,
        replyId=m.reply_id,
        createdAt=m.created_at,
    )


def _conversation_out(c: ConversationRecord) -> ConversationOut:
    return ConversationOut(
        id=c.id,
        title=c.title,
        createdAt=c.created_at,
        updatedAt=c.updated_at,
        messages=[_message_out(m) for m in c.messages] if c.messages is not None else None,
    )


def _encode_cursor(c: ConversationRecord) -> str:
    return base64.urlsafe_b64encode(f"{c.updated_at.isoformat()}|{c.id}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        at, conversation_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), conversation_id
    except (ValueError, UnicodeDecodeError):
        raise InvalidField("cursor", "not a cursor this server gave out", status_code=400) from None


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


@router.post("", status_code=201, response_model=ConversationOut, responses=ERROR_RESPONSES)
async def create_conversation(body: NewConversation, request: Request) -> ConversationOut:
    record = await _services(request).repository.create_conversation(owner_of(request), body.title)
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


@router.get("/{conversation_id}", response_model=ConversationOut, responses=ERROR_RESPONSES)
async def get_conversation(conversation_id: str, request: Request) -> ConversationOut:
    record = await _services(request).repository.get_conversation(conversation_id, owner_of(request))
    return _conversation_out(record)


@router.patch("/{conversation_id}", response_model=ConversationOut, responses=ERROR_RESPONSES)
async def rename_conversation(conversation_id: str, body: Rename, request: Request) -> ConversationOut:
    record = await _services(request).repository.rename_conversation(
        conversation_id, owner_of(request), body.title.strip() or body.title
    )
    return _conversation_out(record)


@router.delete("/{conversation_id}", status_code=204, responses=ERROR_RESPONSES)
async def delete_conversation(conversation_id: str, request: Request) -> Response:
    services = _services(request)
    owner = owner_of(request)
    record = await services.repository.get_conversation(conversation_id, owner)
    # A reply still running in it stops first, so it cannot write into a deleted conversation.
    for message in record.messages or []:
        if message.status == "streaming" and message.reply_id:
            generation = services.hub.get(message.reply_id)
            if generation is not None:
                generation.stop()
                await generation.wait()
    await services.repository.delete_conversation(conversation_id, owner)
    return Response(status_code=204)
