"""Export writers: conversations in, bytes out, a page at a time (constant memory however many there are).

The JSON shape (``rillchat-export``, version 1) is documented in the README; ``importer`` reads it back.
Each page is encoded in a worker thread: a long conversation is big JSON, and the event loop serves replies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson

from rillchat.storage import ConversationRecord, MessageRecord

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "conversation_json", "export_json", "export_markdown"]

EXPORT_FORMAT = "rillchat-export"
EXPORT_VERSION = 1

_JSON_OPTIONS = orjson.OPT_UTC_Z


def _message_json(m: MessageRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": m.id,
        "role": m.role,
        "content": m.content,
        "status": m.status,
        "finishReason": m.finish_reason,
        "error": {"code": m.error_code, "message": m.error_message or ""} if m.error_code else None,
        "model": m.model,
        "usage": {"inputTokens": m.input_tokens, "outputTokens": m.output_tokens}
        if m.input_tokens is not None or m.output_tokens is not None
        else None,
        "createdAt": m.created_at,
        "updatedAt": m.updated_at,
    }
    # Stored reasoning (issue 14) goes out when the message has some.
    if m.reasoning:
        out["reasoning"] = m.reasoning
        out["reasoningSeconds"] = m.reasoning_seconds
    return out


def conversation_json(c: ConversationRecord) -> dict[str, Any]:
    return {
        "id": c.id,
        "title": c.title,
        "createdAt": c.created_at,
        "updatedAt": c.updated_at,
        "settings": {"model": c.model, "instructions": c.instructions, "temperature": c.temperature},
        "messages": [_message_json(m) for m in c.messages or ()],
    }


def _encode_page(page: list[ConversationRecord], first: bool) -> bytes:
    body = b",".join(orjson.dumps(conversation_json(c), option=_JSON_OPTIONS) for c in page)
    return body if first else b"," + body


async def export_json(pages: AsyncIterator[list[ConversationRecord]]) -> AsyncIterator[bytes]:
    header = {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "exportedAt": datetime.now(UTC)}
    # The header's keys come first, so a reader knows the format before the (long) list begins.
    yield orjson.dumps(header, option=_JSON_OPTIONS)[:-1] + b',"conversations":['
    first = True
    async for page in pages:
        if page:
            yield await asyncio.to_thread(_encode_page, page, first)
            first = False
    yield b"]}\n"


# Markdown -------------------------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def _conversation_markdown(c: ConversationRecord) -> str:
    lines = [f"# {c.title}", ""]
    facts = [f"created {_when(c.created_at)}", f"updated {_when(c.updated_at)}"]
    if c.model:
        facts.append(f"model {c.model}")
    if c.temperature is not None:
        facts.append(f"temperature {c.temperature:g}")
    lines += [f"*{' · '.join(facts)}*", ""]
    if c.instructions:
        lines += ["**Instructions**", "", _quote(c.instructions), ""]
    for m in c.messages or ():
        who = {"user": "You", "assistant": "Assistant", "system": "System"}.get(m.role, m.role.title())
        if m.role == "assistant" and m.model:
            who += f" ({m.model})"
        lines += [f"### {who} · {_when(m.created_at)}", ""]
        if m.reasoning:
            lines += ["<details><summary>Thinking</summary>", "", m.reasoning, "", "</details>", ""]
        lines += [m.content if m.content else "*(empty)*", ""]
        if m.status not in ("completed", "streaming"):
            note = f"*{m.status}*"
            if m.error_message:
                note += f" — {m.error_message}"
            lines += [note, ""]
    return "\n".join(lines)


def _encode_markdown_page(page: list[ConversationRecord], first: bool) -> bytes:
    text = "\n---\n\n".join(_conversation_markdown(c) for c in page)
    return (text if first else "\n---\n\n" + text).encode()


async def export_markdown(pages: AsyncIterator[list[ConversationRecord]]) -> AsyncIterator[bytes]:
    first = True
    async for page in pages:
        if page:
            yield await asyncio.to_thread(_encode_markdown_page, page, first)
            first = False
    if first:
        yield b"*No conversations.*\n"
