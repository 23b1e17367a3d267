"""Append-only logs of a reply's events, numbered from 1; readers follow them live or from any point.

Events are kept as they came; each reader encodes what it reads into the one format it sends (SSE or
plain text), so nothing is rendered for a format nobody reads. When a reply ends its log is compacted:
the texts of its streamed events (``Delta``, and any other event kind whose only field is ``text``) are
joined into one string per kind, with one small integer per event for its length, and the few other
events (start, queued, error, finish) are kept as they are. A finished reply then costs its text plus a
few hundred bytes instead of one object graph per token, and resuming from any ``Last-Event-ID``
rebuilds exactly the events, hence exactly the bytes, that were sent live.
"""

from __future__ import annotations

import asyncio
import dataclasses
from array import array
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, get_args

from rillchat.encoders.sse import encode_event, encode_frame
from rillchat.encoders.text import encode_text
from rillchat.events import Event

__all__ = ["TEXT_KINDS", "Batch", "CompactLog", "Direct", "EventLog", "MemoryEventLog", "Readers", "follow_log"]


def _text_kinds() -> tuple[type[Any], ...]:
    """Event kinds streamed many per reply whose only content is a text: compacted as joined text."""
    kinds: tuple[type[Any], ...] = get_args(Event)
    return tuple(cls for cls in kinds if [f.name for f in dataclasses.fields(cls)] == ["text"])


TEXT_KINDS = _text_kinds()
_KIND_CODE = {cls: code for code, cls in enumerate(TEXT_KINDS, start=1)}  # 0: any other event


class Batch:
    """Events ``first``, ``first + 1``, ... of a log, read together; no events means a keep-alive is due.

    ``wire`` holds the events' JSON when the log has it already (read from Redis), so that SSE readers
    do not encode them again."""

    __slots__ = ("events", "first", "wire")

    def __init__(self, first: int, events: Sequence[Event], wire: Sequence[bytes] | None = None) -> None:
        self.first = first
        self.events = events
        self.wire = wire

    @property
    def last_seq(self) -> int:
        return self.first + len(self.events) - 1

    def after(self, seq: int) -> Batch:
        """The events of this batch after ``seq`` (one of them)."""
        cut = seq + 1 - self.first
        return Batch(seq + 1, self.events[cut:], self.wire[cut:] if self.wire is not None else None)

    def sse(self) -> bytes:
        seq = self.first
        if self.wire is not None:
            return b"".join(
                [encode_frame(seq + i, e.name, w) for i, (e, w) in enumerate(zip(self.events, self.wire, strict=True))]
            )
        return b"".join([encode_event(seq + i, e) for i, e in enumerate(self.events)])

    def text(self) -> bytes:
        return b"".join([encode_text(e) for e in self.events])


class EventLog(Protocol):
    """One reply's events. Implementations: in memory (here), Redis Streams (scale-out)."""

    @property
    def closed(self) -> bool: ...

    @property
    def last_seq(self) -> int: ...

    async def append(self, event: Event) -> int: ...

    async def close(self) -> None: ...

    def follow(self, after: int, keepalive: float, direct: Direct | None = None) -> AsyncIterator[Batch]:
        """Batches of events after ``after`` until the log is closed and read to its end.

        An empty batch means ``keepalive`` seconds passed with nothing new. Events that arrive while a
        reader is busy come together in its next batch, so a fast stream costs one write per loop turn.

        ``direct``: while the reader is caught up, new events are handed to this callback by whoever
        appends them, instead of waking the reader's task: one task switch per token instead of two. It
        returns False once it cannot go on that way (a full socket buffer, an error); the reader's task
        then wakes up and reads on from the log.
        """
        ...


Direct = Callable[[Batch], bool]


class _DirectReader:
    """A caught-up reader written to by the appender; ``position`` is the last event it was given."""

    __slots__ = ("direct", "position", "waiter")

    def __init__(self, direct: Direct, waiter: asyncio.Future[None], position: int) -> None:
        self.direct = direct
        self.waiter = waiter
        self.position = position


class Readers:
    """The readers of one log waiting for its next events: woken (a task switch each), or written to."""

    __slots__ = ("direct", "waiters")

    def __init__(self) -> None:
        self.waiters: list[asyncio.Future[None]] = []
        self.direct: list[_DirectReader] = []

    def published(self, batch: Batch) -> None:
        if self.direct:
            for reader in list(self.direct):
                mine = batch
                if reader.position != batch.first - 1:
                    # A reader that came with a Last-Event-ID ahead of a copy still being filled (another
                    # replica's reply, read from its start) gets the events after its own; one behind
                    # (never, readers register caught up) reads on from the log.
                    if reader.position >= batch.last_seq:
                        continue
                    if reader.position < batch.first - 1:
                        self.direct.remove(reader)
                        _resolve(reader.waiter)
                        continue
                    mine = batch.after(reader.position)
                reader.position = batch.last_seq
                try:
                    keep = reader.direct(mine)
                except Exception:
                    keep = False
                if not keep:
                    self.direct.remove(reader)
                    _resolve(reader.waiter)
        self.wake()

    def wake(self) -> None:
        if self.waiters:
            waiters, self.waiters = self.waiters, []
            for waiter in waiters:
                _resolve(waiter)

    def wake_all(self) -> None:
        self.wake()
        readers, self.direct = self.direct, []
        for reader in readers:
            _resolve(reader.waiter)

    async def wait(self, after: int, keepalive: float, direct: Direct | None) -> int:
        """Until there is news after ``after``, or ``keepalive`` seconds passed; returns the position the
        reader is at then (further than ``after`` if it was written to directly meanwhile)."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        reader = None
        if direct is not None:
            reader = _DirectReader(direct, waiter, after)
            self.direct.append(reader)
        else:
            self.waiters.append(waiter)
        timer = loop.call_later(keepalive, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if reader is not None and reader in self.direct:
                self.direct.remove(reader)
        return reader.position if reader is not None else after


async def follow_log(log: _Followable, after: int, keepalive: float, direct: Direct | None) -> AsyncIterator[Batch]:
    """The reading loop of every log: what is there, then wait (or be written to), until the end."""
    while True:
        batch = log.batch_after(after)
        if batch is not None:
            after = batch.last_seq
            yield batch
            continue
        if log.ended:
            return
        position = await log.readers.wait(after, keepalive, direct)
        if position != after:  # written to directly meanwhile: that was activity, no keep-alive due
            after = position
        elif after == log.last_seq and not log.ended:
            yield Batch(after + 1, ())


class _Followable(Protocol):
    readers: Readers

    @property
    def ended(self) -> bool: ...

    @property
    def last_seq(self) -> int: ...

    def batch_after(self, after: int) -> Batch | None: ...


_NOBODY = Readers()


class CompactLog:
    """A finished log: per text kind one joined string; per event only what it takes to cut them again."""

    __slots__ = ("count", "lengths", "others", "runs", "texts")

    def __init__(self, events: Sequence[Event]) -> None:
        runs = array("I")  # (kind code, how many in a row) pairs: start, reasoning x 40, delta x 150, finish
        lengths: list[int] = []
        parts: list[list[str]] = [[] for _ in TEXT_KINDS]
        others: list[Event] = []
        previous = -1
        for event in events:
            code = _KIND_CODE.get(type(event), 0)
            if code:
                text: str = event.text  # type: ignore[union-attr]
                parts[code - 1].append(text)
                lengths.append(len(text))
            else:
                others.append(event)
            if code == previous:
                runs[-1] += 1
            else:
                runs.extend((code, 1))
                previous = code
        longest = max(lengths, default=0)
        self.count = len(events)
        self.runs = runs
        # Most tokens are shorter than 256 characters: then one byte each, in a bytes object the collector
        # does not track (an array it would).
        self.lengths: bytes | array[int] = (
            bytes(lengths) if longest < 2**8 else array("H" if longest < 2**16 else "I", lengths)
        )
        self.texts = tuple("".join(p) for p in parts)
        self.others = tuple(others)

    def text_of(self, kind: type[Any]) -> str:
        code = _KIND_CODE.get(kind)
        return self.texts[code - 1] if code else ""

    def events_after(self, after: int) -> list[Event]:
        out: list[Event] = []
        offsets = [0] * len(TEXT_KINDS)
        position = other = cut = 0  # events, other events and text events walked past
        lengths, runs = self.lengths, self.runs
        for r in range(0, len(runs), 2):
            code, n = runs[r], runs[r + 1]
            skip = min(n, max(0, after - position))
            if code:
                kind, text = TEXT_KINDS[code - 1], self.texts[code - 1]
                at = offsets[code - 1] + sum(lengths[cut : cut + skip])
                for length in lengths[cut + skip : cut + n]:
                    out.append(kind(text[at : at + length]))
                    at += length
                offsets[code - 1] = at
                cut += n
            else:
                out.extend(self.others[other + skip : other + n])
                other += n
            position += n
        return out


class MemoryEventLog:
    __slots__ = ("_closed", "_compact", "_events", "readers")

    def __init__(self) -> None:
        self._events: list[Event] | None = []
        self._compact: CompactLog | None = None
        self.readers = Readers()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def ended(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        if self._events is None:
            assert self._compact is not None
            return self._compact.count
        return len(self._events)

    def text_of(self, kind: type[Any]) -> str | None:
        """The joined text of one text kind, once the log is closed (``None`` before)."""
        return self._compact.text_of(kind) if self._compact is not None else None

    async def append(self, event: Event) -> int:
        return self.append_nowait(event)

    def append_nowait(self, event: Event) -> int:
        if self._closed or self._events is None:
            raise RuntimeError("append to a closed event log")
        self._events.append(event)
        seq = len(self._events)
        self.readers.published(Batch(seq, (event,)))
        return seq

    def _publish(self, events: list[Event]) -> None:
        """Make events visible to readers (subclasses may hold them back until they are durable)."""
        assert self._events is not None
        first = len(self._events) + 1
        self._events.extend(events)
        self.readers.published(Batch(first, events))

    async def close(self) -> None:
        self.close_nowait()

    def close_nowait(self) -> None:
        if self._events is not None:
            self._compact = CompactLog(self._events)
            self._events = None
        self._closed = True
        self.readers.wake_all()
        self.readers = _NOBODY  # nobody waits on a closed log: a finished reply keeps no reader lists

    def batch_after(self, after: int) -> Batch | None:
        events = self._events
        if events is None:
            assert self._compact is not None
            rest = self._compact.events_after(after)
            return Batch(after + 1, rest) if rest else None
        return Batch(after + 1, events[after:]) if after < len(events) else None

    def follow(self, after: int, keepalive: float, direct: Direct | None = None) -> AsyncIterator[Batch]:
        return follow_log(self, after, keepalive, direct)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
