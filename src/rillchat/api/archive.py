"""Export (JSON or Markdown, one conversation or all, streamed) and import (ours or ChatGPT's), per key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from starlette.responses import StreamingResponse

from rillchat.api.chat import ERROR_RESPONSES, owner_of
from rillchat.api.services import Services
from rillchat.archive import export_json, export_markdown, read_import
from rillchat.errors import UnsupportedMediaType
from rillchat.storage import ConversationRecord

__all__ = ["IMPORT_PATH", "router"]

router = APIRouter(prefix="/api/conversations", tags=["export and import"])

IMPORT_PATH = "/api/conversations/import"

ExportFormat = Literal["json", "markdown"]
_MEDIA = {"json": "application/json", "markdown": "text/markdown; charset=utf-8"}
_SUFFIX = {"json": "json", "markdown": "md"}


class ImportedOut(BaseModel):
    id: str
    title: str


class ImportResult(BaseModel):
    imported: int
    conversations: list[ImportedOut]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _download(chunks: AsyncIterator[bytes], fmt: ExportFormat, name: str) -> StreamingResponse:
    filename = f"{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.{_SUFFIX[fmt]}"
    return StreamingResponse(
        chunks,
        media_type=_MEDIA[fmt],
        headers={"content-disposition": f'attachment; filename="{filename}"', "cache-control": "no-store"},
    )


def _encode(pages: AsyncIterator[list[ConversationRecord]], fmt: ExportFormat) -> AsyncIterator[bytes]:
    return export_json(pages) if fmt == "json" else export_markdown(pages)


_FORMAT = Query(default="json", alias="format", description="json (the versioned schema) or markdown.")


@router.get(
    "/export",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}, **ERROR_RESPONSES},
    response_class=StreamingResponse,
)
async def export_all(request: Request, fmt: ExportFormat = _FORMAT) -> StreamingResponse:
    """All of this key's conversations, oldest first, streamed a page at a time."""
    pages = _services(request).repository.export_pages(owner_of(request))
    return _download(_encode(pages, fmt), fmt, "rillchat-conversations")


@router.get(
    "/{conversation_id}/export",
    responses={200: {"content": {"application/json": {}, "text/markdown": {}}}, **ERROR_RESPONSES},
    response_class=StreamingResponse,
)
async def export_one(conversation_id: str, request: Request, fmt: ExportFormat = _FORMAT) -> StreamingResponse:
    """One conversation, in the same shape as the export of all (so it imports the same way)."""
    record = await _services(request).repository.get_conversation(conversation_id, owner_of(request))

    async def one() -> AsyncIterator[list[ConversationRecord]]:
        yield [record]

    return _download(_encode(one(), fmt), fmt, "rillchat-conversation")


@router.post(
    "/import",
    status_code=201,
    response_model=ImportResult,
    responses={**ERROR_RESPONSES, 415: ERROR_RESPONSES[400]},
    openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {}}}}},
)
async def import_conversations(request: Request) -> ImportResult:
    """A rillchat export or ChatGPT's conversations.json as the body; all stored as new conversations, or none."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("send the file as the request body with Content-Type: application/json")
    body = await request.body()
    conversations = await asyncio.to_thread(read_import, body)
    records = await _services(request).repository.import_conversations(owner_of(request), conversations)
    return ImportResult(imported=len(records), conversations=[ImportedOut(id=r.id, title=r.title) for r in records])
