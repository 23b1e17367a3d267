"""The event log on Redis Streams, for several replicas.

One stream per reply, ``rillchat:log:{reply_id}``, one entry per event with the explicit entry id
``0-{seq}``: the SSE id *is* the entry id's sequence part, so resuming on any replica is one ``XREAD``
from ``0-{Last-Event-ID}``. Each entry carries the event's name (``n``) and JSON (``j``), encoded once by
the replica that generates the reply; readers elsewhere frame the JSON as SSE as it is.

On the generating replica, local readers still follow the in-memory log (no Redis round trip on the hot
path); appends are copied to Redis in one pipeline per loop turn, so a burst of tokens costs one round
trip. On other replicas one task follows the streams of all the replies followed there, with one blocking
``XREAD`` for all of them (``RedisFeed``), into one copy per reply that all its readers there read
(``RedisLogReader``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis

from rillchat.events import Event, Finish, event_from_wire
from rillchat.streams.eventlog import Batch, Direct, MemoryEventLog, Readers, follow_log
from rillchat.streams.redis_feed import RedisFeed

__all__ = ["RedisEventLog", "RedisLogReader", "RedisWriter", "log_key", "read_entries"]

logger = logging.getLogger("rillchat.redis")


def log_key(reply_id: str) -> str:
    return f"rillchat:log:{reply_id}"


def _wire(event: Event) -> bytes:
    return orjson.dumps(event.to_wire())


def _decode(rows: Any) -> tuple[int, list[Event], list[bytes]]:
    """XRANGE/XREAD rows -> (seq of the first, events, their JSON)."""
    events: list[Event] = []
    wire: list[bytes] = []
    for _entry_id, fields in rows:
        data = fields[b"j"]
        events.append(event_from_wire(fields[b"n"].decode(), orjson.loads(data)))
        wire.append(data)
    first = int(rows[0][0].split(b"-", 1)[1]) if rows else 0
    return first, events, wire


async def read_entries(redis: Redis, reply_id: str, after: int = 0, count: int | None = None) -> Batch:
    """What a reply's stream holds after ``after``, at once (the first ``count`` events only, if given)."""
    rows: Any = await redis.xrange(log_key(reply_id), min=f"0-{after + 1}", count=count)
    first, events, wire = _decode(rows)
    return Batch(first or after + 1, events, wire)


class RedisWriter:
    """Copies the appends of every log on this replica to Redis in one pipeline per event-loop turn.

    At 20 tokens/s a reply has one new event per turn, so a pipeline per log would be a round trip (and
    redis-py's command machinery, ~150 µs) per token; one pipeline for all logs shares that cost.
    """

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._dirty: dict[RedisEventLog, None] = {}
        self._flusher: asyncio.Task[None] | None = None
        self._flushed = asyncio.Event()

    def mark(self, log: RedisEventLog) -> None:
        self._dirty[log] = None
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def drained(self, log: RedisEventLog) -> None:
        while log in self._dirty or log.copying:
            self._flushed.clear()
            if self._flusher is None or self._flusher.done():
                self._flusher = asyncio.get_running_loop().create_task(self._flush())
            await self._flushed.wait()

    async def _flush(self) -> None:
        failures = 0
        while self._dirty:
            await asyncio.sleep(0)  # let the rest of this loop turn's appends join the same pipeline
            logs, self._dirty = list(self._dirty), {}
            batches = [(log, log.take_pending()) for log in logs]
            pipe = self.redis.pipeline(transaction=False)
            for log, (first, entries) in batches:
                for i, event in enumerate(entries):
                    pipe.xadd(log.key, {"n": event.name, "j": _wire(event)}, id=f"0-{first + i}")
                if entries and first == 1:
                    # Bounded even if this replica dies mid-reply and nobody sweeps it.
                    pipe.expire(log.key, log.live_ttl)
            try:
                await pipe.execute()
            except Exception:
                failures += 1
                logger.warning("copying events to Redis failed (%d)", failures, exc_info=True)
                for log, (_first, entries) in batches:
                    log.requeue(entries)
                    self._dirty[log] = None
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                continue
            failures = 0
            for log, (_first, entries) in batches:
                log.published(entries)
            self._flushed.set()
        self._flushed.set()


class RedisEventLog(MemoryEventLog):
    """The generating replica's log. An event becomes visible to any reader, here or on another replica,
    only once Redis has it: a replica that dies can never have shown a client an event that the others
    cannot replay. The price is one Redis round trip of latency, shared by a whole loop turn of events."""

    __slots__ = ("_closing", "_next_seq", "_pending", "_ttl", "_writer", "copying", "key", "live_ttl")

    def __init__(self, writer: RedisWriter, reply_id: str, ttl_seconds: float, live_ttl_seconds: float) -> None:
        super().__init__()
        self._writer = writer
        self.key = log_key(reply_id)
        self._ttl = max(1, int(ttl_seconds))
        self.live_ttl = max(1, int(live_ttl_seconds))
        self._pending: list[Event] = []
        self._next_seq = 1
        self._closing = False
        self.copying = False

    @property
    def last_seq(self) -> int:
        return self._next_seq - 1

    def append_nowait(self, event: Event) -> int:
        if self._closing:
            raise RuntimeError("append to a closed event log")
        seq = self._next_seq
        self._next_seq += 1
        self._pending.append(event)
        self._writer.mark(self)
        return seq

    def take_pending(self) -> tuple[int, list[Event]]:
        """The events not yet in Redis, and the seq of the first (one batch is in flight at a time)."""
        entries, self._pending = self._pending, []
        self.copying = bool(entries)
        return self.published_seq + 1, entries

    @property
    def published_seq(self) -> int:
        return len(self._events) if self._events is not None else self._next_seq - 1

    def requeue(self, entries: list[Event]) -> None:
        self._pending = entries + self._pending
        self.copying = False

    def published(self, entries: list[Event]) -> None:
        self.copying = False
        if entries:
            self._publish(entries)

    async def close(self) -> None:
        self._closing = True
        await self._writer.drained(self)
        await self._writer.redis.expire(self.key, self._ttl)
        await super().close()


class RedisLogReader:
    """A reply generated on another replica, read from its Redis stream.

    However many clients follow it through this replica, it is read once here: ``feed`` (the replica's
    ``RedisFeed``) reads it, with every other reply followed here, from its first follower to its last,
    into memory, and every follower reads that copy: one Redis read and one decoding per event per
    replica."""

    def __init__(self, redis: Redis, reply_id: str, last_seq: int, closed: bool, feed: RedisFeed | None = None) -> None:
        self._redis = redis
        self.reply_id = reply_id
        self.key = log_key(reply_id)
        self.key_bytes = self.key.encode()
        self._last_seq = last_seq
        self._closed = closed
        self._feed = feed if feed is not None else RedisFeed(redis)
        self._events: list[Event] = []
        self._wire: list[bytes] = []
        self._ended = False  # read to the finish, or the stream is gone
        self.readers = Readers()
        self._followers = 0
        self.last_data_at = 0.0
        """Loop time of the last events read (the feed asks Redis about streams quiet for long)."""

    @classmethod
    async def open(cls, redis: Redis, reply_id: str, feed: RedisFeed | None = None) -> RedisLogReader | None:
        last: Any = await redis.xrevrange(log_key(reply_id), count=1)
        if not last:
            return None
        entry_id, fields = last[0]
        return cls(redis, reply_id, int(entry_id.split(b"-", 1)[1]), fields[b"n"] == b"finish", feed)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        return max(self._last_seq, len(self._events))

    @property
    def last_read(self) -> int:
        """The seq of the last event read into memory (the feed reads on from there)."""
        return len(self._events)

    @property
    def first_event(self) -> Event | None:
        return self._events[0] if self._events else None

    async def append(self, event: Event) -> int:
        """Appending to another replica's reply happens only to end it when that replica died."""
        seq = self._last_seq + 1
        await self._redis.xadd(self.key, {"n": event.name, "j": _wire(event)}, id=f"0-{seq}")
        self._last_seq = seq
        self._closed = self._closed or isinstance(event, Finish)
        return seq

    async def close(self) -> None:
        self._closed = True

    @property
    def ended(self) -> bool:
        return self._ended

    def batch_after(self, after: int) -> Batch | None:
        if after < len(self._events):
            return Batch(after + 1, self._events[after:], self._wire[after:])
        return None

    async def follow(self, after: int, keepalive: float, direct: Direct | None = None) -> AsyncIterator[Batch]:
        self._followers += 1
        if self._followers == 1 and not self._ended:
            self._feed.join(self)
        try:
            async for batch in follow_log(self, after, keepalive, direct):
                yield batch
        finally:
            self._followers -= 1
            if not self._followers:
                self._feed.leave(self)

    def received(self, rows: Any, now: float) -> None:
        """Entries the feed read, right after the last ones."""
        first, events, wire = _decode(rows)
        self._events.extend(events)
        self._wire.extend(wire)
        self.last_data_at = now
        if type(events[-1]) is Finish:
            self._ended = self._closed = True
        self.readers.published(Batch(first, events, wire))
        if self._ended:
            self.readers.wake_all()

    def cut_off(self) -> None:
        """The stream is gone without a finish, or cannot be read: its followers end with what they have."""
        self._ended = True
        self.readers.wake_all()
