"""Part 5, REPLICAS: what scale-out costs -- the Redis event log against the in-memory one.

Same topology as RELAY (rillchat on core 0; the fake upstream, the load generator, this process and here a
throwaway ``redis-server`` on core 1), N stateless SSE streams (each with its own ``clientRequestId``) of T
timestamped tokens at R tokens/s from the Responses fake. Three runs, rillchat restarted for each:

- ``memory``: one replica, in-memory event log (no ``RILLCHAT_REDIS_URL``): the baseline;
- ``redis``: one replica with ``RILLCHAT_REDIS_URL``: it generates and copies every event to Redis (a client
  sees an event only once Redis has it);
- ``redis A→B``: two replicas, both on core 0, both on Redis: each client POSTs to A, reads the first
  ``resume_after`` tokens, drops the connection and resumes on B with ``GET /api/streams/{replyId}`` +
  ``Last-Event-ID``, so B serves the rest from Redis (blocking XREADs) while A generates.

Per-token delay = receive time - upstream send time; for A→B, of the tokens read live through B (those the
upstream sent before the resume request are the catch-up, counted apart). Added = minus the ``memory`` run.
CPU per token sums the replicas; ``redis-server``'s is given apart. ``redis-server`` is restarted for each
run (a clean keyspace and CPU count); without it installed the part is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

from bench.loadgen import build_request, fetch
from bench.procs import (
    CORE_LOAD,
    Processes,
    Server,
    cpu_seconds,
    machine_busy_seconds,
    pinned,
    run_loadgen,
    sched_seconds,
    start_rillchat,
)
from bench.relay import PROMPT, _children, relay_env, short, warm_up

__all__ = ["RUNS", "ReplicasConfig", "find_redis", "run_replicas"]

RUNS = ("memory", "redis", "redis-ab")
LABELS = {"memory": "1 replica, memory log", "redis": "1 replica, Redis log", "redis-ab": "2 replicas, A→B"}
REDIS_CANDIDATES = ("/usr/bin/redis-server", "/usr/local/bin/redis-server")
UNIQUE = "@" * 26  # replaced by the load generator with a per-stream clientRequestId of the same length


@dataclass
class ReplicasConfig:
    streams: list[int] = field(default_factory=lambda: [100, 500])
    """Concurrency levels; each gets the three runs. 100: below saturation, where added delay is the Redis
    round trip and not queueing; 500: the level the issue asks about."""
    tokens: int = 150
    rate: float = 20.0
    ramp: float = 1.0
    resume_after: int = 10
    """Tokens read from replica A before the client drops it and resumes on B."""
    redis_port: int = 17379
    """The first port tried for the throwaway redis-server (loopback, below the ephemeral range)."""
    max_output_tokens: int = 1000
    grace: float = 150.0


def find_redis() -> str | None:
    for path in (shutil.which("redis-server"), *REDIS_CANDIDATES):
        if path and shutil.which(path):
            return path
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_redis(procs: Processes, binary: str, first_port: int) -> Server:
    """A throwaway ``redis-server`` (no persistence) pinned to CORE_LOAD; returns once it answers PING."""
    port = next((p for p in range(first_port, first_port + 20) if _port_free(p)), None)
    if port is None:
        raise RuntimeError(f"no free port for redis-server in {first_port}-{first_port + 19}")
    log = procs.logdir / f"redis-{port}.log"
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    argv += ["--daemonize", "no", "--maxclients", "20000"]
    with open(log, "wb") as out:
        popen = procs.spawn(pinned(CORE_LOAD, argv), stdout=out)
    server = Server("redis", popen, port, log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and popen.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            if sock.recv(64).startswith(b"+PONG"):
                return server
        time.sleep(0.05)
    procs.stop(popen)
    raise RuntimeError(f"redis-server did not start:\n{server.log_tail(20)}")


def _request(port: int, cfg: ReplicasConfig, text: str = PROMPT, request_id: str = UNIQUE) -> bytes:
    body = {
        "userInput": text,
        "model": "fake-responses",
        "maxOutputTokens": cfg.max_output_tokens,
        "clientRequestId": request_id,
    }
    return build_request(port, "/api/chat/stream", body, {"Accept": "text/event-stream"})


async def _warm_resume(a: Server, b: Server, cfg: ReplicasConfig, count: int = 5) -> None:
    """A few short replies on A read again from B: B's Redis connections and code paths are warm."""
    for i in range(count):
        got = await fetch(a.port, _request(a.port, cfg, short(3), f"warm-{time.time_ns()}-{i}"), limit=30)
        if got.status != 200 or not got.complete:
            raise RuntimeError(f"warm-up on {a.name} failed: {got.status}\n{a.log_tail()}")
        reply_id = got.body.split(b'"replyId":"', 1)[1].split(b'"', 1)[0].decode()
        headers = {"Accept": "text/event-stream", "Last-Event-ID": "1"}
        again = await fetch(b.port, build_request(b.port, f"/api/streams/{reply_id}", {}, headers, method="GET"))
        if again.status != 200 or not again.complete or b"event: finish" not in again.body:
            raise RuntimeError(f"resume warm-up on {b.name} failed: {again.status}\n{b.log_tail()}")


def _pct(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


def one_run(
    procs: Processes,
    fake: Server,
    redis_bin: str,
    run: str,
    streams: int,
    cfg: ReplicasConfig,
    variant: str = "after",
) -> dict[str, Any]:
    redis: Server | None = None
    servers: list[Server] = []
    try:
        db = procs.logdir / f"{run}-{streams}.db"  # shared by A and B (stateless replies are not stored)
        env = {**relay_env(fake), "RILLCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{db}"}
        if run != "memory":
            redis = start_redis(procs, redis_bin, cfg.redis_port)
            env["RILLCHAT_REDIS_URL"] = f"redis://127.0.0.1:{redis.port}/0"
        for name in ("A", "B") if run == "redis-ab" else ("A",):
            servers.append(
                start_rillchat(procs, env=env, name=f"rillchat-{run}-{streams}-{name}-{variant}", variant=variant)
            )
        for server in servers:
            warm_up(server, "responses", "sse")
        if len(servers) == 2:
            asyncio.run(_warm_resume(servers[0], servers[1], cfg))
        a = servers[0]
        spec: dict[str, Any] = {
            "port": a.port,
            "request": _request(a.port, cfg).decode("latin-1"),
            "pattern": "sse",
            "streams": streams,
            "expected_tokens": cfg.tokens,
            "rate": cfg.rate,
            "ramp": cfg.ramp,
            "deadline": cfg.ramp + cfg.tokens / cfg.rate + cfg.grace,
            "unique": UNIQUE,
        }
        if len(servers) == 2:
            spec.update(resume_port=servers[1].port, resume_after=cfg.resume_after)
        rills = [s.process() for s in servers]
        others = [fake.process(), *([redis.process()] if redis else [])]
        time.sleep(0.5)

        watched = [*rills, *others]
        cpu0, sched0 = [cpu_seconds(p) for p in watched], [sched_seconds(p) for p in watched]
        totals0 = (machine_busy_seconds(), time.process_time(), _children(), time.monotonic())
        timeout = cfg.ramp + cfg.tokens / cfg.rate + cfg.grace + 60.0
        result = run_loadgen(procs, spec, timeout=timeout)
        cpu = [cpu_seconds(p) - x for p, x in zip(watched, cpu0, strict=True)]
        sched = [(r1 - r0, w1 - w0) for (r1, w1), (r0, w0) in zip(map(sched_seconds, watched), sched0, strict=True)]
        totals1 = (machine_busy_seconds(), time.process_time(), _children(), time.monotonic())
        busy, own, children, span = (x1 - x0 for x1, x0 in zip(totals1, totals0, strict=True))
        n = len(rills)
        rill_cpu = sum(cpu[:n])
        fake_cpu = cpu[n]
        redis_cpu = cpu[n + 1] if redis else 0.0
        tokens = result["tokens"]
        wall = result["wall_s"]
        client_cpu = result["client_cpu_s"]

        def per_token(seconds: float) -> float | None:
            return 1e6 * seconds / tokens if tokens else None

        row: dict[str, Any] = {
            "run": run,
            "variant": variant,
            "label": LABELS[run] + ("" if len(procs.variants) == 1 else f" ({variant})"),
            "replicas": n,
            "redis": redis is not None,
            "concurrency": streams,
            "ok": result["ok"],
            "failed": result["failed"],
            "errors": result["errors"],
            "error_samples": result.get("error_samples") or {},
            "tokens": tokens,
            "tokens_expected": result["tokens_expected"],
            "delay_ms": result["delay_ms"],
            "ttfb_ms": result["ttfb_ms"],
            "window": result["window"],
            "wall_s": wall,
            "rillchat_cpu_s": rill_cpu,
            "rillchat_cpu_s_each": cpu[:n],
            "redis_cpu_s": redis_cpu if redis else None,
            "fake_cpu_s": fake_cpu,
            "client_cpu_s": client_cpu,
            "cpu_us_per_token": per_token(rill_cpu),
            "cpu_us_per_token_each": [per_token(c) for c in cpu[:n]],
            "redis_us_per_token": per_token(redis_cpu) if redis else None,
            # Core 0 (the replicas): share of the run on the CPU, and runnable but waiting for it.
            "core0_cpu_pct": _pct(sum(r for r, _ in sched[:n]), span),
            "core0_wait_pct": _pct(sum(w for _, w in sched[:n]), span),
            "redis_wait_pct": _pct(sched[n + 1][1], span) if redis else None,
            "core1_load_pct": _pct(fake_cpu + redis_cpu + client_cpu + own, wall),
            "other_cores": max(busy - rill_cpu - fake_cpu - redis_cpu - children - own, 0.0) / span,
        }
        for key in ("resumed", "delay_first_ms", "catchup_ms", "resume_head_ms"):
            if key in result:
                row[key] = result[key]
        # What one core could carry at this rate if this CPU cost per token held: an extrapolation from the
        # measured cost, not a measured maximum.
        us = row["cpu_us_per_token"]
        with_redis = us + (row["redis_us_per_token"] or 0.0) if us is not None else None
        row["streams_per_core"] = 1e6 / (us * cfg.rate) if us and cfg.rate else None
        row["streams_per_core_with_redis"] = 1e6 / (with_redis * cfg.rate) if with_redis and cfg.rate else None
        if "stderr" in result:
            row["loadgen_stderr"] = result["stderr"]
        return row
    finally:
        for server in reversed(servers):
            procs.stop(server.popen)
        if redis is not None:
            procs.stop(redis.popen)


def _added(row: dict[str, Any], base: dict[str, Any] | None) -> None:
    if base is None or row is base:
        return
    for key, src in (("delay", "delay_ms"), ("ttfb", "ttfb_ms")):
        mine, theirs = row.get(src), base.get(src)
        if mine and theirs:
            row[f"added_{key}_ms"] = {p: mine[p] - theirs[p] for p in ("p50", "p90", "p99")}


def run_replicas(procs: Processes, fake: Server, cfg: ReplicasConfig, log: Any = print) -> dict[str, Any]:
    out: dict[str, Any] = {"config": dict(vars(cfg)), "runs": []}
    redis_bin = find_redis()
    if redis_bin is None:
        out["skipped"] = "redis-server is not installed (apt-get install redis-server): the replicas part is skipped"
        log(f"  [yellow]{out['skipped']}[/]")
        return out
    out["redis_server"] = redis_bin
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out["redis_version"] = subprocess.run([redis_bin, "--version"], capture_output=True, text=True).stdout.strip()
    for streams in cfg.streams:
        base: dict[str, dict[str, Any]] = {}
        for run in RUNS:
            for variant in procs.variants:  # alternating: both versions meet the same machine load
                started = time.monotonic()
                row = one_run(procs, fake, redis_bin, run, streams, cfg, variant)
                if run == "memory":
                    base[variant] = row
                _added(row, base.get(variant))
                out["runs"].append(row)
                log(_progress(row, time.monotonic() - started))
    return out


def _progress(row: dict[str, Any], took: float) -> str:
    d = row.get("delay_ms") or {}
    w = row.get("window") or {}
    cpu = row.get("cpu_us_per_token")
    redis = row.get("redis_us_per_token")
    samples = "".join(f"\n      {k}: {v}" for k, v in (row.get("error_samples") or {}).items())
    return (
        f"  replicas {row['label']:<31} c={row['concurrency']:<5} ok={row['ok']:<5} failed={row['failed']:<4} "
        f"p50={d.get('p50', float('nan')):7.2f}ms p99={d.get('p99', float('nan')):8.2f}ms "
        f"rate={w.get('pct', float('nan')):6.1f}% cpu/token={'-' if cpu is None else f'{cpu:.1f}us'} "
        f"redis/token={'-' if redis is None else f'{redis:.1f}us'} core1={row['core1_load_pct']:.0f}% "
        f"other={row['other_cores']:.2f} cores ({took:.0f}s){samples}"
    )
