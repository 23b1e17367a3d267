"""The event loop's lag is measured and exposed: a callback that holds the loop shows up as a late timer."""

from __future__ import annotations

import asyncio
import time

import httpx

from rillchat.api.runtime import LoopLagMonitor
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
