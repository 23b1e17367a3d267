"""The process under load: the cyclic collector kept off the hot path, and the event loop's lag measured.

A reply streams for seconds and creates a few short-lived objects per token, while everything start-up
built (modules, the app, settings, pools) lives as long as the process. With CPython's default thresholds
(700, 10, 10) the collector ran a young collection every few hundred tokens and, now and then, a full one
that walked every live object: at 500 streams those pauses were the whole p99 (issue 13: 170-490 ms
added per token; 6-7 ms with the collector tuned). So, once start-up is over: collect, freeze what
survived (the collector never walks it again), and collect in small steps (see ``GC_THRESHOLDS``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

from rillchat.background import BackgroundTask

__all__ = ["GC_THRESHOLDS", "GcPauseMonitor", "LoopLagMonitor", "YoungCollections", "settle_heap"]

GC_THRESHOLDS = (5_000, 1, 1000)
"""A young collection per 5,000 net allocations, and the survivors of every second one moved to the old
generation; a full collection only after 1,000 of those (and, CPython's own rule, once what was moved there
since the last is a quarter of it). A collection's pause grows with the young objects it walks, and under
load most young objects are the live state of replies just started. Over three 500-stream SSE runs the
longest pauses were 33 ms with (50,000, 50, 100), 14 ms young / 33 ms middle with (10,000, 5, 1000), and
9.5 / 16 ms with these (``rillchat_gc_pause_seconds`` in ``/metrics`` shows them). Per-token objects die by
reference counting before any of this sees them; per-reply state is small and acyclic (see
``streams.eventlog``), so what reaches the old generation is live state, not garbage."""


def settle_heap() -> None:
    """Call once start-up is done: what exists now lives for the process and is never walked again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class LoopLagMonitor(BackgroundTask):
    """How late the event loop runs a timer: every ``interval`` seconds it asks to be woken, and reports
    how much later than asked it was. A callback that holds the loop for 30 ms shows as a lag near 30 ms
    (less by at most ``interval``), whatever it was: a collection, a big JSON, a blocking call."""

    name = "loop-lag-monitor"

    def __init__(self, observe: Callable[[float], None], interval: float = 0.02) -> None:
        super().__init__()
        self.observe = observe
        self.interval = interval
        self.max_lag = 0.0

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


class GcPauseMonitor:
    """Times every collection (``gc.callbacks``) and reports ``(generation, seconds)``: a collection runs
    inside whatever allocated last, so the loop-lag probe sees it only as lag of unknown cause."""

    def __init__(self, observe: Callable[[int, float], None]) -> None:
        self.observe = observe
        self._started = 0.0

    def start(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.observe(info["generation"], time.perf_counter() - self._started)


class YoungCollections(BackgroundTask):
    """Collects the two young generations on a clock, every ``interval`` seconds.

    CPython starts a collection when allocations minus deallocations pass the threshold, and every object
    that dies counts, old ones too. Under steady churn (replies ending as fast as new ones start) that
    difference barely grows, so collections came rarely and each walked all the state of the replies
    started since the last one: in a 500-stream soak, 19,000 young objects on average and up to 97,000,
    young collections of 23 ms and middle ones of 67 ms (up to 250 ms). On a clock each walks only what the
    last ``interval`` left alive: in a 600-s soak 3.7 ms on average and none above 20 ms, for 3.4% of the
    CPU. A full collection still walks everything held (one in that soak: 350 ms), so what a finished reply
    keeps is kept small (``streams.finished``)."""

    name = "young-collections"

    def __init__(self, interval: float = 0.1) -> None:
        super().__init__()
        self.interval = interval

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            gc.collect(1)
