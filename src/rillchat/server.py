"""Serving rillchat with uvicorn, plus what uvicorn's httptools protocol lacks (issue 11, finding 5).

uvicorn bounds nothing before the app runs: with httptools there is no limit on a request's head (h11 has
``h11_max_incomplete_event_size`` but costs more per streamed token) and, with either, no time limit on
reading the head or the body (``timeout_keep_alive`` only covers the idle time between requests). So a
client could grow memory with a never-ending header, or hold a connection by trickling bytes.

``GuardedHttpToolsProtocol`` adds, per connection (each connection its own counter and timer):

- the request head (request line and headers) may not exceed ``max_header_bytes``: 431;
- the head must arrive within ``header_timeout_seconds`` of its first byte (or of the connection): 408;
- the body must arrive within ``body_timeout_seconds`` of the head: 408.

The answers are JSON errors like every other, and the connection is closed after them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from rillchat.api.errors import error_bytes
from rillchat.config import Settings

__all__ = ["GuardedHttpToolsProtocol", "ServerConfig", "run", "server_config"]

PROTOCOL = "rillchat.server:GuardedHttpToolsProtocol"
_LINGER_SECONDS = 2.0  # by name: worker processes import it themselves


class ServerConfig(uvicorn.Config):
    """uvicorn's configuration, with the limits ``GuardedHttpToolsProtocol`` reads."""

    def __init__(
        self,
        app: Any,
        *,
        max_header_bytes: int = 65_536,
        header_timeout_seconds: float = 10.0,
        body_timeout_seconds: float = 30.0,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("http", PROTOCOL)
        super().__init__(app, **kwargs)
        self.max_header_bytes = max_header_bytes
        self.header_timeout_seconds = header_timeout_seconds
        self.body_timeout_seconds = body_timeout_seconds


def server_config(app: Any, settings: Settings, **kwargs: Any) -> ServerConfig:
    return ServerConfig(
        app,
        max_header_bytes=settings.max_header_bytes,
        header_timeout_seconds=settings.header_timeout_seconds,
        body_timeout_seconds=settings.body_timeout_seconds,
        **kwargs,
    )


def run(config: ServerConfig) -> None:
    """``uvicorn.run`` for a config built here (uvicorn.run builds its own, without our limits)."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        uvicorn.Server(config).run()


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.max_header_bytes: int = getattr(config, "max_header_bytes", 65_536)
        self.header_timeout: float = getattr(config, "header_timeout_seconds", 10.0)
        self.body_timeout: float = getattr(config, "body_timeout_seconds", 30.0)
        self.reading_head = True
        self.head_bytes = 0
        self.deadline: asyncio.TimerHandle | None = None
        self.discarding = False
        self.message_ended = False

    def _arm(self, seconds: float, message: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._refuse, 408, "request_timeout", message)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "the request headers took too long to arrive")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.discarding:
            return
        if self.reading_head and self.deadline is None:  # the next request on a kept-alive connection
            self._arm(self.header_timeout, "the request headers took too long to arrive")
        self.message_ended = False
        super().data_received(data)
        # Still reading a head, and no message ended in this chunk: all of it was head.
        if self.reading_head and not self.message_ended and not self.transport.is_closing():
            self.head_bytes += len(data)
            if self.head_bytes > self.max_header_bytes:
                self._refuse(431, "headers_too_large", f"the request head is larger than {self.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self.head_bytes = 0
        self._arm(self.body_timeout, "the request body took too long to arrive")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self.reading_head = True
        self.message_ended = True

    def _refuse(self, status: int, code: str, message: str) -> None:
        self.deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is None or not cycle.response_started:
            body = error_bytes(code, message)
            self.transport.write(
                b"".join(
                    [
                        STATUS_LINE[status],
                        b"content-type: application/json\r\n",
                        b"content-length: " + str(len(body)).encode() + b"\r\n",
                        b"connection: close\r\n\r\n",
                        body,
                    ]
                )
            )
        if cycle is not None:  # the app, if it runs, sees the client gone and its sends go nowhere
            cycle.disconnected = True
            cycle.message_event.set()
        # A lingering close: closing with the client's bytes unread would reset the connection, and the
        # client could lose the answer. Send it, end our side, drop what still comes for a moment.
        self.discarding = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)
