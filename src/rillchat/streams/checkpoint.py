"""Crash-safe partial text: the text (and reasoning) of running conversation replies, saved about once a second.

A reply's text is otherwise stored only when it ends, so a crash (kill -9, OOM, power loss) would lose
what its reader had already seen. One task does it for every reply: each tick it collects the replies
whose text changed since the last tick and writes them all in one transaction, one statement with a row
per reply. Nothing is written per token, and nothing is kept per reply beyond the number of pieces (text
and reasoning) last written, for the replies still running. After a crash, start-up recovery (or, with
several replicas, the sweeper) marks the reply ``interrupted`` with the text of its last checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from rillchat.background import BackgroundTask
from rillchat.storage.repository import Checkpoint
from rillchat.streams.hub import Hub

__all__ = ["Checkpointer"]

logger = logging.getLogger("rillchat.checkpoint")


class Checkpointer(BackgroundTask):
    name = "checkpointer"

    def __init__(
        self, hub: Hub, write: Callable[[Sequence[Checkpoint]], Awaitable[None]], *, interval_seconds: float
    ) -> None:
        super().__init__()
        self.hub = hub
        self.write = write
        self.interval = interval_seconds
        self._written: dict[str, int] = {}  # reply id -> pieces in its last checkpoint, running replies only
        self.ticks_written = 0
        """Transactions written so far (ticks with at least one changed reply)."""
        self.rows_written = 0

    def start(self) -> None:
        if self.interval > 0:  # 0: checkpoints are off
            super().start()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick()
            except Exception:
                logger.warning("writing checkpoints of running replies failed", exc_info=True)

    async def tick(self) -> int:
        """Write the replies whose text changed since the last tick; return how many."""
        batch: list[Checkpoint] = []
        written: dict[str, int] = {}
        for generation in self.hub.running:
            start = generation.start_event
            if start.assistant_message_id is None:
                continue  # stateless: nothing stored, nothing to keep
            progress = generation.progress
            written[generation.id] = progress
            if progress != self._written.get(generation.id, 0):
                batch.append(
                    Checkpoint(
                        start.assistant_message_id, generation.id, start.prefix + generation.text, generation.reasoning
                    )
                )
        if batch:
            await self.write(batch)
            self.ticks_written += 1
            self.rows_written += len(batch)
        # Replies that ended since the last tick drop out here; their final text is stored by their end.
        self._written = written
        return len(batch)
