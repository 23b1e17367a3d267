"""What several replicas share through Redis: who generates which reply, stop signals, followers on
other replicas, ``clientRequestId`` claims, and the clean-up of replies whose replica died.

Keys (``rillchat:`` prefix): ``log:{reply}`` the event stream (see ``redis_log``), ``reply:{reply}`` a
hash {replica, owner}, ``live`` the set of replies being generated, ``replica:{id}`` a heartbeat that
expires ``3 x heartbeat`` after its replica stops beating, ``followers:{reply}`` readers on replicas other
than the generating one, ``request:{owner}:{clientRequestId}`` the reply a request id claimed, and the
pub/sub channel ``control`` for stop requests and for announcing registrations (a replica waiting for a
reply claimed elsewhere wakes on it instead of polling).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import orjson
from redis.asyncio import Redis

from rillchat.events import Delta, Finish, FinishReason, Reasoning, ReplyStatus, Start, Usage
from rillchat.storage import Repository
from rillchat.streams.generation import Generation
from rillchat.streams.hub import Hub
from rillchat.streams.redis_feed import RedisFeed
from rillchat.streams.redis_log import RedisEventLog, RedisLogReader, RedisWriter, read_entries
from rillchat.streams.remote import RemoteReply
from rillchat.streams.waiters import KeyedWaiters

__all__ = ["Cluster"]

logger = logging.getLogger("rillchat.cluster")

CONTROL = "rillchat:control"
LIVE = "rillchat:live"


def _str(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _owner_key(owner: str | None) -> str:
    return owner if owner is not None else "-"


class RedisFollowers:
    """The hub's followers elsewhere: readers of a reply on every replica, one counter per reply."""

    def __init__(self, redis: Redis, ttl_seconds: float) -> None:
        self.redis = redis
        self.ttl = int(ttl_seconds)

    async def change(self, reply_id: str, by: int) -> None:
        key = f"rillchat:followers:{reply_id}"
        pipe = self.redis.pipeline(transaction=False)
        pipe.incrby(key, by)
        pipe.expire(key, self.ttl)
        await pipe.execute()

    async def count(self, reply_id: str) -> int:
        value = await self.redis.get(f"rillchat:followers:{reply_id}")
        return int(value) if value else 0


class Cluster:
    """What replicas sharing Redis share. Built before the hub (``followers`` goes into the hub's
    constructor); ``start(hub)`` then joins the two."""

    def __init__(
        self,
        redis_url: str,
        repository: Repository,
        *,
        log_ttl_seconds: float,
        reply_timeout_seconds: float,
        heartbeat_seconds: float = 1.0,
    ) -> None:
        self.redis = Redis.from_url(redis_url, max_connections=20_000)
        self.repository = repository
        self.replica_id = f"replica_{secrets.token_hex(6)}"
        self.log_ttl = log_ttl_seconds
        self.live_ttl = reply_timeout_seconds + log_ttl_seconds
        self.heartbeat = heartbeat_seconds
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: RedisWriter | None = None
        self._feed = RedisFeed(self.redis)  # the replies of other replicas followed here now
        self.followers = RedisFollowers(self.redis, self.live_ttl)
        self._hub: Hub | None = None
        self._awaited = KeyedWaiters()  # reply id -> waiters for its registration
        self._subscribed = asyncio.Event()

    # Life of this replica

    async def start(self, hub: Hub) -> None:
        self._hub = hub
        hub.observers.append(self._on_started)
        await self._beat()
        self._tasks = [
            asyncio.create_task(self._beating(), name="cluster-heartbeat"),
            asyncio.create_task(self._listening(), name="cluster-control"),
            asyncio.create_task(self._sweeping(), name="cluster-sweeper"),
        ]
        # Registrations announced before the subscription would be missed: be listening before serving.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._feed.stop()
        with contextlib.suppress(Exception):
            await self.redis.delete(f"rillchat:replica:{self.replica_id}")
        await self.redis.aclose()

    async def _beat(self) -> None:
        await self.redis.set(f"rillchat:replica:{self.replica_id}", b"1", px=int(self.heartbeat * 3000))

    async def _beating(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            try:
                await self._beat()
            except Exception:
                logger.warning("heartbeat to Redis failed", exc_info=True)

    # Replies generated here

    def log_for(self, reply_id: str) -> RedisEventLog:
        if self._writer is None:
            self._writer = RedisWriter(self.redis)
        return RedisEventLog(self._writer, reply_id, self.log_ttl, self.live_ttl)

    async def claim_request(self, owner: str | None, client_request_id: str, reply_id: str) -> str | None:
        """Claim a request id for a new reply; return the reply that claimed it first, if another did."""
        key = f"rillchat:request:{_owner_key(owner)}:{client_request_id}"
        if await self.redis.set(key, reply_id, nx=True, ex=int(self.live_ttl)):
            return None
        return await self.request_reply(owner, client_request_id)

    async def request_reply(self, owner: str | None, client_request_id: str) -> str | None:
        existing = await self.redis.get(f"rillchat:request:{_owner_key(owner)}:{client_request_id}")
        return _str(existing) if existing else None

    async def register(self, reply_id: str, owner: str | None) -> None:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(f"rillchat:reply:{reply_id}", mapping={"replica": self.replica_id, "owner": _owner_key(owner)})
        pipe.expire(f"rillchat:reply:{reply_id}", int(self.live_ttl))
        pipe.sadd(LIVE, reply_id)
        pipe.publish(CONTROL, orjson.dumps({"op": "registered", "reply": reply_id}))
        await pipe.execute()

    @contextlib.contextmanager
    def registered(self, reply_id: str) -> Iterator[asyncio.Future[None]]:
        """A future done when some replica announces ``reply_id``'s registration; enter it before looking
        in Redis, so no announcement falls between the look and the wait."""
        with self._awaited.waiting(reply_id) as waiter:
            yield waiter

    def _announced(self, reply_id: str) -> None:
        self._awaited.wake(reply_id)

    def _on_started(self, generation: Generation) -> None:
        task = generation.task
        if task is not None:
            task.add_done_callback(lambda _: asyncio.ensure_future(self._finished(generation.id)))

    async def _finished(self, reply_id: str) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            pipe.srem(LIVE, reply_id)
            pipe.expire(f"rillchat:reply:{reply_id}", int(self.log_ttl))
            await pipe.execute()
        except Exception:
            logger.warning("unregistering reply %s failed", reply_id, exc_info=True)

    # Replies generated elsewhere

    async def remote_reply(self, reply_id: str, owner: str | None) -> RemoteReply | None:
        meta = await self.redis.hgetall(f"rillchat:reply:{reply_id}")
        if not meta or _str(meta.get(b"owner", b"")) != _owner_key(owner):
            return None
        log = self._feed.logs.get(reply_id)  # followed here already: share its reader
        if log is None:
            # Registered a moment ago, the log may not have its first event yet: follow it from the start.
            log = await RedisLogReader.open(self.redis, reply_id, self._feed) or RedisLogReader(
                self.redis, reply_id, 0, False, self._feed
            )
        first = log.first_event
        if first is None and log.last_seq:
            first = next(iter((await read_entries(self.redis, reply_id, 0, count=1)).events), None)
        start = first if isinstance(first, Start) else Start(reply_id, "")
        return RemoteReply(reply_id, owner, log, start, self.request_stop)

    async def request_stop(self, reply_id: str) -> None:
        await self.redis.publish(CONTROL, orjson.dumps({"op": "stop", "reply": reply_id}))

    async def _listening(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CONTROL)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        command = orjson.loads(message["data"])
                        if command.get("op") == "registered":
                            self._announced(command.get("reply", ""))
                            continue
                        generation = self._hub.get(command.get("reply", "")) if self._hub else None
                        if command.get("op") == "stop" and generation is not None:
                            generation.stop()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.warning("control channel lost; reconnecting", exc_info=True)
                await asyncio.sleep(0.5)

    # Replies whose replica died

    async def _sweeping(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat * 2)
            try:
                await self.sweep()
            except Exception:
                logger.warning("sweeping replies of dead replicas failed", exc_info=True)

    async def sweep(self) -> int:
        """End the replies of replicas whose heartbeat stopped: interrupted, with the text they had."""
        ended = 0
        for raw in await self.redis.smembers(LIVE):
            reply_id = _str(raw)
            replica = await self.redis.hget(f"rillchat:reply:{reply_id}", "replica")
            if replica is not None and await self.redis.exists(f"rillchat:replica:{_str(replica)}"):
                continue
            if not await self.redis.set(f"rillchat:sweep:{reply_id}", self.replica_id, nx=True, ex=60):
                continue  # another replica is on it
            await self._end_orphan(reply_id)
            ended += 1
        # Rows left 'streaming' with no live entry at all (Redis lost it, or it expired long ago).
        cutoff = datetime.now(UTC) - timedelta(seconds=self.live_ttl)
        for reply_id in await self.repository.streaming_replies(cutoff):
            if await self.redis.sismember(LIVE, reply_id):
                continue
            if await self.redis.set(f"rillchat:sweep:{reply_id}", self.replica_id, nx=True, ex=60):
                await self._end_orphan(reply_id)
                ended += 1
        return ended

    async def _end_orphan(self, reply_id: str) -> None:
        events = (await read_entries(self.redis, reply_id)).events
        start = next((e for e in events if type(e) is Start), None)
        # The log has everything the reply sent; without it, the last checkpoint in storage is what is left.
        text = (start.prefix if start else "") + "".join(e.text for e in events if type(e) is Delta)
        reasoning = "".join(e.text for e in events if type(e) is Reasoning)
        deltas = sum(1 for e in events if type(e) in (Delta, Reasoning))
        if not any(type(e) is Finish for e in events) and events:
            log = RedisLogReader(self.redis, reply_id, len(events), closed=False)
            usage = Usage(None, deltas) if deltas else None
            await log.append(Finish(ReplyStatus.INTERRUPTED, FinishReason.CANCELLED, usage))
            await self.redis.expire(f"rillchat:log:{reply_id}", int(self.log_ttl))
        await self.repository.interrupt_reply(reply_id, text if events else None, deltas or None, reasoning=reasoning)
        await self.redis.srem(LIVE, reply_id)
        logger.info("reply %s of a dead replica ended as interrupted", reply_id)
