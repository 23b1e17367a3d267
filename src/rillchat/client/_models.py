"""What the client hands back: rillchat's own event types (parsed from the wire's camelCase JSON) and a few
small result records. Nothing here does I/O."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rillchat.client._errors import RillchatConnectionError
from rillchat.events import (
    Delta,
    ErrorEvent,
    Event,
    Finish,
    FinishReason,
    Queued,
    Reasoning,
    ReplyStatus,
    Start,
    Usage,
)

__all__ = [
    "ChatResult",
    "Conversation",
    "ConversationPage",
    "Message",
    "MessageInput",
    "ModelInfo",
    "StopResult",
    "chat_body",
    "parse_event",
    "parse_usage",
]

MessageInput = Mapping[str, str]
"""An earlier turn: ``{"role": "user" | "assistant" | "system", "content": "..."}``, and for an assistant
turn optionally its ``"reasoning"`` (sent upstream only where the server is configured to)."""


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, Mapping):
        return None
    return Usage(
        _int_or_none(data.get("inputTokens")),
        _int_or_none(data.get("outputTokens")),
        _int_or_none(data.get("reasoningTokens")),
    )


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_event(name: str, data: Mapping[str, Any]) -> Event | None:
    """One SSE event's name and JSON data as an event; ``None`` for names this client does not know."""
    try:
        if name == "delta":
            return Delta(str(data["text"]))
        if name == "reasoning":
            return Reasoning(str(data["text"]))
        if name == "start":
            return Start(
                reply_id=str(data["replyId"]),
                model=str(data.get("model") or ""),
                conversation_id=_str_or_none(data.get("conversationId")),
                user_message_id=_str_or_none(data.get("userMessageId")),
                assistant_message_id=_str_or_none(data.get("assistantMessageId")),
                prefix=str(data.get("prefix") or ""),
            )
        if name == "queued":
            return Queued(int(data["position"]))
        if name == "error":
            return ErrorEvent(str(data.get("code") or "error"), str(data.get("message") or ""))
        if name == "finish":
            return Finish(
                ReplyStatus(data["status"]),
                FinishReason(data["reason"]),
                parse_usage(data.get("usage")),
                _float_or_none(data.get("reasoningSeconds")),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise RillchatConnectionError(f"malformed {name!r} event: {exc}", code="protocol_error") from exc
    return None


def chat_body(
    user_input: str,
    *,
    messages: Sequence[MessageInput] | None,
    instructions: str | None,
    model: str | None,
    temperature: float | None,
    max_output_tokens: int | None,
    conversation_id: str | None,
    client_request_id: str,
    replace_from_message_id: str | None = None,
    reasoning_effort: str | None = None,
    regenerate_message_id: str | None = None,
    continue_message_id: str | None = None,
) -> dict[str, Any]:
    """The request body in the server's camelCase; absent options are left out (the server's defaults)."""
    body: dict[str, Any] = {"userInput": user_input, "clientRequestId": client_request_id}
    optional: dict[str, Any] = {
        "messages": [_turn(m) for m in messages] if messages else None,
        "instructions": instructions,
        "model": model,
        "temperature": temperature,
        "maxOutputTokens": max_output_tokens,
        "conversationId": conversation_id,
        "replaceFromMessageId": replace_from_message_id,
        "reasoningEffort": reasoning_effort,
        "regenerateMessageId": regenerate_message_id,
        "continueMessageId": continue_message_id,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    return body


def _turn(m: MessageInput) -> dict[str, str]:
    turn = {"role": m["role"], "content": m["content"]}
    if m.get("reasoning"):
        turn["reasoning"] = m["reasoning"]
    return turn


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A whole reply. ``text`` is what this reply wrote; for a Continue, the message's text before it is
    ``prefix`` (the whole message: ``prefix + text``)."""

    text: str
    model: str
    status: ReplyStatus
    finish_reason: FinishReason
    usage: Usage | None
    reply_id: str
    conversation_id: str | None = None
    user_message_id: str | None = None
    assistant_message_id: str | None = None
    reasoning: str = ""
    """What the model thought before answering ("" for a model that does not reason)."""
    reasoning_seconds: float | None = None
    prefix: str = ""


@dataclass(frozen=True, slots=True)
class StopResult:
    reply_id: str
    status: str
    """The reply's final status (``stopped``, or how it had already ended); ``stopping`` if still ending."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: str
    upstream: str
    upstream_model: str
    default: bool
    aliases: tuple[str, ...] = ()
    available: bool = True
    """False while its upstream fails to answer."""
    reasoning: bool | None = None
    """It thinks before answering (None: not known)."""
    reasoning_effort: bool = False
    """It takes ``reasoning_effort``."""
    context_length: int | None = None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ModelInfo:
        capabilities = data.get("capabilities")
        caps: Mapping[str, Any] = capabilities if isinstance(capabilities, Mapping) else {}
        reasoning = caps.get("reasoning")
        return cls(
            id=str(data["id"]),
            provider=str(data.get("provider", "")),
            upstream=str(data.get("upstream", "")),
            upstream_model=str(data.get("upstreamModel", "")),
            default=bool(data.get("default", False)),
            aliases=tuple(str(a) for a in data.get("aliases") or ()),
            available=data.get("available") is not False,
            reasoning=reasoning if isinstance(reasoning, bool) else None,
            reasoning_effort=caps.get("reasoningEffort") is True,
            context_length=_int_or_none(caps.get("contextLength")),
        )


def _datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message of a conversation."""

    id: str
    role: str
    content: str
    status: str
    finish_reason: str | None
    error: ErrorEvent | None
    model: str | None
    usage: Usage | None
    reply_id: str | None
    created_at: datetime
    reasoning: str | None = None
    reasoning_seconds: float | None = None
    parent_id: str | None = None
    version_ids: tuple[str, ...] = ()
    """Every version at this place of the conversation (regenerated or edited), oldest first."""
    version_index: int = 0

    @property
    def continuable(self) -> bool:
        """A reply that ended early (length, stop, interruption): ``continue_message_id`` carries it on."""
        return self.role == "assistant" and self.status in ("incomplete", "interrupted", "stopped")

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Message:
        error = data.get("error")
        versions = tuple(str(v) for v in data.get("versionIds") or ()) or (str(data["id"]),)
        return cls(
            id=str(data["id"]),
            role=str(data["role"]),
            content=str(data.get("content") or ""),
            status=str(data.get("status") or ""),
            finish_reason=_str_or_none(data.get("finishReason")),
            error=ErrorEvent(str(error.get("code", "")), str(error.get("message", "")))
            if isinstance(error, Mapping)
            else None,
            model=_str_or_none(data.get("model")),
            usage=parse_usage(data.get("usage")),
            reply_id=_str_or_none(data.get("replyId")),
            created_at=_datetime(data["createdAt"]),
            reasoning=_str_or_none(data.get("reasoning")),
            reasoning_seconds=_float_or_none(data.get("reasoningSeconds")),
            parent_id=_str_or_none(data.get("parentId")),
            version_ids=versions,
            version_index=_int_or_none(data.get("versionIndex")) or 0,
        )


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    messages: tuple[Message, ...] | None = None
    """Only from ``conversations.get(id)``; lists leave it ``None``."""
    model: str | None = None
    instructions: str | None = None
    temperature: float | None = None
    """The conversation's settings; ``None``: the server's default."""
    running_reply_id: str | None = None
    """The reply generating in it right now, if any."""

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Conversation:
        messages = data.get("messages")
        temperature = data.get("temperature")
        return cls(
            id=str(data["id"]),
            title=str(data.get("title") or ""),
            created_at=_datetime(data["createdAt"]),
            updated_at=_datetime(data["updatedAt"]),
            messages=tuple(Message.from_wire(m) for m in messages) if isinstance(messages, list) else None,
            model=_str_or_none(data.get("model")),
            instructions=_str_or_none(data.get("instructions")),
            temperature=float(temperature) if isinstance(temperature, (int, float)) else None,
            running_reply_id=_str_or_none(data.get("runningReplyId")),
        )


@dataclass(frozen=True, slots=True)
class ConversationPage:
    """One page of conversations, newest first; pass ``next_cursor`` to ``list()`` for the next one."""

    conversations: tuple[Conversation, ...] = field(default_factory=tuple)
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[Conversation]:
        return iter(self.conversations)

    def __len__(self) -> int:
        return len(self.conversations)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ConversationPage:
        return cls(
            tuple(Conversation.from_wire(c) for c in data.get("data") or ()),
            _str_or_none(data.get("nextCursor")),
        )


def _parts(data: Any) -> tuple[tuple[str, bool], ...] | None:
    if not isinstance(data, list):
        return None
    return tuple((str(p.get("text", "")), bool(p.get("match"))) for p in data if isinstance(p, Mapping))


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A conversation that matched, with the text around the hits as ``(text, matched)`` parts."""

    id: str
    title: str
    created_at: datetime
    updated_at: datetime
    title_match: tuple[tuple[str, bool], ...] | None
    message_id: str | None
    role: str | None
    snippet: tuple[tuple[str, bool], ...] | None

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SearchResult:
        return cls(
            id=str(data["id"]),
            title=str(data.get("title") or ""),
            created_at=_datetime(data["createdAt"]),
            updated_at=_datetime(data["updatedAt"]),
            title_match=_parts(data.get("titleMatch")),
            message_id=_str_or_none(data.get("messageId")),
            role=_str_or_none(data.get("role")),
            snippet=_parts(data.get("snippet")),
        )


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of search results, best first; pass ``next_cursor`` to ``search()`` for the next one."""

    results: tuple[SearchResult, ...] = field(default_factory=tuple)
    next_cursor: str | None = None

    def __iter__(self) -> Iterator[SearchResult]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> SearchPage:
        return cls(
            tuple(SearchResult.from_wire(r) for r in data.get("data") or ()),
            _str_or_none(data.get("nextCursor")),
        )


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The conversations an import created: ``(id, title)`` each."""

    conversations: tuple[tuple[str, str], ...]

    @property
    def imported(self) -> int:
        return len(self.conversations)

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> ImportResult:
        return cls(tuple((str(c["id"]), str(c.get("title") or "")) for c in data.get("conversations") or ()))


class NotGiven:
    """ "Leave this as it is": a setting passed as ``None`` goes back to the server's default instead."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN = NotGiven()


def settings_body(**fields: object) -> dict[str, object]:
    """The fields given (``None`` included), leaving out ``NOT_GIVEN`` ones."""
    return {name: value for name, value in fields.items() if not isinstance(value, NotGiven)}
