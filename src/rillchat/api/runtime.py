"""The process under load: the cyclic collector kept off the hot path, and the event loop's lag measured.

A reply streams for seconds and creates a few short-lived objects per token, while everything start-up
built (modules, the app, settings, pools) lives as long as the process. With CPython's default thresholds
(700, 10, 10) the collector ran a young collection every few hundred tokens and, now and then, a full one
that walked every live object: at 500 streams those pauses were the whole p99 (issue 13: 170-490 ms
added per token; 6-7 ms with the collector tuned). So, once start-up is over: collect, freeze what
survived (the collector never walks it again), and collect the young generation less often.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

__all__ = ["GC_THRESHOLDS", "LoopLagMonitor", "settle_heap"]

GC_THRESHOLDS = (50_000, 50, 100)
"""A young collection per 50,000 net allocations (a few ms of work at most, since per-token objects die
young); the older generations far more rarely. Per-reply state is kept small and acyclic (see
``streams.eventlog``) so that almost nothing survives into them."""


def settle_heap() -> None:
    """Call once start-up is done: what exists now lives for the process and is never walked again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class LoopLagMonitor:
    """How late the event loop runs a timer: every ``interval`` seconds it asks to be woken, and reports
    how much later than asked it was. A callback that holds the loop for 30 ms shows as a lag near 30 ms
    (less by at most ``interval``), whatever it was: a collection, a big JSON, a blocking call."""

    def __init__(self, observe: Callable[[float], None], interval: float = 0.02) -> None:
        self.observe = observe
        self.interval = interval
        self.max_lag = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        interval = self.interval
        clock = time.monotonic
        while True:
            asked = clock() + interval
            await asyncio.sleep(interval)
            lag = max(0.0, clock() - asked)
            if lag > self.max_lag:
                self.max_lag = lag
            self.observe(lag)
