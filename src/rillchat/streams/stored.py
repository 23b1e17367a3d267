"""A reply that finished before, read back from storage: a closed log of what it said, nothing running."""

from __future__ import annotations

import asyncio

from rillchat.events import Delta, Finish, Reasoning, Start
from rillchat.streams.eventlog import MemoryEventLog
from rillchat.streams.generation import Outcome

__all__ = ["StoredReply"]


class StoredReply:
    # Counted like a reply generated here: nobody elsewhere follows it, and it is over, so the hub lets it be.
    local = True
    from_storage = True

    def __init__(self, start: Start, outcome: Outcome, owner: str | None) -> None:
        """The log holds start, reasoning, text, error and finish, each in one event, and is closed."""
        self.id = start.reply_id
        self.owner = owner
        self.start_event = start
        self.outcome: Outcome | None = outcome
        self.log = MemoryEventLog()
        self.log.append_nowait(start)
        if outcome.reasoning:
            self.log.append_nowait(Reasoning(outcome.reasoning))
        if outcome.text:
            self.log.append_nowait(Delta(outcome.text))
        if outcome.error is not None:
            self.log.append_nowait(outcome.error)
        self.log.append_nowait(Finish(outcome.status, outcome.reason, outcome.usage, outcome.reasoning_seconds))
        self.log.close_nowait()
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.opened.set_result(None)

    @property
    def done(self) -> bool:
        return True

    def stop(self) -> None:
        """Over already: nothing to stop."""

    def interrupt(self) -> None:
        """Over already: nothing to interrupt."""

    async def wait(self) -> None:
        return None
