"""Part 1, RELAY: per-token latency, throughput, CPU and memory of relaying a remote model's stream.

Topology (2 cores): rillchat alone on core 0; the fake OpenAI upstream, the load generator and this
process on core 1. Each row is one run: N streams of T timestamped tokens at R tokens/s, started evenly
over the ramp, either straight against the upstream (``direct``), through the bare relay of
``bench.floor_relay`` on core 0 (``floor``: uvicorn + aiohttp + orjson and nothing else, Responses API
only), or through rillchat (plain text, SSE). Every server is restarted for every run, so that CPU and
memory deltas belong to that run alone.
"""

from __future__ import annotations

import asyncio
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.loadgen import Collect, build_request, fetch
from bench.metrics import lag_summary, scrape
from bench.procs import (
    Processes,
    Sampler,
    Server,
    cpu_seconds,
    machine_busy_seconds,
    run_loadgen,
    sched_seconds,
    start_floor,
    start_rillchat,
    upstreams_json,
)

__all__ = ["KINDS", "MODES", "RelayConfig", "run_relay"]

KINDS = {"responses": "fake-responses", "chat": "fake-chat"}
MODES = ("direct", "floor", "plain", "sse")
PROMPT = "Tell me about rivers."


@dataclass
class RelayConfig:
    concurrency: list[int] = field(default_factory=lambda: [1, 100, 500, 1000, 2000])
    chat_concurrency: list[int] = field(default_factory=lambda: [1, 1000, 2000])
    tokens: int = 150
    rate: float = 20.0
    ramp: float = 1.0
    probe: int = 30
    """Sequential short requests that measure time to first byte at concurrency 1."""
    max_output_tokens: int = 1000
    grace: float = 150.0
    """Seconds past a stream's planned end before the load generator counts it as failed (timeout)."""
    budget: float = 720.0
    """Seconds for the whole relay part: runs that would start later are skipped (and reported so)."""


def relay_env(fake: Server) -> dict[str, str]:
    return {
        "RILLCHAT_UPSTREAMS": upstreams_json(fake.port),
        "RILLCHAT_LOCAL_MODEL_ENABLED": "false",
        "RILLCHAT_DEFAULT_MODEL": "fake-responses",
        # Per-client caps (0 = off): every benchmark stream comes from one address.
        "RILLCHAT_RATE_LIMIT_PER_MINUTE": "0",
        "RILLCHAT_MAX_CONCURRENT_REPLIES": "0",
        "RILLCHAT_MAX_QUEUED_LOCAL_REPLIES": "0",
    }


def make_request(port: int, kind: str, mode: str, text: str, max_output_tokens: int) -> tuple[bytes, str]:
    """The raw HTTP request for one stream, and the loadgen pattern that finds its timestamps."""
    model = KINDS[kind]
    if mode == "direct":
        auth = {"Authorization": "Bearer x"}
        if kind == "responses":
            body: dict[str, Any] = {
                "model": model,
                "input": [{"role": "user", "content": text}],
                "stream": True,
                "max_output_tokens": max_output_tokens,
            }
            return build_request(port, "/v1/responses", body, auth), "responses"
        body = {"model": model, "messages": [{"role": "user", "content": text}], "stream": True}
        body["max_tokens"] = max_output_tokens
        return build_request(port, "/v1/chat/completions", body, auth), "chat"
    body = {"userInput": text, "model": model, "maxOutputTokens": max_output_tokens}
    headers = {"Accept": "text/event-stream"} if mode == "sse" else {}
    return build_request(port, "/api/chat/stream", body, headers), "plain" if mode == "floor" else mode


def short(tokens: int) -> str:
    """A directive for the fake: a short reply as fast as it can (warm-ups, TTFB probes)."""
    return f"[[fake tokens={tokens} rate=0]] {PROMPT}"


async def _fetch_all(port: int, requests: list[bytes]) -> list[Collect]:
    return [await fetch(port, request, limit=30) for request in requests]


def warm_up(server: Server, kind: str, mode: str, count: int = 5) -> None:
    requests = [make_request(server.port, kind, mode, short(3), 1000)[0] for _ in range(count)]
    results = asyncio.run(_fetch_all(server.port, requests))
    bad = [r.status for r in results if r.status != 200 or not r.complete]
    if bad:
        raise RuntimeError(f"warm-up against {server.name} failed: {bad}\n{server.log_tail()}")


def _spec(port: int, kind: str, mode: str, cfg: RelayConfig, streams: int, **over: Any) -> dict[str, Any]:
    text = over.pop("text", PROMPT)
    request, pattern = make_request(port, kind, mode, text, cfg.max_output_tokens)
    spec = {
        "port": port,
        "request": request.decode("latin-1"),
        "pattern": pattern,
        "streams": streams,
        "expected_tokens": cfg.tokens,
        "rate": cfg.rate,
        "ramp": cfg.ramp,
        # Generous: a stream that is slow but complete is slow, not failed (the rate column shows it).
        "deadline": cfg.ramp + cfg.tokens / cfg.rate + cfg.grace,
    }
    spec.update(over)
    return spec


def _children() -> float:
    """CPU seconds of this process's finished children (the load generator's whole life, imports too)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _peak(samples: list[tuple[float, int]], intervals: list[list[float]]) -> tuple[int, int]:
    """(RSS, active streams) at the sample with the most streams active (largest RSS among ties)."""
    if not samples or not intervals:
        return (max((s[1] for s in samples), default=0), 0)
    spans = np.asarray(intervals, dtype=np.float64)
    starts = np.sort(spans[:, 0][spans[:, 0] > 0])
    ends = np.sort(spans[:, 1])
    best = (0, -1)  # (active, rss)
    for t, rss in samples:
        active = int(np.searchsorted(starts, t, side="right") - np.searchsorted(ends, t, side="right"))
        best = max(best, (active, rss))
    return best[1], best[0]


def one_run(
    procs: Processes, fake: Server, kind: str, mode: str, streams: int, cfg: RelayConfig, variant: str = "after"
) -> dict[str, Any]:
    server: Server | None = None
    try:
        if mode == "floor":
            server = start_floor(procs, fake)
            warm_up(server, kind, mode)
        elif mode != "direct":
            server = start_rillchat(procs, env=relay_env(fake), variant=variant)
            warm_up(server, kind, mode)
        target = server or fake
        row: dict[str, Any] = {"kind": kind, "mode": mode, "concurrency": streams}
        rillchat = server if mode not in ("direct", "floor") else None  # the one with /metrics
        if rillchat is not None:
            row["variant"] = variant
        if streams == 1 and cfg.probe:
            probe = run_loadgen(
                procs,
                _spec(target.port, kind, mode, cfg, cfg.probe, text=short(3), expected_tokens=3, sequential=True),
                timeout=120,
            )
            row["probe_ttfb_ms"] = probe["ttfb_ms"]
            row["probe_failed"] = probe["failed"]
        rill = server.process() if server else None
        time.sleep(0.5)
        rss_idle = rill.memory_info().rss if rill else 0
        fake_proc = fake.process()
        before = (cpu_seconds(rill), cpu_seconds(fake_proc), machine_busy_seconds(), time.process_time(), _children())
        sched_before = (sched_seconds(rill), sched_seconds(fake_proc))
        t_before = time.monotonic()
        timeout = cfg.ramp + cfg.tokens / cfg.rate + cfg.grace + 60.0
        metrics_before = scrape(rillchat) if rillchat else {}
        with Sampler(rill) as sampler:
            result = run_loadgen(procs, _spec(target.port, kind, mode, cfg, streams), timeout=timeout)
        row["lag"] = lag_summary(metrics_before, scrape(rillchat)) if rillchat else None
        after = (cpu_seconds(rill), cpu_seconds(fake_proc), machine_busy_seconds(), time.process_time(), _children())
        span = time.monotonic() - t_before
        (rill_run, rill_wait), (fake_run, fake_wait) = (
            (a[0] - b[0], a[1] - b[1])
            for a, b in zip((sched_seconds(rill), sched_seconds(fake_proc)), sched_before, strict=True)
        )
        wall = result["wall_s"]
        rill_cpu, fake_cpu, busy, own, children = (a - b for a, b in zip(after, before, strict=True))
        client_cpu = result["client_cpu_s"]
        rss_peak, active = _peak(sampler.samples, result.pop("intervals"))
        row.update(
            ok=result["ok"],
            failed=result["failed"],
            errors=result["errors"],
            error_samples=result.get("error_samples") or {},
            tokens=result["tokens"],
            tokens_expected=result["tokens_expected"],
            delay_ms=result["delay_ms"],
            ttfb_ms=result["ttfb_ms"],
            window=result["window"],
            wall_s=wall,
            rillchat_cpu_s=rill_cpu if rill else None,
            fake_cpu_s=fake_cpu,
            client_cpu_s=client_cpu,
            # Everything else on the machine meanwhile (other users' processes), in cores.
            other_cores=max(busy - rill_cpu - fake_cpu - children - own, 0.0) / span,
            core1_load_pct=100.0 * (fake_cpu + client_cpu + own) / wall if wall else None,
            # Share of the run each process spent on a CPU, and runnable but waiting for one (contention).
            rillchat_cpu_pct=100.0 * rill_run / span if rill else None,
            rillchat_wait_pct=100.0 * rill_wait / span if rill else None,
            fake_cpu_pct=100.0 * fake_run / span,
            fake_wait_pct=100.0 * fake_wait / span,
            cpu_us_per_token=(1e6 * rill_cpu / result["tokens"]) if rill and result["tokens"] else None,
            rss_idle_mb=rss_idle / 2**20 if rill else None,
            rss_peak_mb=rss_peak / 2**20 if rill else None,
            peak_active=active,
            kb_per_stream=((rss_peak - rss_idle) / 1024 / active) if rill and active else None,
        )
        if "stderr" in result:
            row["loadgen_stderr"] = result["stderr"]
        return row
    finally:
        if server is not None:
            procs.stop(server.popen)


def _added(row: dict[str, Any], direct: dict[str, Any] | None) -> None:
    """Fill the "added" columns: this row's percentile minus the direct row's at the same concurrency."""
    if direct is None or row["mode"] == "direct":
        return
    for key, src in (("delay", "delay_ms"), ("ttfb", "ttfb_ms"), ("probe_ttfb", "probe_ttfb_ms")):
        mine, base = row.get(src), direct.get(src)
        if mine and base:
            row[f"added_{key}_ms"] = {p: mine[p] - base[p] for p in ("p50", "p90", "p99")}


def run_relay(
    procs: Processes,
    fake: Server,
    cfg: RelayConfig,
    log: Any = print,
    kinds: tuple[str, ...] = ("responses", "chat"),
    rows: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Every run, appended to ``rows`` as it completes (so an interrupted benchmark keeps what it measured)."""
    rows = [] if rows is None else rows
    begin = time.monotonic()
    for kind in kinds:
        levels = cfg.concurrency if kind == "responses" else cfg.chat_concurrency
        for streams in levels:
            direct = None
            for mode in MODES:
                if mode == "floor" and kind != "responses":
                    continue  # the bare relay speaks only the Responses API
                # With a baseline, its run and ours alternate, so both meet the same machine load.
                for variant in ["after"] if mode in ("direct", "floor") else list(procs.variants):
                    started = time.monotonic()
                    if started - begin > cfg.budget:
                        rows.append(
                            {"kind": kind, "mode": mode, "concurrency": streams, "variant": variant, "skipped": True}
                        )
                        log(f"  relay {kind:<9} {mode:<6} c={streams:<5} skipped: over the {cfg.budget:.0f} s budget")
                        continue
                    row = one_run(procs, fake, kind, mode, streams, cfg, variant)
                    if mode == "direct":
                        direct = row
                    _added(row, direct)
                    rows.append(row)
                    log(_progress(row, time.monotonic() - started))
    return rows


def _progress(row: dict[str, Any], took: float) -> str:
    d = row.get("delay_ms") or {}
    w = row.get("window") or {}
    cpu = row.get("cpu_us_per_token")
    samples = "".join(f"\n      {k}: {v}" for k, v in (row.get("error_samples") or {}).items())
    lag = row.get("lag") or {}
    return (
        f"  relay {row['kind']:<9} {row['mode']:<6} {row.get('variant', ''):<6} c={row['concurrency']:<5} "
        f"ok={row['ok']:<5} lag max={lag.get('max_ms', float('nan')):.1f}ms "
        f"failed={row['failed']:<4} p50={d.get('p50', float('nan')):7.2f}ms p99={d.get('p99', float('nan')):8.2f}ms "
        f"rate={w.get('pct', float('nan')):6.1f}% ttfb={(row.get('ttfb_ms') or {}).get('p50', float('nan')):8.1f}ms "
        f"cpu/token={'-' if cpu is None else f'{cpu:.1f}us'} "
        f"core1={row['core1_load_pct']:.0f}% other={row['other_cores']:.2f} cores ({took:.0f}s){samples}"
    )
