"""Reading a reply's SSE (with httpx-sse: nothing here parses SSE framing) and keeping the books a resume
needs: what was seen, the last event id, when to POST again and when to ``GET /api/streams/{id}``.

The async and sync replies share all of this; they differ only in how they wait and read.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from httpx_sse import EventSource, ServerSentEvent

from rillchat.client._errors import (
    ConnectionLostError,
    RillchatClientError,
    RillchatConnectionError,
    ServerError,
)
from rillchat.client._models import ChatResult, parse_event
from rillchat.events import Delta, ErrorEvent, Event, Finish, Queued, Reasoning, ReplyStatus, Start

__all__ = ["REPLY_ID_HEADER", "SSE_ACCEPT", "ReplyState", "Request", "aiter_sse", "iter_sse"]

SSE_ACCEPT = "text/event-stream"
REPLY_ID_HEADER = "x-rillchat-reply-id"

# Reconnect at once after a drop, then back off: 0, 0.1, 0.2, 0.4, 0.8 ... (capped), reset by progress.
_BACKOFF_FIRST = 0.1
_BACKOFF_MAX = 2.0


def _event_source(response: httpx.Response) -> EventSource:
    content_type = response.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != SSE_ACCEPT:
        raise RillchatConnectionError(f"expected an event stream, got {content_type!r}", code="protocol_error")
    return EventSource(response)


def aiter_sse(response: httpx.Response) -> AsyncGenerator[ServerSentEvent, None]:
    """The response's server-sent events (raises RillchatConnectionError if it is not an event stream)."""
    return _event_source(response).aiter_sse()


def iter_sse(response: httpx.Response) -> Generator[ServerSentEvent, None, None]:
    source = _event_source(response)
    events = source.iter_sse()
    assert isinstance(events, Generator)
    return events


@dataclass(frozen=True, slots=True)
class Request:
    """The next connection a reply should make."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None


class _StreamEnded(Exception):
    """The event stream ended cleanly but without its ``finish`` event: treated like a drop."""


STREAM_ENDED = _StreamEnded("the event stream ended before the reply finished")


class ReplyState:
    """Everything a reply has seen, and the decisions about reconnecting. No I/O."""

    def __init__(self, body: dict[str, Any], max_resume_attempts: int, base_url: str) -> None:
        self.body = body
        self.max_resume_attempts = max_resume_attempts
        self.base_url = base_url
        self.reply_id: str | None = None
        self.start: Start | None = None
        self.finish: Finish | None = None
        self.error: ErrorEvent | None = None
        self.queued_position: int | None = None
        self.last_event_id = 0
        self._parts: list[str] = []
        self._text = ""
        self._text_parts = 0
        self._thoughts: list[str] = []
        self.attempts = 0
        """Consecutive failed connections; progress (a new event) resets it."""
        self.reached = False
        """Some connection got as far as an HTTP response: the server exists."""
        self.resumes = 0
        """How many times the reply reconnected (for curiosity and tests)."""

    @property
    def client_request_id(self) -> str:
        return str(self.body["clientRequestId"])

    @property
    def text(self) -> str:
        if self._text_parts != len(self._parts):
            self._text = "".join(self._parts)
            self._text_parts = len(self._parts)
        return self._text

    @property
    def reasoning(self) -> str:
        return "".join(self._thoughts)

    @property
    def done(self) -> bool:
        return self.finish is not None

    def next_request(self) -> Request:
        """Before ``start`` arrived: the POST again (same clientRequestId, so the server attaches to the reply
        it may already have started). After: resume after the last event seen."""
        headers = {"accept": SSE_ACCEPT, "cache-control": "no-store"}
        if self.start is None:
            return Request("POST", "/api/chat/stream", headers, self.body)
        headers["last-event-id"] = str(self.last_event_id)
        return Request("GET", f"/api/streams/{self.start.reply_id}", headers, None)

    def opened(self, response: httpx.Response) -> None:
        self.reached = True
        if self.reply_id is None:
            self.reply_id = response.headers.get(REPLY_ID_HEADER) or None

    def accept(self, sse: ServerSentEvent) -> tuple[int, Event] | None:
        """The event to hand out for this SSE, or None (a keep-alive, something seen before, an unknown name)."""
        if not sse.data or not sse.id:
            # httpx-sse keeps the last id across events (as the SSE spec says), so a ": ping" comment
            # comes out as an empty "message" event: not an event of the reply.
            return None
        try:
            seq = int(sse.id)
            data = orjson.loads(sse.data)
        except (ValueError, orjson.JSONDecodeError) as exc:
            raise RillchatConnectionError(f"malformed event {sse.id!r}: {exc}", code="protocol_error") from exc
        if seq <= self.last_event_id:
            return None  # already handed out (a replay after a POST retry)
        event = parse_event(sse.event, data) if isinstance(data, dict) else None
        self.last_event_id = seq
        self.attempts = 0
        if event is None:
            return None
        if type(event) is Delta:
            self._parts.append(event.text)
            self.queued_position = None
        elif type(event) is Reasoning:
            self._thoughts.append(event.text)
            self.queued_position = None
        elif type(event) is Start:
            self.start = event
            self.reply_id = event.reply_id
        elif type(event) is Queued:
            self.queued_position = event.position
        elif type(event) is ErrorEvent:
            self.error = event
        elif type(event) is Finish:
            self.finish = event
            self.queued_position = None
        return seq, event

    def failed(self, exc: BaseException) -> float:
        """A connection broke (or never opened): how long to wait before the next one, or raise to give up."""
        if isinstance(exc, httpx.ConnectError) and not self.reached:
            # Nothing was ever sent: the server is not there, which retrying will not change.
            raise RillchatConnectionError(f"cannot reach rillchat at {self.base_url}: {exc}", code="unreachable")
        self.attempts += 1
        if self.attempts > self.max_resume_attempts:
            what = f"reply {self.reply_id}" if self.reply_id else "the reply"
            raise ConnectionLostError(
                f"lost the connection to {what} and could not resume it "
                f"({self.max_resume_attempts} attempts): {exc or type(exc).__name__}",
                reply_id=self.reply_id,
                last_event_id=self.last_event_id,
                code="connection_lost",
            ) from exc
        self.resumes += 1
        if self.attempts == 1:
            return 0.0
        return float(min(_BACKOFF_FIRST * 2 ** (self.attempts - 2), _BACKOFF_MAX))

    def refused(self, error: RillchatClientError) -> float:
        """The server answered a (re)connection with an error status: raise it, or wait and try again."""
        self.reached = True
        if self.start is None:
            raise error  # the POST itself was refused: the caller's error, typed
        if isinstance(error, ServerError) and error.code.startswith("http_"):
            # Not rillchat's own answer (a proxy in front of a restarting server): try again.
            return self.failed(error)
        raise ConnectionLostError(
            f"could not resume reply {self.reply_id}: {error.message}",
            reply_id=self.reply_id,
            last_event_id=self.last_event_id,
            status_code=error.status_code,
            code=error.code,
        ) from error

    def result(self) -> ChatResult:
        assert self.start is not None and self.finish is not None
        return ChatResult(
            text=self.text,
            prefix=self.start.prefix,
            model=self.start.model,
            status=self.finish.status,
            finish_reason=self.finish.reason,
            usage=self.finish.usage,
            reply_id=self.start.reply_id,
            conversation_id=self.start.conversation_id,
            user_message_id=self.start.user_message_id,
            assistant_message_id=self.start.assistant_message_id,
            reasoning=self.reasoning,
            reasoning_seconds=self.finish.reasoning_seconds,
        )

    @property
    def failed_reply(self) -> bool:
        return self.finish is not None and self.finish.status is ReplyStatus.FAILED
