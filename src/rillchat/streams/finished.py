"""A reply generated here that has ended, kept readable for the event-log TTL (resume, idempotent retries).

The hub swaps each ``Generation`` for one of these when it ends. Thousands are held at a time under load
(67 a second for 300 s in the soak), and every object they keep is memory and, for the cyclic collector,
something to walk on each full collection. So a finished reply keeps only what a reader needs: its start,
its outcome (which shares its text with the log) and its compacted log. The generation's task, coroutine,
context, request, timers, timing and per-token lists go with it.
"""

from __future__ import annotations

import asyncio

from rillchat.events import Start
from rillchat.streams.eventlog import EventLog
from rillchat.streams.generation import Generation, Outcome

__all__ = ["FinishedReply"]


class FinishedReply:
    __slots__ = ("id", "log", "outcome", "owner", "start_event")

    local = True
    from_storage = False
    done = True

    def __init__(self, generation: Generation) -> None:
        if generation.outcome is None:
            raise ValueError(f"reply {generation.id} has not finished")
        self.id = generation.id
        self.owner = generation.owner
        self.start_event: Start = generation.start_event
        self.log: EventLog = generation.log
        self.outcome: Outcome = generation.outcome

    @property
    def opened(self) -> asyncio.Future[None]:
        """Made when asked (rarely: a resume), not kept: as the generation's was when it ended."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.outcome.open_error is None:
            future.set_result(None)
        else:
            future.set_exception(self.outcome.open_error)
            future.exception()  # a reader that does not wait for it must not leave "never retrieved" behind
        return future

    def stop(self) -> None:
        """Over already: nothing to stop."""

    def interrupt(self) -> None:
        """Over already: nothing to interrupt."""

    async def wait(self) -> None:
        return None
