"""Reading an import file: rillchat's own export, or ChatGPT's ``conversations.json``.

``read_import`` runs in a worker thread (the file may be tens of megabytes of JSON). It either returns
every conversation, ready to store, or raises ``InvalidImport`` naming the first thing wrong, with the
path to it (``conversations[3].messages[0].role``), so that nothing is stored from a bad file.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rillchat.archive import chatgpt
from rillchat.archive.errors import InvalidImport
from rillchat.archive.exporter import EXPORT_FORMAT, EXPORT_VERSION
from rillchat.storage.repository import ImportedConversation, ImportedMessage

__all__ = ["InvalidImport", "read_import"]

_TITLE_CHARS = 200


class _Error(BaseModel):
    code: str
    message: str = ""


class _Usage(BaseModel):
    inputTokens: int | None = Field(default=None, ge=0)
    outputTokens: int | None = Field(default=None, ge=0)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["user", "assistant", "system"]
    content: str
    status: Literal["completed", "incomplete", "failed", "stopped", "interrupted", "streaming"] = "completed"
    finishReason: str | None = Field(default=None, max_length=32)
    error: _Error | None = None
    model: str | None = Field(default=None, max_length=200)
    usage: _Usage | None = None
    reasoning: str | None = None
    reasoningSeconds: float | None = Field(default=None, ge=0)
    createdAt: datetime
    updatedAt: datetime | None = None


class _Settings(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(default=None, max_length=200)
    instructions: str | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)


class _Conversation(BaseModel):
    model_config = ConfigDict(extra="ignore")

    title: str
    createdAt: datetime
    updatedAt: datetime
    settings: _Settings = Field(default_factory=_Settings)
    messages: list[_Message]


class _ExportFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["rillchat-export"]
    version: int
    conversations: list[_Conversation]


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "file"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _text(text: str) -> str:
    """PostgreSQL's text cannot hold NUL characters (some exports have them): they go."""
    return text.replace("\x00", "")


def _title(text: str) -> str:
    line = " ".join(_text(text).split()) or "Imported conversation"
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1].rstrip() + "…"


def _from_export(data: dict[str, Any]) -> list[ImportedConversation]:
    version = data.get("version")
    if isinstance(version, int) and version > EXPORT_VERSION:
        raise InvalidImport(
            "version", f"this file is export version {version}; this server reads up to version {EXPORT_VERSION}"
        )
    try:
        parsed = _ExportFile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidImport(_path(first["loc"]), first["msg"]) from None
    conversations = []
    for c in parsed.conversations:
        messages = [
            ImportedMessage(
                role=m.role,
                content=_text(m.content),
                created_at=_aware(m.createdAt),
                updated_at=_aware(m.updatedAt) if m.updatedAt else None,
                # A reply exported mid-stream is not being generated here: it was cut off.
                status="interrupted" if m.status == "streaming" else m.status,
                finish_reason=m.finishReason,
                error_code=m.error.code if m.error else None,
                error_message=m.error.message if m.error else None,
                model=m.model,
                input_tokens=m.usage.inputTokens if m.usage else None,
                output_tokens=m.usage.outputTokens if m.usage else None,
                reasoning=_text(m.reasoning) if m.reasoning else None,
                reasoning_seconds=m.reasoningSeconds if m.reasoning else None,
            )
            for m in c.messages
        ]
        conversations.append(
            ImportedConversation(
                title=_title(c.title),
                created_at=_aware(c.createdAt),
                updated_at=_aware(c.updatedAt),
                model=c.settings.model,
                instructions=_text(c.settings.instructions) if c.settings.instructions else None,
                temperature=c.settings.temperature,
                messages=messages,
            )
        )
    return conversations


def read_import(body: bytes) -> list[ImportedConversation]:
    """Every conversation in the file, or ``InvalidImport`` saying what is wrong (nothing half-read)."""
    if not body.strip():
        raise InvalidImport("file", "the file is empty")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidImport(
            "file", f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); was the file cut short?"
        ) from None
    if isinstance(data, dict) and data.get("format") == EXPORT_FORMAT:
        return _from_export(data)
    if isinstance(data, list):
        return [
            ImportedConversation(
                title=_title(c.title),
                created_at=c.created_at,
                updated_at=c.updated_at,
                instructions=_text(c.instructions) if c.instructions else None,
                messages=[
                    ImportedMessage(role=m.role, content=_text(m.content), created_at=m.created_at, model=m.model)
                    for m in c.messages
                ],
            )
            for c in chatgpt.read_conversations(data)
        ]
    if isinstance(data, dict) and "mapping" in data:
        raise InvalidImport("file", "this is one ChatGPT conversation; import the whole conversations.json (a list)")
    raise InvalidImport(
        "format",
        f'not a rillchat export (an object with "format": "{EXPORT_FORMAT}") '
        'nor a ChatGPT conversations.json (a list of conversations with a "mapping")',
    )
