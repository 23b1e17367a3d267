"""rillchat's own ``/metrics``, read by the benchmark: event-loop lag, replies held in memory."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from typing import Any

import httpx

from bench.procs import Server

__all__ = ["MetricsSampler", "lag_summary", "parse_metrics", "scrape"]

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$")


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {"name{labels}": value} (enough for our own gauges and histograms)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match:
            with contextlib.suppress(ValueError):
                out[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return out


def _bucket_deltas(before: dict[str, float], after: dict[str, float], prefix: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of one histogram's buckets, counting only what came between scrapes."""
    return sorted(
        (float(key.split('le="', 1)[1].split('"', 1)[0]), value - before.get(key, 0.0))
        for key, value in after.items()
        if key.startswith(prefix)
    )


def lag_summary(before: dict[str, float], after: dict[str, float]) -> dict[str, Any] | None:
    """Event-loop lag between two scrapes: samples, share over 10 ms, the p99 bucket, the run's maximum, and
    the collector's pauses meanwhile.

    The maximum: rillchat exports the largest lag since it started (start-up included), so when that grew
    during the run it is the run's, exactly; otherwise the run's is at most the smaller of it and the upper
    bound of the highest histogram bucket the run's samples reached (``max_exact`` False)."""
    buckets = _bucket_deltas(before, after, "rillchat_event_loop_lag_seconds_bucket")
    if not buckets:
        return None  # a version without the metric
    count = buckets[-1][1]
    over_10ms = count - next((n for le, n in buckets if le >= 0.01), count)
    p99 = next((le for le, n in buckets if count and n >= 0.99 * count), float("inf"))
    top = next((le for le, n in buckets if n >= count), float("inf"))
    since_start = after.get("rillchat_event_loop_lag_max_seconds", 0.0)
    exact = since_start > before.get("rillchat_event_loop_lag_max_seconds", float("inf"))
    gc: dict[str, Any] = {}
    for generation in "012":
        key = f'rillchat_gc_pause_seconds_count{{generation="{generation}"}}'
        if key in after:
            pauses = _bucket_deltas(before, after, f'rillchat_gc_pause_seconds_bucket{{generation="{generation}"')
            n = pauses[-1][1] if pauses else 0.0
            gc[generation] = {
                "count": int(after[key] - before.get(key, 0.0)),
                "total_ms": 1000.0
                * (
                    after.get(f'rillchat_gc_pause_seconds_sum{{generation="{generation}"}}', 0.0)
                    - before.get(f'rillchat_gc_pause_seconds_sum{{generation="{generation}"}}', 0.0)
                ),
                "max_le_ms": 1000.0 * next((le for le, c in pauses if c >= n), 0.0) if n else 0.0,
            }
    return {
        "samples": int(count),
        "over_10ms_pct": 100.0 * over_10ms / count if count else 0.0,
        "p99_le_ms": p99 * 1000.0,
        "max_ms": 1000.0 * (since_start if exact else min(since_start, top)),
        "max_exact": exact,
        "gc": gc or None,
    }


def scrape(server: Server) -> dict[str, float]:
    try:
        return parse_metrics(httpx.get(f"{server.url}/metrics", timeout=5.0).text)
    except httpx.HTTPError:
        return {}


class MetricsSampler:
    """Scrapes ``/metrics`` every ``interval`` seconds in a thread."""

    def __init__(self, server: Server, interval: float = 5.0) -> None:
        self.server = server
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-metrics", daemon=True)

    def __enter__(self) -> MetricsSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.time(), scrape(self.server)))
            self._stop.wait(self.interval)
