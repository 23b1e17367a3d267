"""Part 3, RESUME: re-attaching to a finished reply's event log, and what the log holds in memory.

Over HTTP: one stateless SSE reply of 2,000 deltas from the fake upstream (as fast as it can), then
``GET /api/streams/{replyId}`` with ``Last-Event-ID: 0`` repeatedly: time to first byte and time to read all
events. In process: ``MemoryEventLog`` filled with a Start, 2,000 Delta and a Finish, measured with tracemalloc.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.loadgen import build_request, fetch
from bench.procs import Processes, Server, start_rillchat
from bench.relay import relay_env

__all__ = ["ResumeConfig", "run_resume"]


@dataclass
class ResumeConfig:
    events: int = 2000
    repeats: int = 20
    memory_replies: int = 50
    held_replies: int = 300
    held_tokens: int = 150


async def _http(server: Server, cfg: ResumeConfig) -> dict[str, Any]:
    body = {
        "userInput": f"[[fake tokens={cfg.events} rate=0 embed_timestamp=false]] go",
        "model": "fake-responses",
        "maxOutputTokens": cfg.events,
    }
    got = await fetch(
        server.port, build_request(server.port, "/api/chat/stream", body, {"Accept": "text/event-stream"})
    )
    if got.status != 200 or not got.complete:
        raise RuntimeError(f"the 2,000-event reply failed: {got.status}\n{server.log_tail()}")
    start = got.body.split(b"\n\n", 1)[0]
    reply_id = start.split(b'"replyId":"', 1)[1].split(b'"', 1)[0].decode()
    expected = got.body.count(b"\nevent: ")
    request = build_request(server.port, f"/api/streams/{reply_id}", {}, {"Last-Event-ID": "0"}, method="GET")
    ttfb, total = [], []
    for i in range(cfg.repeats + 1):
        again = await fetch(server.port, request)
        events = again.body.count(b"\nevent: ")
        if again.status != 200 or not again.complete or events != expected:
            raise RuntimeError(f"resume {i} failed: status {again.status}, {events}/{expected} events")
        if i == 0:
            continue  # warm-up
        assert again.t_first_byte is not None and again.t_end is not None
        ttfb.append((again.t_first_byte - again.t_sent) * 1000)
        total.append((again.t_end - again.t_sent) * 1000)
    return {
        "reply_id": reply_id,
        "events": expected,
        "bytes": len(got.body),
        "ttfb_ms": _stats(ttfb),
        "read_all_ms": _stats(total),
    }


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p95": float(np.percentile(values, 95)),
        "min": min(values),
        "max": max(values),
    }


def _memory(cfg: ResumeConfig) -> dict[str, Any]:
    """Bytes a finished reply's log holds: entries, events, their text and both encodings."""
    from rillchat.events import Delta, Finish, FinishReason, ReplyStatus, Start, Usage
    from rillchat.streams.eventlog import MemoryEventLog

    twelve = 12

    async def fill() -> list[MemoryEventLog]:
        logs = []
        for r in range(cfg.memory_replies):
            log = MemoryEventLog()
            await log.append(Start(reply_id=f"rep_{r:026x}", model="fake-responses"))
            for _ in range(cfg.events):
                # A fresh str each time, as decoded off the wire (not one constant folded by the compiler).
                await log.append(Delta(f"tok{twelve} "))
            await log.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(12, cfg.events)))
            await log.close()
            logs.append(log)
        return logs

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        logs = asyncio.run(fill())
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    per_reply = held / len(logs)
    events = cfg.events + 2
    return {
        "replies": len(logs),
        "events_per_reply": events,
        "kb_per_reply": per_reply / 1024,
        "bytes_per_event": per_reply / events,
    }


def _held(fake: Server, cfg: ResumeConfig) -> dict[str, Any]:
    """What the server keeps of each finished reply while the event-log TTL keeps it resumable: rillchat in
    this process (in a thread, as ``rillchat chat --embedded`` runs it), replies from the fake one after
    another, then the memory (tracemalloc) and the objects the cyclic collector tracks that stayed, per reply,
    beyond the reply's text itself."""
    import os
    import sys
    import tempfile
    from unittest import mock

    from rillchat.api.app import create_app
    from rillchat.api.threaded import serve_in_thread
    from rillchat.config import Settings

    scratch = tempfile.TemporaryDirectory(prefix="rillchat-held-")
    env = {**relay_env(fake), "RILLCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{scratch.name}/rillchat.db"}
    with mock.patch.dict(os.environ, env):  # read as the server process would read them
        settings = Settings(local_model_preload=False, event_log_ttl_seconds=3600)
    body = {"userInput": f"[[fake tokens={cfg.held_tokens} rate=0]] go", "model": "fake-responses"}

    async def replies(port: int, count: int) -> int:
        text = 0
        for _ in range(count):
            got = await fetch(port, build_request(port, "/api/chat/stream", body, {}))
            if got.status != 200 or not got.complete:
                raise RuntimeError(f"a reply failed: {got.status}")
            text += len(got.body)
        return text

    with serve_in_thread(create_app(settings), name="rillchat-held") as url:
        port = int(url.rsplit(":", 1)[1])
        asyncio.run(replies(port, 20))  # warm: pools, caches, first-use imports
        gc.collect()
        objects = len(gc.get_objects())
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            text = asyncio.run(replies(port, cfg.held_replies))
            gc.collect()
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        tracked = len(gc.get_objects()) - objects
    scratch.cleanup()
    per_reply = held / cfg.held_replies
    text_per_reply = text / cfg.held_replies + sys.getsizeof("")  # an ASCII str: its characters and a header
    return {
        "replies": cfg.held_replies,
        "tokens": cfg.held_tokens,
        "bytes_per_reply": per_reply,
        "text_bytes_per_reply": text_per_reply,
        "beyond_text_bytes": per_reply - text_per_reply,
        "tracked_objects_per_reply": tracked / cfg.held_replies,
    }


def run_resume(procs: Processes, fake: Server, cfg: ResumeConfig) -> dict[str, Any]:
    server = start_rillchat(procs, env=relay_env(fake), name="rillchat-resume")
    try:
        http = asyncio.run(_http(server, cfg))
    finally:
        procs.stop(server.popen)
    return {
        "config": {"events": cfg.events, "repeats": cfg.repeats},
        "http": http,
        "memory": _memory(cfg),
        "held": _held(fake, cfg),
    }
