"""A task that runs for as long as the app does: started once at start-up, cancelled at shutdown."""

from __future__ import annotations

import asyncio

__all__ = ["BackgroundTask"]


class BackgroundTask:
    """Subclasses give ``name`` and ``_run``; ``start`` twice starts one task, ``stop`` waits for its end."""

    name = "background"

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
