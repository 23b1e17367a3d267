"""Live replies by id: who follows them, and what happens when the last follower leaves.

A reply outlives the request that started it. A reply in a conversation runs to its end whether or not
anyone follows it (its text is stored, so it can be found again); it stops only when asked. For a
stateless reply, followers attach and detach; when the last one leaves, the reply either stops at once
(``interrupt_now``: its client cannot resume, as with the guide's plain text) or waits ``grace`` seconds
for someone to re-attach before it is interrupted. Finished replies stay
readable for ``ttl`` seconds, then only storage has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import Protocol

from rillchat.streams.finished import FinishedReply
from rillchat.streams.generation import Generation
from rillchat.streams.reply import Reply
from rillchat.streams.waiters import KeyedWaiters

__all__ = ["FollowersElsewhere", "Hub"]

logger = logging.getLogger("rillchat.hub")


class FollowersElsewhere(Protocol):
    """Readers of a reply on other replicas, counted where every replica sees them (the cluster's Redis):
    a reply generated here waits for them as for its own followers."""

    async def count(self, reply_id: str) -> int: ...

    async def change(self, reply_id: str, by: int) -> None: ...


class Hub:
    def __init__(
        self, *, grace_seconds: float, ttl_seconds: float, elsewhere: FollowersElsewhere | None = None
    ) -> None:
        """``elsewhere``: given when replicas share Redis (readers here of other replicas' replies are
        counted there, and readers there of replies generated here count here)."""
        self.grace_seconds = grace_seconds
        self.ttl_seconds = ttl_seconds
        self._live: dict[str, Generation | FinishedReply] = {}
        self._followers: dict[str, int] = {}
        self._grace_timers: dict[str, asyncio.TimerHandle] = {}
        # Request ids are per owner (issue 11): (owner, clientRequestId) -> reply id.
        self._by_request: dict[tuple[str | None, str], str] = {}
        self._expiring: deque[tuple[float, str, tuple[str | None, str] | None]] = deque()
        self._expiry_timer: asyncio.TimerHandle | None = None
        self.observers: list[Callable[[Generation], None]] = []
        self._elsewhere = elsewhere
        self._background: set[asyncio.Task[None]] = set()
        self._awaited = KeyedWaiters()  # reply id -> waiters for its ``add``

    def __len__(self) -> int:
        return len(self._live)

    @property
    def running(self) -> list[Generation]:
        return [g for g in self._live.values() if isinstance(g, Generation) and not g.done]

    def add(self, generation: Generation, client_request_id: str | None = None) -> None:
        self._live[generation.id] = generation
        if client_request_id:
            self._by_request[(generation.owner, client_request_id)] = generation.id
        task = generation.begin()
        request_key = (generation.owner, client_request_id) if client_request_id else None
        task.add_done_callback(lambda _: self._finished(generation, request_key))
        for observe in self.observers:
            observe(generation)
        self._awaited.wake(generation.id)

    @contextlib.contextmanager
    def added(self, reply_id: str) -> Iterator[asyncio.Future[None]]:
        """A future done when ``reply_id`` is added here; enter it before looking, so no ``add`` falls
        between the look and the wait. Leaving forgets the waiter, whether it fired or not."""
        with self._awaited.waiting(reply_id) as waiter:
            yield waiter

    def get(self, reply_id: str) -> Generation | FinishedReply | None:
        return self._live.get(reply_id)

    def get_by_request(self, owner: str | None, client_request_id: str) -> Generation | FinishedReply | None:
        reply_id = self._by_request.get((owner, client_request_id))
        return self._live.get(reply_id) if reply_id else None

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def attach(self, generation: Reply) -> None:
        if not generation.local:
            if self._elsewhere is not None:
                self._spawn(self._elsewhere.change(generation.id, 1))
            return
        self._followers[generation.id] = self._followers.get(generation.id, 0) + 1
        timer = self._grace_timers.pop(generation.id, None)
        if timer is not None:
            timer.cancel()

    def detach(self, generation: Reply, *, interrupt_now: bool, leaving_stops: bool = False) -> None:
        """A follower left. ``interrupt_now``: if it was the last, interrupt the reply now, without a grace
        period (its client could not resume). ``leaving_stops``: the same, and no policy may let the reply run
        on: the client's leaving is its stop button (useChat without ``resumable``, issue 15)."""
        if not generation.local:
            if self._elsewhere is not None:
                self._spawn(self._elsewhere.change(generation.id, -1))
            return
        left = self._followers.get(generation.id, 1) - 1
        if left > 0:
            self._followers[generation.id] = left
        else:
            self._followers.pop(generation.id, None)
        if left > 0 or generation.done:
            return
        if generation.start_event.conversation_id is not None and not leaving_stops:
            return  # a conversation's reply runs to its end: its text is stored, it can be found again
        if leaving_stops or interrupt_now or self.grace_seconds <= 0:
            generation.interrupt()
            return
        loop = asyncio.get_running_loop()
        self._grace_timers[generation.id] = loop.call_later(self.grace_seconds, self._grace_expired, generation)

    def _grace_expired(self, generation: Reply) -> None:
        """Only a reply generated here has a grace timer (``detach`` returns before for the others)."""
        self._grace_timers.pop(generation.id, None)
        if self._followers.get(generation.id, 0) != 0 or generation.done:
            return
        if self._elsewhere is None:
            generation.interrupt()
            return
        self._spawn(self._grace_expired_everywhere(generation, self._elsewhere))

    async def _grace_expired_everywhere(self, generation: Reply, followers: FollowersElsewhere) -> None:
        try:
            elsewhere = await followers.count(generation.id)
        except Exception:
            logger.warning("could not count followers on other replicas", exc_info=True)
            elsewhere = 0
        if self._followers.get(generation.id, 0) or generation.done:
            return
        if elsewhere > 0:  # someone reads it through another replica: look again after another period
            loop = asyncio.get_running_loop()
            self._grace_timers[generation.id] = loop.call_later(self.grace_seconds, self._grace_expired, generation)
        else:
            generation.interrupt()

    def _finished(self, generation: Generation, request_key: tuple[str | None, str] | None) -> None:
        timer = self._grace_timers.pop(generation.id, None)
        if timer is not None:
            timer.cancel()
        if generation.outcome is not None and self._live.get(generation.id) is generation:
            self._live[generation.id] = FinishedReply(generation)
        loop = asyncio.get_running_loop()
        self._expiring.append((loop.time() + self.ttl_seconds, generation.id, request_key))
        if self._expiry_timer is None:
            self._expiry_timer = loop.call_later(self.ttl_seconds, self._expire)

    def _expire(self) -> None:
        """Forget the replies whose time is up. One timer for them all, not one per reply: every reply
        gets the same TTL, so they expire in the order they finished."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        expiring = self._expiring
        while expiring and expiring[0][0] <= now:
            _, reply_id, request_key = expiring.popleft()
            self._forget(reply_id, request_key)
        self._expiry_timer = loop.call_at(expiring[0][0], self._expire) if expiring else None

    def _forget(self, reply_id: str, request_key: tuple[str | None, str] | None) -> None:
        self._live.pop(reply_id, None)
        self._followers.pop(reply_id, None)
        if request_key is not None and self._by_request.get(request_key) == reply_id:
            del self._by_request[request_key]

    async def shutdown(self, deadline_seconds: float) -> None:
        """Let running replies finish for up to ``deadline_seconds``, then interrupt the rest."""
        running = self.running
        if running:
            logger.info("waiting up to %.0fs for %d running replies", deadline_seconds, len(running))
            await asyncio.wait([asyncio.ensure_future(g.wait()) for g in running], timeout=deadline_seconds)
        for generation in self.running:
            generation.interrupt()
        for reply in list(self._live.values()):
            await reply.wait()
        for timer in self._grace_timers.values():
            timer.cancel()
        if self._expiry_timer is not None:
            self._expiry_timer.cancel()
            self._expiry_timer = None
