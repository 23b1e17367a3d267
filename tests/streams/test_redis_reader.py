"""A reply generated on one replica and followed on another: however many clients follow it there, one
task reads its Redis stream, and every follower gets exactly the bytes a follower of the generating
replica gets. Real Redis (RILLCHAT_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, ReplyStatus, Start, Usage
from rillchat.streams.redis_log import RedisEventLog, RedisLogReader, RedisWriter
from tests.conftest import REDIS_URL

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="set RILLCHAT_TEST_REDIS_URL to run the Redis log tests")


class CountingRedis(Redis):
    """Real Redis; counts the XREADs in flight at once."""

    in_flight = 0
    most_in_flight = 0
    xreads = 0

    async def xread(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        type(self).xreads += 1
        type(self).in_flight += 1
        type(self).most_in_flight = max(type(self).most_in_flight, type(self).in_flight)
        try:
            return await super().xread(*args, **kwargs)
        finally:
            type(self).in_flight -= 1


@pytest.fixture
async def redis() -> AsyncIterator[CountingRedis]:
    assert REDIS_URL is not None
    client = CountingRedis.from_url(REDIS_URL)
    CountingRedis.in_flight = CountingRedis.most_in_flight = CountingRedis.xreads = 0
    try:
        yield client
    finally:
        await client.aclose()


async def _sse(log: Any, after: int = 0) -> bytes:
    body = b""
    async for batch in log.follow(after, keepalive=30):
        body += batch.sse()
    return body


async def test_many_followers_on_another_replica_share_one_reader_and_get_the_live_bytes(redis):
    reply_id = f"rep_test_{secrets.token_hex(6)}"
    writer = RedisWriter(redis)
    generating = RedisEventLog(writer, reply_id, ttl_seconds=30, live_ttl_seconds=60)
    await generating.append(Start(reply_id, "fake-responses"))
    await writer.drained(generating)

    shared: dict[str, RedisLogReader] = {}
    reader = await RedisLogReader.open(redis, reply_id, shared)
    assert reader is not None
    here = asyncio.create_task(_sse(generating))
    elsewhere = [asyncio.create_task(_sse(reader, after)) for after in (0, 0, 1, 0, 1)]
    await asyncio.sleep(0.05)
    assert list(shared) == [reply_id], "the reply is listed as read here while it is followed"

    for i in range(40):
        await generating.append(Delta(f"tök{i} "))
        if i % 3 == 0:
            await asyncio.sleep(0.001)
    await generating.append(ErrorEvent("upstream_error", "cut"))
    await generating.append(Finish(ReplyStatus.FAILED, FinishReason.ERROR, Usage(None, 40)))
    await generating.close()

    live = await here
    got = await asyncio.gather(*elsewhere)
    frames = live.split(b"\n\n")
    assert got[0] == got[1] == got[3] == live
    assert got[2] == got[4] == b"\n\n".join(frames[1:])
    assert CountingRedis.most_in_flight == 1, "one XREAD at a time for the reply, not one per follower"
    assert shared == {}, "nobody follows it here any more: the copy is let go"

    # A late reader (after the end) reads it again, alone, from Redis.
    late = await RedisLogReader.open(redis, reply_id, shared)
    assert late is not None and late.closed
    assert await _sse(late, 10) == b"\n\n".join(frames[10:])
    await redis.delete(generating.key)
