"""Per-client caps on starting replies: per minute, at once, and waiting for the embedded model.

A client is an API key's owner, or an address when keys are off. Exceeding a cap is a 429 with
``Retry-After``; a retry that attaches to a reply already running is never counted.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from rillchat.errors import RateLimited

__all__ = ["Quotas", "Ticket"]


@dataclass(slots=True)
class _Usage:
    starts: deque[float] = field(default_factory=deque)
    active: int = 0
    local: int = 0


@dataclass(frozen=True, slots=True)
class Ticket:
    client: str
    local: bool


class Quotas:
    def __init__(self, per_minute: int, concurrent: int, local_queue: int) -> None:
        """Zero turns a cap off."""
        self.per_minute = per_minute
        self.concurrent = concurrent
        self.local_queue = local_queue
        self._clients: dict[str, _Usage] = {}

    def admit(self, client: str, *, local: bool) -> Ticket:
        usage = self._clients.setdefault(client, _Usage())
        now = time.monotonic()
        while usage.starts and now - usage.starts[0] >= 60:
            usage.starts.popleft()
        if self.per_minute and len(usage.starts) >= self.per_minute:
            wait = 60 - (now - usage.starts[0])
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
        if not usage.active and not usage.starts:
            del self._clients[ticket.client]
