"""Every reply generated on another replica and followed on this one, read with one blocking ``XREAD``.

One ``XREAD`` per reply per token cost a round trip through redis-py's command machinery each (issue 13:
a replica serving replies made elsewhere spent 44% of its time there, and cost 0.83 of the generating
replica). Here one task reads all of them: each ``XREAD`` names every followed stream with the position
read so far and returns whatever arrived in any of them. Since each call's cost grows with the streams it
names, calls go out at most every 5 ms: under load one call brings the events of hundreds of replies, at
the price of at most 5 ms more delay for a follower on another replica than the one generating.

The blocking ``XREAD`` holds a connection of its own. A reply followed while it waits would not be in it,
so ``CLIENT UNBLOCK`` (from another connection) ends the wait, and the next ``XREAD`` names it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

if TYPE_CHECKING:
    from rillchat.streams.redis_log import RedisLogReader

__all__ = ["RedisFeed"]

logger = logging.getLogger("rillchat.redis")


class RedisFeed:
    """The replies of other replicas read here: ``logs`` lists each from its first follower to its last."""

    def __init__(self, redis: Redis, block_seconds: float = 2.0, min_interval_seconds: float = 0.005) -> None:
        self._redis = redis
        self._block_seconds = block_seconds
        self._min_interval = min_interval_seconds
        self.logs: dict[str, RedisLogReader] = {}
        self._joined: dict[RedisLogReader, None] = {}  # every copy read, two of one reply included
        self._task: asyncio.Task[None] | None = None
        self._client_id: int | None = None
        self._round = 0  # XREADs sent so far
        self._waiting = False  # an XREAD is out
        self._unblocking: set[asyncio.Task[None]] = set()

    def join(self, log: RedisLogReader) -> None:
        """Read ``log`` from its position on, from now until ``leave``. Two requests may each open a copy of
        the same reply before either is followed: both are read, the first is the one shared."""
        self._joined[log] = None
        self.logs.setdefault(log.reply_id, log)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-feed")
        elif self._waiting:
            task = asyncio.get_running_loop().create_task(self._unblock(self._round))
            self._unblocking.add(task)
            task.add_done_callback(self._unblocking.discard)

    def leave(self, log: RedisLogReader) -> None:
        self._joined.pop(log, None)
        if self.logs.get(log.reply_id) is log:
            del self.logs[log.reply_id]
            other = next((copy for copy in self._joined if copy.reply_id == log.reply_id), None)
            if other is not None:
                self.logs[log.reply_id] = other

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._unblocking) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _following(self) -> list[RedisLogReader]:
        return [log for log in self._joined if not log.ended]

    async def _run(self) -> None:
        while self._following():
            await self._read()

    async def _read(self) -> None:
        connection = self._redis.client()  # one connection held by the blocking XREAD
        loop = asyncio.get_running_loop()
        checked = loop.time()
        try:
            self._client_id = await connection.client_id()
            sent = 0.0
            while following := self._following():
                # Each XREAD names every followed stream, so its cost grows with them: a short pause after
                # a busy one lets events of many replies gather (what the paced reader waits is its latency).
                pause = sent + self._min_interval - loop.time()
                if pause > 0:
                    await asyncio.sleep(pause)
                by_key: dict[bytes, list[RedisLogReader]] = {}
                for log in following:
                    by_key.setdefault(log.key_bytes, []).append(log)
                after = {key: min(log.last_read for log in logs) for key, logs in by_key.items()}
                streams: dict[Any, Any] = {key: b"0-%d" % seq for key, seq in after.items()}
                sent = loop.time()
                self._round += 1
                self._waiting = True
                try:
                    response: Any = await connection.xread(streams, count=1000, block=int(self._block_seconds * 1000))
                finally:
                    self._waiting = False
                now = loop.time()
                for key, rows in response or ():
                    for log in by_key.get(key, ()):
                        mine = rows if log.last_read == after[key] else _after(rows, log.last_read)
                        if mine:
                            log.received(mine, now)
                if now - checked >= self._block_seconds:
                    checked = now
                    await self._end_expired(following, now)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.warning("reading replies of other replicas from Redis failed", exc_info=True)
            for log in self._following():
                log.cut_off()
        finally:
            self._client_id = None
            with contextlib.suppress(Exception):
                await connection.aclose()

    async def _end_expired(self, following: list[RedisLogReader], now: float) -> None:
        """A stream quiet for a whole wait may be gone (expired without a finish: it was cut off)."""
        quiet = [log for log in following if now - log.last_data_at >= self._block_seconds and not log.ended]
        if not quiet:
            return
        pipe = self._redis.pipeline(transaction=False)
        for log in quiet:
            pipe.exists(log.key)
        for log, exists in zip(quiet, await pipe.execute(), strict=True):
            if not exists:
                log.cut_off()

    async def _unblock(self, round_: int) -> None:
        """End the wait of XREAD number ``round_`` (it was sent before the reply just joined was followed).
        Sent before that XREAD reached Redis, UNBLOCK finds nobody blocked: tried again until it works or
        that XREAD is over."""
        for _ in range(200):
            if self._round != round_ or not self._waiting or self._client_id is None:
                return
            if await self._redis.client_unblock(self._client_id):
                return
            await asyncio.sleep(0.001)


def _after(rows: Any, seq: int) -> list[Any]:
    """The XREAD rows of entries after ``0-{seq}``."""
    return [row for row in rows if int(row[0].split(b"-", 1)[1]) > seq]
