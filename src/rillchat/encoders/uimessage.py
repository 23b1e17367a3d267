"""Events -> the Vercel AI SDK's "UI message stream" (v1), what ``useChat`` with ``DefaultChatTransport`` reads.

Every frame is ``data: <json chunk>\\n\\n`` and the stream ends with ``data: [DONE]``. A reply renders as::

    start  start-step  (data-rillchat-queue)*  (reasoning-start reasoning-delta+ reasoning-end
                                                | text-start text-delta+ text-end)*  error?  finish-step  finish

Deliberate choices, each because of the client:

1. Only fields that every AI SDK 5, 6 and 7 release accepts: the early 5.x clients validate chunks with strict
   schemas and reject any field they do not know. So ``finish`` carries no ``finishReason`` (5.0.0 has none,
   and 5 and 7 disagree on its values): how the reply ended goes into ``messageMetadata`` instead.
2. ``start`` carries the stored assistant message's id as ``messageId`` (the id the history endpoint gives it
   later, so a reloaded page and a regenerate name the same message) and, in ``messageMetadata``, the
   ``replyId`` a client needs to stop the model (``POST /api/streams/{replyId}/stop``).
3. The queue position has no chunk of its own: it goes as a *transient* data part, seen by ``onData`` and
   never stored in the message.
4. Errors become an ``error`` chunk whose ``errorText`` is the user-facing message of the error event (never a
   stack trace); ``useChat`` shows it as its ``error``.

The encoder keeps one piece of state per reader (which part is open), so the live path and a replay from the
event log's first entry produce the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from rillchat.events import Delta, ErrorEvent, Event, Finish, Queued, Reasoning, Start

__all__ = ["QUEUE_PART", "UI_MESSAGE_STREAM_HEADERS", "UIMessageStreamEncoder"]

UI_MESSAGE_STREAM_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-vercel-ai-ui-message-stream", b"v1"),
    (b"x-accel-buffering", b"no"),
]

QUEUE_PART = "data-rillchat-queue"

_DONE = b"data: [DONE]\n\n"
_START_STEP = b'data: {"type":"start-step"}\n\n'
_FINISH_STEP = b'data: {"type":"finish-step"}\n\n'


def _frame(chunk: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


class UIMessageStreamEncoder:
    """Renders one reader's batches of log entries; make one per response."""

    __slots__ = ("_delta_prefix", "_open_id", "_open_kind", "_parts")

    def __init__(self) -> None:
        self._open_kind: str | None = None  # "text" or "reasoning"
        self._open_id = ""
        self._delta_prefix = b""  # the open part's delta frame up to its text: one dumps per token, not a dict
        self._parts = 0

    def encode(self, events: Iterable[Event]) -> bytes:
        return b"".join([self.encode_event(event) for event in events])

    def encode_event(self, event: Event) -> bytes:
        if isinstance(event, Delta):
            return self._delta("text", event.text)
        if isinstance(event, Reasoning):
            return self._delta("reasoning", event.text)
        if isinstance(event, Start):
            return self._start(event)
        if isinstance(event, Queued):
            return _frame({"type": QUEUE_PART, "data": {"position": event.position}, "transient": True})
        if isinstance(event, ErrorEvent):
            return self._close() + _frame({"type": "error", "errorText": event.message})
        if isinstance(event, Finish):
            return self._finish(event)
        return b""

    def _delta(self, part: str, text: str) -> bytes:
        if self._open_kind == part:
            return self._delta_prefix + orjson.dumps(text) + b"}\n\n"
        opening = self._close()
        self._parts += 1
        self._open_kind, self._open_id = part, f"{part}-{self._parts}"
        self._delta_prefix = b'data: {"type":"%s-delta","id":"%s","delta":' % (part.encode(), self._open_id.encode())
        opening += _frame({"type": f"{part}-start", "id": self._open_id})
        return opening + self._delta_prefix + orjson.dumps(text) + b"}\n\n"

    def _close(self) -> bytes:
        if self._open_kind is None:
            return b""
        frame = _frame({"type": f"{self._open_kind}-end", "id": self._open_id})
        self._open_kind = None
        return frame

    @staticmethod
    def _start(event: Start) -> bytes:
        metadata = {"replyId": event.reply_id, "conversationId": event.conversation_id, "model": event.model}
        message_id = event.assistant_message_id or event.reply_id
        return _frame({"type": "start", "messageId": message_id, "messageMetadata": metadata}) + _START_STEP

    def _finish(self, event: Finish) -> bytes:
        metadata: dict[str, Any] = {
            "status": event.status.value,
            "finishReason": event.reason.value,
            "usage": event.usage.to_wire() if event.usage else None,
        }
        if event.reasoning_seconds is not None:
            metadata["reasoningSeconds"] = event.reasoning_seconds
        return self._close() + _FINISH_STEP + _frame({"type": "finish", "messageMetadata": metadata}) + _DONE
