"""The event loop's lag is measured and exposed: a callback that holds the loop shows up as a late timer."""

from __future__ import annotations

import asyncio
import gc
import time

import httpx

from rillchat.api.runtime import GcPauseMonitor, LoopLagMonitor, YoungCollections
from tests.helpers import wait_until


async def test_a_callback_holding_the_loop_is_seen_as_lag():
    seen: list[float] = []
    observed = asyncio.Event()

    def observe(lag: float) -> None:
        seen.append(lag)
        observed.set()

    monitor = LoopLagMonitor(observe, interval=0.005)
    monitor.start()
    try:
        await observed.wait()  # the monitor runs
        observed.clear()
        time.sleep(0.08)  # noqa: ASYNC251 - holding the loop is the point: its timer cannot run meanwhile
        await observed.wait()
    finally:
        await monitor.stop()
    # It asked to be woken at most 5 ms after the hold began, and ran only once it ended.
    assert monitor.max_lag >= 0.08 - 0.005
    assert max(seen) == monitor.max_lag


def test_metrics_expose_the_loop_lag_histogram_and_maximum(server_with_fake, database_url):
    server = server_with_fake(database_url=database_url)

    def scraped() -> dict[str, float]:
        samples = {}
        for line in httpx.get(f"{server}/metrics").text.splitlines():
            if line.startswith("rillchat_event_loop_lag"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples

    wait_until(lambda: scraped().get("rillchat_event_loop_lag_seconds_count", 0) > 0, what="lag samples")
    samples = scraped()
    assert 'rillchat_event_loop_lag_seconds_bucket{le="0.01"}' in samples
    assert (
        samples['rillchat_event_loop_lag_seconds_bucket{le="+Inf"}'] == samples["rillchat_event_loop_lag_seconds_count"]
    )
    assert samples["rillchat_event_loop_lag_max_seconds"] >= 0.0


def test_every_collection_is_timed_by_generation_until_stopped():
    seen: list[tuple[int, float]] = []
    monitor = GcPauseMonitor(lambda generation, seconds: seen.append((generation, seconds)))
    monitor.start()
    try:
        gc.collect(0)
        gc.collect()
    finally:
        monitor.stop()
    assert [g for g, _ in seen][-2:] == [0, 2]
    assert all(seconds >= 0.0 for _, seconds in seen)
    count = len(seen)
    gc.collect()
    assert len(seen) == count  # stopped: no callback left behind (tests build many apps in one process)


def test_metrics_expose_collector_pauses(server_with_fake, database_url):
    server = server_with_fake(database_url=database_url)
    gc.collect()  # the server runs in this process: its monitor times this one

    def full_collections() -> float:
        for line in httpx.get(f"{server}/metrics").text.splitlines():
            if line.startswith('rillchat_gc_pause_seconds_count{generation="2"}'):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    assert full_collections() >= 1


async def test_young_generations_are_collected_on_a_clock():
    """Under churn CPython's allocation count barely grows, so collections came rarely and walked tens of
    thousands of young objects each; on a clock they walk only what the last interval left alive."""
    seen: list[int] = []
    monitor = GcPauseMonitor(lambda generation, seconds: seen.append(generation))
    collections = YoungCollections(interval=0.01)
    monitor.start()
    collections.start()
    try:
        await asyncio.sleep(0.2)
    finally:
        await collections.stop()
        monitor.stop()
    assert seen.count(1) >= 5, seen
