"""Part 6, SOAK: many streams for a long time -- does memory stay flat, does the event loop stay smooth?

Same topology as RELAY. N plain-text streams of T timestamped tokens at R tokens/s are kept open for the
whole duration (each one that ends is replaced at once), so finished replies pile up in the hub until the
event-log TTL lets them go: RSS must level off once the TTL has passed. Sampled every second: rillchat's
RSS; every few seconds: its ``/metrics`` (event-loop lag histogram and maximum, replies held in memory).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bench.metrics import MetricsSampler, lag_summary
from bench.procs import Processes, Sampler, Server, cpu_seconds, run_loadgen, start_rillchat
from bench.relay import RelayConfig, _spec, relay_env, warm_up

__all__ = ["SoakConfig", "run_soak"]


@dataclass
class SoakConfig:
    streams: int = 500
    duration: float = 600.0
    ttl: float = 300.0
    """RILLCHAT_EVENT_LOG_TTL_SECONDS during the soak (the default); a short soak shortens it."""
    window: float = 30.0
    """Seconds per row of the timeline."""
    mode: str = "plain"
    variants: list[str] = field(default_factory=lambda: ["after"])


def _one(procs: Processes, fake: Server, relay: RelayConfig, cfg: SoakConfig, variant: str) -> dict[str, Any]:
    env = {**relay_env(fake), "RILLCHAT_EVENT_LOG_TTL_SECONDS": str(cfg.ttl)}
    server = start_rillchat(procs, env=env, name=f"rillchat-soak-{variant}", variant=variant)
    try:
        warm_up(server, "responses", cfg.mode)
        rill = server.process()
        time.sleep(0.5)
        rss_idle = rill.memory_info().rss
        cpu0 = cpu_seconds(rill)
        spec = _spec(server.port, "responses", cfg.mode, relay, cfg.streams)
        spec.update(soak=cfg.duration, soak_window=cfg.window, deadline=cfg.duration + relay.tokens / relay.rate + 120)
        with Sampler(rill, interval=1.0) as rss, MetricsSampler(server) as metrics:
            result = run_loadgen(procs, spec, timeout=cfg.duration + relay.tokens / relay.rate + 240)
        cpu = cpu_seconds(rill) - cpu0
    finally:
        procs.stop(server.popen)
    t0 = result["t0"]
    timeline = result.pop("timeline")
    for row in timeline:
        start, end = t0 + row["start_s"], t0 + row["start_s"] + cfg.window
        mem = [r for t, r in rss.samples if start <= t < end]
        row["rss_mb"] = max(mem) / 2**20 if mem else None
        inside = [m for t, m in metrics.samples if start <= t < end + metrics.interval and m]
        held = [m["rillchat_live_replies"] for m in inside if "rillchat_live_replies" in m]
        row["replies_held"] = max(held) if held else None
        if len(inside) >= 2:
            lag = lag_summary(inside[0], inside[-1])
            if lag is not None:
                row["lag_p99_le_ms"] = lag["p99_le_ms"]
                row["lag_over_10ms_pct"] = lag["over_10ms_pct"]
    first = metrics.samples[0][1] if metrics.samples else {}
    last = metrics.samples[-1][1] if metrics.samples else {}
    # RSS after the TTL: finished replies expire as fast as new ones finish from here on.
    settled = [r for t, r in rss.samples if t >= t0 + cfg.ttl + relay.tokens / relay.rate + 10]
    rss_settled = settled[len(settled) // 4 :] if settled else []
    growth = None
    if len(rss_settled) >= 20:
        half = len(rss_settled) // 2
        a, b = rss_settled[:half], rss_settled[half:]
        span = (len(rss_settled) / 2) / 60.0  # samples are ~1 s apart
        growth = (sum(b) / len(b) - sum(a) / len(a)) / 2**20 / span if span else None
    peak = max((r for _, r in rss.samples), default=0)
    return {
        "variant": variant,
        "mode": cfg.mode,
        "concurrency": cfg.streams,
        "duration_s": cfg.duration,
        "ttl_s": cfg.ttl,
        "ok": result["ok"],
        "failed": result["failed"],
        "errors": result["errors"],
        "replies": result["streams"],
        "tokens": result["tokens"],
        "window": result["window"],
        "delay_ms": result["delay_ms"],
        "cpu_us_per_token": 1e6 * cpu / result["tokens"] if result["tokens"] else None,
        "rss_idle_mb": rss_idle / 2**20,
        "rss_peak_mb": peak / 2**20,
        "rss_settled_mb": (sum(rss_settled) / len(rss_settled) / 2**20) if rss_settled else None,
        "rss_growth_mb_per_min": growth,
        "kb_per_stream": (peak - rss_idle) / 1024 / cfg.streams,
        "lag": lag_summary(first, last),
        "timeline": timeline,
    }


def run_soak(procs: Processes, fake: Server, relay: RelayConfig, cfg: SoakConfig, log: Any = print) -> dict[str, Any]:
    runs = []
    for variant in cfg.variants:
        t = time.monotonic()
        run = _one(procs, fake, relay, cfg, variant)
        runs.append(run)
        lag = run.get("lag") or {}
        growth = run["rss_growth_mb_per_min"]
        log(
            f"  soak {variant:<6} c={cfg.streams} {cfg.duration:.0f}s: replies={run['replies']} failed={run['failed']}"
            f" rss idle/peak={run['rss_idle_mb']:.0f}/{run['rss_peak_mb']:.0f} MB"
            f" growth after TTL={'-' if growth is None else f'{growth:+.1f}'} MB/min"
            f" lag max={lag.get('max_ms', float('nan')):.1f} ms ({time.monotonic() - t:.0f}s)"
        )
    return {"config": vars(cfg), "runs": runs}
