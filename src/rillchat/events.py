"""The one event vocabulary of a reply.

Providers produce these, the event log stores them, the encoders render them. They are pure values: the
position of an event in a reply (its SSE id) is the log's business, not the event's.

A reply's events always come in this order::

    start  queued*  (reasoning | delta)*  error?  finish

``reasoning`` carries what a reasoning model thinks (or its summary of it), ``delta`` the answer; a model
usually thinks first, but nothing here relies on that. ``finish`` is the terminal event: every reply has
exactly one, whatever way it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "Delta",
    "ErrorEvent",
    "Event",
    "Finish",
    "FinishReason",
    "Queued",
    "Reasoning",
    "ReplyStatus",
    "Start",
    "Usage",
    "event_from_wire",
]


class ReplyStatus(StrEnum):
    """How a reply ended (or that it has not yet)."""

    STREAMING = "streaming"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"  # the model stopped early: output token cap, content filter
    FAILED = "failed"  # the model or its connection failed
    STOPPED = "stopped"  # a client asked to stop
    INTERRUPTED = "interrupted"  # nobody was listening any more, or the server went away


class FinishReason(StrEnum):
    STOP = "stop"
    LENGTH = "length"
    CONTENT_FILTER = "content_filter"
    REFUSAL = "refusal"
    ERROR = "error"
    STALLED = "stalled"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    """Of ``output_tokens``, how many the model spent thinking (when the upstream says)."""

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens}
        if self.reasoning_tokens is not None:
            wire["reasoningTokens"] = self.reasoning_tokens
        return wire

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Usage:
        return cls(data.get("inputTokens"), data.get("outputTokens"), data.get("reasoningTokens"))


@dataclass(frozen=True, slots=True)
class Start:
    """First event of every reply: what a client needs to resume and to stop it.

    ``prefix`` is the message's text before this reply's first delta: "" for a new reply, the text so far
    for a Continue. The message's content is always ``prefix`` followed by every delta's text.
    """

    reply_id: str
    model: str
    conversation_id: str | None = None
    user_message_id: str | None = None
    assistant_message_id: str | None = None
    prefix: str = ""

    name = "start"

    def to_wire(self) -> dict[str, Any]:
        return {
            "replyId": self.reply_id,
            "model": self.model,
            "conversationId": self.conversation_id,
            "userMessageId": self.user_message_id,
            "assistantMessageId": self.assistant_message_id,
            "prefix": self.prefix,
        }


@dataclass(frozen=True, slots=True)
class Queued:
    """The reply waits for a busy model; ``position`` 1 means it is next."""

    position: int

    name = "queued"

    def to_wire(self) -> dict[str, Any]:
        return {"position": self.position}


@dataclass(frozen=True, slots=True)
class Delta:
    text: str

    name = "delta"

    def to_wire(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A piece of the model's reasoning (its thoughts, or the summary the upstream gives of them).

    Kept apart from the answer everywhere: stored separately, never in the plain-text protocol, never sent
    back upstream unless an upstream is configured to want it.
    """

    text: str

    name = "reasoning"

    def to_wire(self) -> dict[str, Any]:
        return {"text": self.text}


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """Something went wrong mid-reply; a ``finish`` with status ``failed`` follows."""

    code: str
    message: str

    name = "error"

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True, slots=True)
class Finish:
    status: ReplyStatus
    reason: FinishReason
    usage: Usage | None = None
    reasoning_seconds: float | None = None
    """How long the model thought (first reasoning to first answer text); only when it did."""

    name = "finish"

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "status": self.status.value,
            "reason": self.reason.value,
            "usage": self.usage.to_wire() if self.usage else None,
        }
        if self.reasoning_seconds is not None:
            wire["reasoningSeconds"] = self.reasoning_seconds
        return wire


Event = Start | Queued | Reasoning | Delta | ErrorEvent | Finish


def event_from_wire(name: str, data: dict[str, Any]) -> Event:
    """The inverse of ``Event.to_wire``: how a log stored outside this process gives its events back."""
    if name == "delta":
        return Delta(data["text"])
    if name == "reasoning":
        return Reasoning(data["text"])
    if name == "start":
        return Start(
            data["replyId"],
            data["model"],
            data["conversationId"],
            data["userMessageId"],
            data["assistantMessageId"],
            data.get("prefix", ""),
        )
    if name == "queued":
        return Queued(data["position"])
    if name == "error":
        return ErrorEvent(data["code"], data["message"])
    if name == "finish":
        usage = data.get("usage")
        return Finish(
            ReplyStatus(data["status"]),
            FinishReason(data["reason"]),
            Usage.from_wire(usage) if usage else None,
            data.get("reasoningSeconds"),
        )
    raise ValueError(f"unknown event {name!r}")
