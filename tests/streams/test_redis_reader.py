"""Replies generated on one replica and followed on another: however many clients follow however many
replies there, one task reads their Redis streams, one XREAD at a time, and every follower gets exactly
the bytes a follower of the generating replica gets. Real Redis (RILLCHAT_TEST_REDIS_URL)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, ReplyStatus, Start, Usage
from rillchat.streams.redis_feed import RedisFeed
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

    feed = RedisFeed(redis)
    reader = await RedisLogReader.open(redis, reply_id, feed)
    assert reader is not None
    here = asyncio.create_task(_sse(generating))
    elsewhere = [asyncio.create_task(_sse(reader, after)) for after in (0, 0, 1, 0, 1)]
    await asyncio.sleep(0.05)
    assert list(feed.logs) == [reply_id], "the reply is listed as read here while it is followed"

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
    assert feed.logs == {}, "nobody follows it here any more: the copy is let go"

    # A late reader (after the end) reads it again, alone, from Redis.
    late = await RedisLogReader.open(redis, reply_id, feed)
    assert late is not None and late.closed
    assert await _sse(late, 10) == b"\n\n".join(frames[10:])
    await feed.stop()
    await redis.delete(generating.key)


async def _generating(writer: RedisWriter, name: str) -> RedisEventLog:
    reply_id = f"rep_test_{name}_{secrets.token_hex(6)}"
    log = RedisEventLog(writer, reply_id, ttl_seconds=30, live_ttl_seconds=60)
    await log.append(Start(reply_id, "fake-responses"))
    await writer.drained(log)
    return log


async def test_replies_followed_together_are_read_by_one_xread_at_a_time(redis):
    writer = RedisWriter(redis)
    generating = [await _generating(writer, str(i)) for i in range(4)]
    feed = RedisFeed(redis)
    readers = [await RedisLogReader.open(redis, log.key.split(":")[-1], feed) for log in generating]
    here = [asyncio.create_task(_sse(log)) for log in generating]
    elsewhere = [asyncio.create_task(_sse(reader)) for reader in readers if reader is not None]
    for i in range(30):
        for n, log in enumerate(generating):
            await log.append(Delta(f"r{n}t{i} "))
        await asyncio.sleep(0.002)
    for log in generating:
        await log.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(None, 30)))
        await log.close()
    assert await asyncio.gather(*elsewhere) == await asyncio.gather(*here)
    assert CountingRedis.most_in_flight == 1, "one XREAD for all the replies followed here, not one each"
    assert CountingRedis.xreads < 4 * 32, "events of several replies came in the same XREAD"
    await feed.stop()
    await redis.delete(*(log.key for log in generating))


async def test_a_reply_followed_while_the_feed_waits_on_others_is_read_at_once(redis):
    """The blocking XREAD out for a quiet reply does not name the new one: UNBLOCK ends its wait."""
    writer = RedisWriter(redis)
    quiet, busy = await _generating(writer, "quiet"), await _generating(writer, "busy")
    feed = RedisFeed(redis, block_seconds=60.0)
    first = await RedisLogReader.open(redis, quiet.key.split(":")[-1], feed)
    assert first is not None
    following_quiet = asyncio.create_task(_sse(first))
    await asyncio.sleep(0.1)  # the feed now waits in an XREAD that names only the quiet reply
    second = await RedisLogReader.open(redis, busy.key.split(":")[-1], feed)
    assert second is not None
    following_busy = asyncio.create_task(_sse(second))
    await busy.append(Delta("at once"))
    await busy.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(None, 1)))
    await busy.close()
    # Without the UNBLOCK it would arrive only when the 60-second wait ends.
    body = await asyncio.wait_for(following_busy, 10)
    assert b"at once" in body and b"event: finish" in body
    await quiet.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(None, 0)))
    await quiet.close()
    assert b"event: finish" in await asyncio.wait_for(following_quiet, 10)
    await feed.stop()
    await redis.delete(quiet.key, busy.key)


async def test_a_followed_stream_that_expires_without_a_finish_ends_its_followers(redis):
    writer = RedisWriter(redis)
    log = await _generating(writer, "expiring")
    feed = RedisFeed(redis, block_seconds=0.2)
    reader = await RedisLogReader.open(redis, log.key.split(":")[-1], feed)
    assert reader is not None
    following = asyncio.create_task(_sse(reader))
    await log.append(Delta("before "))
    await writer.drained(log)
    await asyncio.sleep(0.3)
    await redis.delete(log.key)  # what its TTL does when the generating replica died mid-reply
    body = await asyncio.wait_for(following, 10)
    assert b"before " in body and b"event: finish" not in body
    assert reader.ended
    await feed.stop()


async def test_a_follower_resuming_ahead_of_a_copy_still_filling_gets_the_events_after_its_own(redis):
    """A Last-Event-ID resume on a replica whose copy of the reply starts empty: the follower registers at
    its own position, ahead of the copy, and must get the events after it as soon as they are read (it
    once waited for the next keep-alive, 15 s, instead)."""
    writer = RedisWriter(redis)
    generating = await _generating(writer, "ahead")
    for i in range(5):
        await generating.append(Delta(f"d{i} "))
    await writer.drained(generating)
    feed = RedisFeed(redis)
    reader = await RedisLogReader.open(redis, generating.key.split(":")[-1], feed)
    assert reader is not None and reader.last_read == 0
    got: list[int] = []
    arrived = asyncio.Event()

    def direct(batch: Any) -> bool:
        got.extend(range(batch.first, batch.last_seq + 1))
        arrived.set()
        return True

    async def follow() -> None:
        async for batch in reader.follow(3, keepalive=60, direct=direct):
            got.extend(range(batch.first, batch.last_seq + 1))
            arrived.set()

    following = asyncio.create_task(follow())
    await asyncio.wait_for(arrived.wait(), 10)  # not the 60-second keep-alive
    assert got == [4, 5, 6]
    await generating.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(None, 5)))
    await generating.close()
    await asyncio.wait_for(following, 10)
    assert got == [4, 5, 6, 7]
    await feed.stop()
    await redis.delete(generating.key)


async def test_two_copies_of_one_reply_opened_at_once_are_both_read(redis):
    """Two requests on one replica can each open a copy of the same reply before either is followed (the
    copy is shared only from its first follower on): both copies must be read, not just the one shared."""
    writer = RedisWriter(redis)
    generating = await _generating(writer, "twice")
    reply_id = generating.key.split(":")[-1]
    feed = RedisFeed(redis)
    first = await RedisLogReader.open(redis, reply_id, feed)
    second = await RedisLogReader.open(redis, reply_id, feed)
    assert first is not None and second is not None and first is not second
    here = asyncio.create_task(_sse(generating))
    both = [asyncio.create_task(_sse(first)), asyncio.create_task(_sse(second, 1))]
    for i in range(10):
        await generating.append(Delta(f"w{i} "))
        await asyncio.sleep(0.002)
    await generating.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(None, 10)))
    await generating.close()
    live = await here
    got = await asyncio.wait_for(asyncio.gather(*both), 10)
    assert got[0] == live
    assert got[1] == b"\n\n".join(live.split(b"\n\n")[1:])
    assert feed.logs == {}
    await feed.stop()
    await redis.delete(generating.key)
