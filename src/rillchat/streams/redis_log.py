"""The event log on Redis Streams, for several replicas.

One stream per reply, ``rillchat:log:{reply_id}``, one entry per event with the explicit entry id
``0-{seq}``: the SSE id *is* the entry id's sequence part, so resuming on any replica is one ``XREAD``
from ``0-{Last-Event-ID}``. Each entry carries the bytes every reader sends (``s``: the SSE frame,
``t``: the plain text), rendered once by the replica that generates the reply.

On the generating replica, local readers still follow the in-memory log (no Redis round trip on the hot
path); appends are copied to Redis in one pipeline per loop turn, so a burst of tokens costs one round
trip. Readers on other replicas follow the stream with blocking ``XREAD``s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from redis.asyncio import Redis

from rillchat.events import Event, Finish, event_from_wire
from rillchat.streams.eventlog import LogEntry, MemoryEventLog, render

__all__ = ["RedisEventLog", "RedisLogReader", "RedisWriter", "log_key", "read_entries"]

logger = logging.getLogger("rillchat.redis")


def log_key(reply_id: str) -> str:
    return f"rillchat:log:{reply_id}"


def _fields(entry: LogEntry) -> dict[Any, Any]:
    return {
        "n": entry.event.name,
        "j": orjson.dumps(entry.event.to_wire()),
        "s": entry.sse,
        "t": entry.text,
    }


def _entry(entry_id: bytes, fields: dict[bytes, bytes]) -> LogEntry:
    seq = int(entry_id.split(b"-", 1)[1])
    name = fields[b"n"].decode()
    event = event_from_wire(name, orjson.loads(fields[b"j"]))
    return LogEntry(seq, event, fields[b"s"], fields[b"t"])


async def read_entries(redis: Redis, reply_id: str, after: int = 0) -> list[LogEntry]:
    """Everything in a reply's stream after ``after``, at once."""
    rows: Any = await redis.xrange(log_key(reply_id), min=f"0-{after + 1}")
    return [_entry(entry_id, fields) for entry_id, fields in rows]


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
            for log, entries in batches:
                for entry in entries:
                    pipe.xadd(log.key, _fields(entry), id=f"0-{entry.seq}")
                if entries and entries[0].seq == 1:
                    # Bounded even if this replica dies mid-reply and nobody sweeps it.
                    pipe.expire(log.key, log.live_ttl)
            try:
                await pipe.execute()
            except Exception:
                failures += 1
                logger.warning("copying events to Redis failed (%d)", failures, exc_info=True)
                for log, entries in batches:
                    log.requeue(entries)
                    self._dirty[log] = None
                await asyncio.sleep(min(2.0, 0.05 * 2**failures))
                continue
            failures = 0
            for log, entries in batches:
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
        self._pending: list[LogEntry] = []
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
        self._pending.append(render(seq, event))
        self._writer.mark(self)
        return seq

    def take_pending(self) -> list[LogEntry]:
        entries, self._pending = self._pending, []
        self.copying = bool(entries)
        return entries

    def requeue(self, entries: list[LogEntry]) -> None:
        self._pending = entries + self._pending
        self.copying = False

    def published(self, entries: list[LogEntry]) -> None:
        self.copying = False
        if entries:
            self._publish(entries)

    async def close(self) -> None:
        self._closing = True
        await self._writer.drained(self)
        await self._writer.redis.expire(self.key, self._ttl)
        await super().close()


class RedisLogReader:
    """A reply generated on another replica, read from its Redis stream."""

    def __init__(self, redis: Redis, reply_id: str, last_seq: int, closed: bool) -> None:
        self._redis = redis
        self._key = log_key(reply_id)
        self._last_seq = last_seq
        self._closed = closed

    @classmethod
    async def open(cls, redis: Redis, reply_id: str) -> RedisLogReader | None:
        last: Any = await redis.xrevrange(log_key(reply_id), count=1)
        if not last:
            return None
        entry_id, fields = last[0]
        return cls(redis, reply_id, int(entry_id.split(b"-", 1)[1]), fields[b"n"] == b"finish")

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_seq(self) -> int:
        return self._last_seq

    async def append(self, event: Event) -> int:
        """Appending to another replica's reply happens only to end it when that replica died."""
        seq = self._last_seq + 1
        entry = render(seq, event)
        await self._redis.xadd(self._key, _fields(entry), id=f"0-{seq}")
        self._last_seq = seq
        self._closed = self._closed or isinstance(event, Finish)
        return seq

    async def close(self) -> None:
        self._closed = True

    async def follow(self, after: int, keepalive: float) -> AsyncIterator[list[LogEntry]]:
        block_ms = max(1, int(keepalive * 1000))
        cursor = f"0-{after}"
        while True:
            response: Any = await self._redis.xread({self._key: cursor}, count=500, block=block_ms)
            if not response:
                exists = await self._redis.exists(self._key)
                if not exists:
                    return
                yield []
                continue
            rows = response[0][1]
            batch = [_entry(entry_id, fields) for entry_id, fields in rows]
            cursor = rows[-1][0].decode()
            self._last_seq = batch[-1].seq
            yield batch
            if any(type(entry.event) is Finish for entry in batch):
                self._closed = True
                return
