"""Per-client caps on starting replies: per minute, at once, and waiting for the embedded model.

A client is an API key's owner, or an address when keys are off. Exceeding a cap is a 429 with
``Retry-After``; a retry that attaches to a reply already running is never counted.

The state is per process and bounded: a client is kept while it has a reply running or a start in the
last minute, and forgotten after (a sweep at most once a minute, on an admit), so a server that sees many
addresses does not keep every one it ever saw. With several replicas each enforces the caps on its own
(see the README's Scaling out for why).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rillchat.errors import RateLimited

__all__ = ["Quotas", "Ticket"]

WINDOW = 60.0  # seconds: the per-minute cap's window, and how often idle clients are swept


@dataclass(slots=True)
class _Usage:
    starts: deque[float] = field(default_factory=deque)
    active: int = 0
    local: int = 0

    def forget_before(self, moment: float) -> None:
        while self.starts and self.starts[0] <= moment:
            self.starts.popleft()

    @property
    def idle(self) -> bool:
        return not self.active and not self.starts


@dataclass(frozen=True, slots=True)
class Ticket:
    client: str
    local: bool


class Quotas:
    def __init__(
        self, per_minute: int, concurrent: int, local_queue: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Zero turns a cap off."""
        self.per_minute = per_minute
        self.concurrent = concurrent
        self.local_queue = local_queue
        self._clock = clock
        self._clients: dict[str, _Usage] = {}
        self._swept_at = clock()

    def __len__(self) -> int:
        """Clients currently remembered."""
        return len(self._clients)

    def admit(self, client: str, *, local: bool) -> Ticket:
        now = self._clock()
        if now - self._swept_at >= WINDOW:
            self._sweep(now)
        usage = self._clients.setdefault(client, _Usage())
        usage.forget_before(now - WINDOW)
        if self.per_minute and len(usage.starts) >= self.per_minute:
            wait = WINDOW - (now - usage.starts[0])
            raise RateLimited(
                f"at most {self.per_minute} replies a minute; try again in {math.ceil(wait)}s",
                retry_after=math.ceil(wait),
            )
        if self.concurrent and usage.active >= self.concurrent:
            raise RateLimited(f"at most {self.concurrent} replies at once; wait for one to end", retry_after=1)
        if local and self.local_queue and usage.local >= self.local_queue:
            raise RateLimited(
                f"at most {self.local_queue} replies waiting for the embedded model at once", retry_after=1
            )
        if self.per_minute:  # with the cap off, starts need not be remembered at all
            usage.starts.append(now)
        usage.active += 1
        usage.local += local
        return Ticket(client, local)

    def release(self, ticket: Ticket) -> None:
        usage = self._clients.get(ticket.client)
        if usage is None:
            return
        usage.active -= 1
        usage.local -= ticket.local
        if usage.idle:
            del self._clients[ticket.client]

    def _sweep(self, now: float) -> None:
        """Forget every client with nothing running and no start within the window."""
        self._swept_at = now
        for client, usage in list(self._clients.items()):
            usage.forget_before(now - WINDOW)
            if usage.idle:
                del self._clients[client]
