"""Part CHECKPOINT: the cost of crash-safe partial text at N concurrent conversation replies.

Every stream is a reply in its own conversation (so it is stored and, with checkpointing on, its partial
text is written about once a second, batched across replies in one transaction per tick). Each run starts
a fresh rillchat (SQLite, as by default) with ``RILLCHAT_CHECKPOINT_INTERVAL_SECONDS`` at 0 (off) or the
interval measured, creates N conversations, then relays N SSE streams of T tokens at R tokens/s through it.
Reported per run: rillchat's CPU per token, the checkpoint transactions and rows written per second
(from ``/metrics``), every stream whole or not; the difference between the two runs is the cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.loadgen import build_request
from bench.procs import Processes, Server, cpu_seconds, run_loadgen, start_rillchat
from bench.relay import PROMPT, relay_env

__all__ = ["CheckpointConfig", "run_checkpoint"]

_MARKER = "conv_" + "X" * 22  # as long as a conversation id, replaced by one per stream


@dataclass
class CheckpointConfig:
    streams: list[int] = field(default_factory=lambda: [1000])
    intervals: list[float] = field(default_factory=lambda: [0.0, 1.0])
    """Checkpoint intervals to compare; 0 is off."""
    tokens: int = 150
    rate: float = 20.0
    ramp: float = 1.0
    grace: float = 120.0


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def _conversations(server: Server, count: int) -> list[str]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        ids = [client.post("/api/conversations", json={}).json()["id"] for _ in range(count)]
    if any(len(i) != len(_MARKER) for i in ids):
        raise RuntimeError("conversation ids changed length: the bench's marker must follow")
    return ids


def one_run(procs: Processes, fake: Server, streams: int, interval: float, cfg: CheckpointConfig) -> dict[str, Any]:
    env = {**relay_env(fake), "RILLCHAT_CHECKPOINT_INTERVAL_SECONDS": str(interval)}
    server = start_rillchat(procs, env=env, name=f"checkpoint-{interval:g}")
    try:
        conversations = _conversations(server, streams)
        body = {"userInput": PROMPT, "model": "fake-responses", "conversationId": _MARKER}
        request = build_request(server.port, "/api/chat/stream", body, {"Accept": "text/event-stream"})
        spec = {
            "port": server.port,
            "request": request.decode("latin-1"),
            "pattern": "sse",
            "streams": streams,
            "expected_tokens": cfg.tokens,
            "rate": cfg.rate,
            "ramp": cfg.ramp,
            "deadline": cfg.ramp + cfg.tokens / cfg.rate + cfg.grace,
            "unique": _MARKER,
            "values": conversations,
        }
        rill = server.process()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            cpu0, t0 = cpu_seconds(rill), time.monotonic()
            result = run_loadgen(procs, spec, timeout=spec["deadline"] + 60)
            cpu, span = cpu_seconds(rill) - cpu0, time.monotonic() - t0
            metrics = client.get("/metrics").text
        transactions = _metric(metrics, "rillchat_checkpoint_transactions")
        rows = _metric(metrics, "rillchat_checkpoint_rows")
        tokens = result["tokens"]
        return {
            "streams": streams,
            "interval_s": interval,
            "ok": result["ok"],
            "failed": result["failed"],
            "errors": result["errors"],
            "error_samples": result.get("error_samples") or {},
            "tokens": tokens,
            "wall_s": span,
            "rillchat_cpu_s": cpu,
            "cpu_us_per_token": 1e6 * cpu / tokens if tokens else None,
            "checkpoint_transactions": transactions,
            "checkpoint_rows": rows,
            "transactions_per_s": transactions / span if span else None,
            "rows_per_s": rows / span if span else None,
            "rows_per_transaction": rows / transactions if transactions else None,
            "delay_ms": result.get("delay_ms"),
        }
    finally:
        procs.stop(server.popen)


def run_checkpoint(procs: Processes, fake: Server, cfg: CheckpointConfig, log: Any = print) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for streams in cfg.streams:
        for interval in cfg.intervals:
            row = one_run(procs, fake, streams, interval, cfg)
            rows.append(row)
            cpu = row["cpu_us_per_token"]
            p99 = (row.get("delay_ms") or {}).get("p99", float("nan"))
            log(
                f"  checkpoint c={streams:<5} interval={'off' if not interval else f'{interval:g}s':<5} "
                f"ok={row['ok']:<5} failed={row['failed']:<4} cpu/token={'-' if cpu is None else f'{cpu:.1f}us'} "
                f"tx/s={row['transactions_per_s'] or 0:.2f} rows/s={row['rows_per_s'] or 0:.0f} "
                f"rows/tx={row['rows_per_transaction'] or 0:.0f} p99={p99:.1f}ms"
            )
    return rows
