"""The ASGI response that sends a reply's event log to one client, live.

Three things run at once: the writer (log -> socket), and a watcher that notices the client leaving at
any moment, even before the first byte (it reads ``http.disconnect`` from ``receive``); whichever ends
first ends the other. The writer sends one ASGI message per batch of log entries, so deltas that arrive
in the same loop turn leave in one write. There is deliberately no middleware between this and the server.

Ways it ends: the reply finished (terminal event sent, or for plain text a clean end), the reply failed
in plain-text mode (connection closed without the terminating chunk), the reply could not start (a JSON
error with its status, nothing streamed yet), the client left (the hub decides what happens to the reply).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable
from typing import Any, Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from rillchat.api.errors import send_error
from rillchat.encoders.sse import KEEPALIVE, SSE_HEADERS
from rillchat.encoders.text import TEXT_HEADERS
from rillchat.errors import RillchatError
from rillchat.events import Event, Finish, ReplyStatus
from rillchat.streams.eventlog import Batch
from rillchat.streams.hub import Hub
from rillchat.streams.reply import Reply

__all__ = ["FrameEncoder", "ReplyAborted", "ReplyStreamResponse"]


class FrameEncoder(Protocol):
    """Renders events in a protocol of its own, per reader (the log pre-renders only SSE and plain text)."""

    def encode(self, events: Iterable[Event]) -> bytes: ...


class ReplyAborted(Exception):
    """Raised after the response started to make the server drop the connection mid-body.

    That is how a plain-text client learns that a reply is broken: its reader fails instead of ending.
    ``rillchat.api.app`` keeps this expected event out of the error log.
    """


class ReplyStreamResponse(Response):
    """A Starlette ``Response`` only so that FastAPI passes it through; it renders itself."""

    def __init__(
        self,
        generation: Reply,
        hub: Hub,
        *,
        sse: bool,
        after: int = 0,
        keepalive: float = 15.0,
        wait_opened: bool = True,
        headers: list[tuple[bytes, bytes]] | None = None,
        frames: tuple[FrameEncoder, list[tuple[bytes, bytes]]] | None = None,
        leaving_stops: bool = False,
    ) -> None:
        """``frames``: an encoder and its headers, for an SSE protocol other than rillchat's own events.
        ``leaving_stops``: this client's leaving stops the reply (if no one else follows it), whatever kind
        of reply it is (see ``Hub.detach``)."""
        self.generation = generation
        self.hub = hub
        self.sse = sse
        self.after = after
        self.keepalive = keepalive if sse else 3600.0
        self.wait_opened = wait_opened
        self.background = None
        self.frames = frames[0] if frames else None
        self.leaving_stops = leaving_stops
        self.common_headers = headers or []  # sent with an error too (the request id)
        self.extra_headers = (
            (frames[1] if frames else SSE_HEADERS if sse else TEXT_HEADERS)
            + [(b"x-rillchat-reply-id", generation.id.encode())]
            + self.common_headers
        )

    def add_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.common_headers = self.common_headers + headers
        self.extra_headers = self.extra_headers + headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.hub.attach(self.generation)
        client_left = False
        writer = asyncio.ensure_future(self._write(send))
        watcher = asyncio.ensure_future(_client_gone(receive))
        try:
            await asyncio.wait((writer, watcher), return_when=asyncio.FIRST_COMPLETED)
            client_left = watcher.done() and not writer.done()
        finally:
            for task in (writer, watcher):
                task.cancel()
            await asyncio.gather(writer, watcher, return_exceptions=True)
            # Plain-text clients cannot resume, so nobody else can want what they leave behind (unless it is
            # a conversation's reply: the hub lets those run on).
            self.hub.detach(self.generation, interrupt_now=not self.sse, leaving_stops=self.leaving_stops)
        if not client_left and not writer.cancelled() and writer.exception() is not None:
            raise writer.exception()  # type: ignore[misc]

    async def _write(self, send: Send) -> None:
        if self.wait_opened:
            try:
                await asyncio.shield(self.generation.opened)
            except RillchatError as exc:
                await send_error(send, exc, self.common_headers)
                return
        await send({"type": "http.response.start", "status": 200, "headers": self.extra_headers})
        writer = _DirectWriter(send, self._encode)
        async for batch in self.generation.log.follow(self.after, self.keepalive, writer):
            await writer.settle()
            if batch.events:
                writer.last = batch.events[-1]
            body = self._encode(batch)
            if body:
                await send({"type": "http.response.body", "body": body, "more_body": True})
        await writer.settle()
        last = writer.last
        if not self.sse and type(last) is Finish and last.status is ReplyStatus.FAILED:
            raise ReplyAborted(self.generation.id)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _encode(self, batch: Batch) -> bytes:
        """The batch in this response's format; an empty batch is a keep-alive (plain text has none)."""
        if not self.sse:
            return batch.text()
        if not batch.events:
            return KEEPALIVE
        return self.frames.encode(batch.events) if self.frames is not None else batch.sse()


class _DirectWriter:
    """Writes a caught-up reader's new events from the appender's task, without waking the reader's task.

    ``send`` is a coroutine function; uvicorn's completes without suspending unless the socket's buffer is
    full (it then waits for it to drain). So it is stepped by hand: done at once, the write is made and
    the reader stays caught up; suspended, the rest of that write is left to the reader's task
    (``settle``), which reads on from the log from then on. Runs in the reader's context (request id)."""

    __slots__ = ("_context", "_encode", "_error", "_pending", "_send", "last")

    def __init__(self, send: Send, encode: Callable[[Batch], bytes]) -> None:
        self._send = send
        self._encode = encode
        self._context = contextvars.copy_context()
        self._pending: Awaitable[None] | None = None
        self._error: BaseException | None = None
        self.last: object = None

    def __call__(self, batch: Batch) -> bool:
        self.last = batch.events[-1]
        body = self._encode(batch)
        if not body:
            return True
        write = self._send({"type": "http.response.body", "body": body, "more_body": True})
        if not isinstance(write, Coroutine):  # some other awaitable: the reader's task awaits it
            self._pending = write
            return False
        try:
            blocked_on = self._context.run(write.send, None)
        except StopIteration:
            return True
        except BaseException as exc:  # handed to the reader's task, which fails with it
            self._error = exc
            return False
        self._pending = _Resumed(write, blocked_on)
        return False

    async def settle(self) -> None:
        """Finish a write that could not complete at once (or raise what it failed with)."""
        if self._pending is not None:
            pending, self._pending = self._pending, None
            await pending
        if self._error is not None:
            raise self._error


class _Resumed:
    """Awaiting this runs the rest of a coroutine that was started by hand and suspended on ``blocked_on``."""

    __slots__ = ("_blocked_on", "_coroutine")

    def __init__(self, coroutine: Coroutine[Any, Any, None], blocked_on: Any) -> None:
        self._coroutine = coroutine
        self._blocked_on = blocked_on

    def __await__(self) -> Generator[Any, None, None]:
        coroutine, blocked_on = self._coroutine, self._blocked_on
        while True:
            try:
                yield blocked_on
            except BaseException as exc:  # cancelled while it waits: the coroutine gets to clean up
                try:
                    blocked_on = coroutine.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                blocked_on = coroutine.send(None)
            except StopIteration:
                return


async def _client_gone(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
