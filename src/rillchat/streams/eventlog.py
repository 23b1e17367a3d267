"""Append-only logs of a reply's events, numbered from 1; readers follow them live or from any point.

Each entry is rendered once, when appended, into the bytes every reader sends: the live path and the
resume path serve the same bytes, and a thousand readers of one reply cost one encoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from rillchat.encoders.sse import encode_event
from rillchat.encoders.text import encode_text
from rillchat.events import Event

__all__ = ["EventLog", "LogEntry", "MemoryEventLog", "render"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    event: Event
    sse: bytes
    text: bytes


def render(seq: int, event: Event) -> LogEntry:
    return LogEntry(seq, event, encode_event(seq, event), encode_text(event))


class EventLog(Protocol):
    """One reply's events. Implementations: in memory (here), Redis Streams (scale-out)."""

    @property
    def closed(self) -> bool: ...

    @property
    def last_seq(self) -> int: ...

    async def append(self, event: Event) -> int: ...

    async def close(self) -> None: ...

    def follow(self, after: int, keepalive: float) -> AsyncIterator[list[LogEntry]]:
        """Batches of entries after ``after`` until the log is closed and read to its end.

        An empty batch means ``keepalive`` seconds passed with nothing new. Entries that arrive while a
        reader is busy come together in its next batch, so a fast stream costs one write per loop turn.
        """
        ...


class MemoryEventLog:
    __slots__ = ("_closed", "_entries", "_waiters")

    def __init__(self) -> None:
        self._entries: list[LogEntry] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        return len(self._entries)

    async def append(self, event: Event) -> int:
        return self.append_nowait(event)

    def append_nowait(self, event: Event) -> int:
        if self._closed:
            raise RuntimeError("append to a closed event log")
        seq = len(self._entries) + 1
        self._publish([render(seq, event)])
        return seq

    def _publish(self, entries: list[LogEntry]) -> None:
        """Make entries visible to readers (subclasses may hold them back until they are durable)."""
        self._entries.extend(entries)
        self._wake()

    async def close(self) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def follow(self, after: int, keepalive: float) -> AsyncIterator[list[LogEntry]]:
        loop = asyncio.get_running_loop()
        entries = self._entries
        while True:
            if after < len(entries):
                batch = entries[after:]
                after = len(entries)
                yield batch
                continue
            if self._closed:
                return
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            timer = loop.call_later(keepalive, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
            if after == len(entries) and not self._closed:
                yield []


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
