"""Prometheus metrics, health and readiness, and one summary log line per reply (never one per token).

Per-reply figures are taken when a reply ends, from timestamps the generation keeps anyway, so the hot
path pays nothing for them. The inter-token histogram holds each reply's mean gap between tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import text

from rillchat.api.runtime import GcPauseMonitor, LoopLagMonitor
from rillchat.streams.checkpoint import Checkpointer
from rillchat.streams.generation import Generation
from rillchat.streams.hub import Hub

__all__ = ["Metrics", "router"]

logger = logging.getLogger("rillchat.replies")

_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_GAP = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
_LAG = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1)


class Metrics:
    def __init__(
        self,
        hub: Hub,
        local_queue_length: Callable[[], int] | None,
        *,
        log_content: bool = False,
        checkpointer: Checkpointer | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self.log_content = log_content
        r = self.registry
        self.active = Gauge("rillchat_active_replies", "Replies being generated now.", registry=r)
        self.active.set_function(lambda: len(hub.running))
        self.followers = Gauge("rillchat_live_replies", "Replies whose events are held in memory.", registry=r)
        self.followers.set_function(lambda: len(hub))
        self.started = Counter("rillchat_replies_started", "Replies started.", ["model"], registry=r)
        self.finished = Counter("rillchat_replies_finished", "Replies ended, by status.", ["status"], registry=r)
        self.errors = Counter("rillchat_reply_errors", "Errors that ended replies, by code.", ["code"], registry=r)
        self.tokens = Counter("rillchat_tokens_relayed", "Text deltas relayed.", ["model"], registry=r)
        self.ttft = Histogram(
            "rillchat_time_to_first_token_seconds", "Reply start to first token.", buckets=_LATENCY, registry=r
        )
        self.gap = Histogram(
            "rillchat_inter_token_seconds", "Mean gap between tokens, one sample per reply.", buckets=_GAP, registry=r
        )
        self.queue_wait = Histogram(
            "rillchat_local_queue_wait_seconds",
            "Time replies waited for the embedded model.",
            buckets=_LATENCY,
            registry=r,
        )
        self.queue = Gauge(
            "rillchat_local_queue_length", "Replies holding or waiting for the embedded model.", registry=r
        )
        if local_queue_length is not None:
            self.queue.set_function(local_queue_length)
        self.loop_lag = Histogram(
            "rillchat_event_loop_lag_seconds",
            "How late the event loop ran a timer asked for every 20 ms (a stall shows as a late timer).",
            buckets=_LAG,
            registry=r,
        )
        self.loop_lag_monitor = LoopLagMonitor(self.loop_lag.observe)
        self.loop_lag_max = Gauge(
            "rillchat_event_loop_lag_max_seconds", "The largest event-loop lag seen since start.", registry=r
        )
        self.loop_lag_max.set_function(lambda: self.loop_lag_monitor.max_lag)
        gc_pause = Histogram(
            "rillchat_gc_pause_seconds",
            "How long each run of the cyclic garbage collector held the process, by generation collected.",
            ["generation"],
            buckets=_LAG,
            registry=r,
        )
        by_generation = [gc_pause.labels(str(generation)) for generation in range(3)]
        self.gc_pause_monitor = GcPauseMonitor(lambda generation, seconds: by_generation[generation].observe(seconds))
        if checkpointer is not None:
            # Read from the checkpointer's own tallies: nothing per tick or per reply is added for metrics.
            transactions = Gauge(
                "rillchat_checkpoint_transactions",
                "Checkpoint transactions written so far (one per tick with a changed reply).",
                registry=r,
            )
            transactions.set_function(lambda: checkpointer.ticks_written)
            rows = Gauge("rillchat_checkpoint_rows", "Partial texts written by checkpoints so far.", registry=r)
            rows.set_function(lambda: checkpointer.rows_written)

    def reply_started(self, generation: Generation) -> None:
        self.started.labels(generation.start_event.model).inc()
        user_input = generation.request.messages[-1].content if self.log_content and generation.request.messages else ""
        task = generation.task
        if task is not None:
            task.add_done_callback(lambda _: self.reply_ended(generation, user_input))

    def reply_ended(self, generation: Generation, user_input: str = "") -> None:
        outcome = generation.outcome
        if outcome is None:
            return
        timing = generation.timing
        model = generation.start_event.model
        deltas = generation.delta_count
        self.finished.labels(outcome.status.value).inc()
        self.tokens.labels(model).inc(deltas)
        if outcome.error is not None:
            self.errors.labels(outcome.error.code).inc()
        if timing.first_token is not None:
            self.ttft.observe(timing.first_token - timing.created)
            if timing.finished is not None and deltas > 1:
                self.gap.observe((timing.finished - timing.first_token) / (deltas - 1))
            if timing.queued is not None:
                self.queue_wait.observe(timing.first_token - timing.queued)
        extra = ""
        if self.log_content:
            extra = f" input={user_input!r} reply={outcome.text!r}"
        logger.info(
            "reply %s model=%s status=%s reason=%s tokens=%d ttft=%s%s",
            generation.id,
            model,
            outcome.status.value,
            outcome.reason.value,
            deltas,
            f"{timing.first_token - timing.created:.3f}s" if timing.first_token else "-",
            extra,
        )


router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    """Ready for traffic: the database answers and shutdown has not begun."""
    services = getattr(request.app.state, "services", None)
    if services is None or getattr(request.app.state, "shutting_down", False):
        return Response(b'{"status":"unavailable"}', 503, media_type="application/json")
    try:
        async with services.database.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:
        logger.warning("readiness check: database unavailable", exc_info=True)
        return Response(b'{"status":"database unavailable"}', 503, media_type="application/json")
    return Response(b'{"status":"ready"}', media_type="application/json")
