"""A reply being generated here (one of the three kinds of ``Reply``, see ``reply.py``): a task that pulls
events from a provider and appends them to its event log.

::

    start ──open()──> opened ──events──> finish(completed | incomplete)          stored as is
      │                  │
      │ open failed      ├── in-band error / broken upstream ──> error, finish(failed)
      └──> error,        ├── stop()        ──> upstream closed, finish(stopped)
           finish(failed)├── interrupt()   ──> upstream closed, finish(interrupted)   (nobody left / shutdown)
                         └── bug           ──> error(internal_error), finish(failed)  (logged, not shown)

Whatever happens, the log ends with exactly one ``finish`` and is closed, and ``on_finish`` runs once with
the outcome, even when no client is connected any more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from rillchat.errors import RillchatError, UpstreamTimeout
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, Queued, Reasoning, ReplyStatus, Start, Usage
from rillchat.providers.base import GenerationRequest, Provider, ProviderStream
from rillchat.streams.eventlog import EventLog

__all__ = ["Generation", "Outcome"]

logger = logging.getLogger("rillchat.generation")


@dataclass(slots=True)
class Outcome:
    status: ReplyStatus
    reason: FinishReason
    text: str
    usage: Usage | None = None
    error: ErrorEvent | None = None
    open_error: RillchatError | None = None
    reasoning: str = ""
    reasoning_seconds: float | None = None


@dataclass(slots=True)
class Timing:
    created: float = field(default_factory=time.monotonic)
    opened: float | None = None
    queued: float | None = None
    first_token: float | None = None
    first_reasoning: float | None = None
    reasoning_done: float | None = None  # when the answer began after the reasoning (or the reply ended)
    finished: float | None = None

    def reasoning_seconds(self) -> float | None:
        if self.first_reasoning is None:
            return None
        end = self.reasoning_done if self.reasoning_done is not None else time.monotonic()
        return round(end - self.first_reasoning, 1)


class Generation:
    local = True
    from_storage = False

    def __init__(
        self,
        start: Start,
        provider: Provider,
        request: GenerationRequest,
        log: EventLog,
        on_finish: Callable[[Generation, Outcome], Awaitable[None]] | None = None,
        owner: str | None = None,
        *,
        stall_timeout: float = 0.0,
        total_timeout: float = 0.0,
    ) -> None:
        self.start_event = start
        self.owner = owner
        self.stall_timeout = stall_timeout
        self.total_timeout = total_timeout
        self.id = start.reply_id
        self.provider = provider
        self.request = request
        self.log = log
        self.on_finish = on_finish
        self.timing = Timing()
        self.outcome: Outcome | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parts: list[str] = []
        self._thoughts: list[str] = []
        self._cancel_status: ReplyStatus | None = None
        self._cancel_reason = FinishReason.CANCELLED
        self._cancel_error: ErrorEvent | None = None
        self._last_event_at = 0.0
        self._waiting_in_line = False
        self._timers: list[asyncio.TimerHandle] = []
        self._task: asyncio.Task[None] | None = None
        self._concluding = False

    @property
    def delta_count(self) -> int:
        return len(self._parts)

    @property
    def progress(self) -> int:
        """Pieces of text and reasoning received so far: what a checkpoint compares to see a change."""
        return len(self._parts) + len(self._thoughts)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    @property
    def reasoning(self) -> str:
        return "".join(self._thoughts)

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def begin(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._run(), name=f"generation-{self.id}")
        return self._task

    def stop(self) -> None:
        """A client asked to stop: the model is stopped and the partial reply kept as ``stopped``."""
        self._cancel(ReplyStatus.STOPPED)

    def interrupt(self) -> None:
        """Nobody is listening any more, or the server is going away: kept as ``interrupted``."""
        self._cancel(ReplyStatus.INTERRUPTED)

    def _cancel(
        self, status: ReplyStatus, reason: FinishReason = FinishReason.CANCELLED, error: ErrorEvent | None = None
    ) -> None:
        if self._task is None or self._task.done() or self._cancel_status is not None or self._concluding:
            return
        self._cancel_status = status
        self._cancel_reason = reason
        self._cancel_error = error
        self._task.cancel()

    def _arm_total_watchdog(self) -> None:
        """Armed before ``provider.open()``: the reply's time cap covers opening it (a silent upstream)."""
        if self.total_timeout > 0:
            self._timers.append(asyncio.get_running_loop().call_later(self.total_timeout, self._time_is_up))

    def _arm_stall_watchdog(self) -> None:
        """Armed once the stream is open: opening may rightly take long (loading the embedded model, the
        SDK's retries); each attempt at an upstream is bounded by its ``timeout_seconds`` instead."""
        self._last_event_at = time.monotonic()
        if self.stall_timeout > 0:
            self._timers.append(asyncio.get_running_loop().call_later(self.stall_timeout, self._check_stall))

    def _check_stall(self) -> None:
        """One timer per stall period, not one per token: the hot path only stamps the time."""
        if self.done:
            return
        idle = time.monotonic() - self._last_event_at
        if idle >= self.stall_timeout and not self._waiting_in_line:
            message = f"the model sent nothing for {self.stall_timeout:g}s"
            self._cancel(ReplyStatus.FAILED, FinishReason.STALLED, ErrorEvent("stalled", message))
            return
        wait = self.stall_timeout - idle if idle < self.stall_timeout else self.stall_timeout
        self._timers.append(asyncio.get_running_loop().call_later(wait, self._check_stall))

    def _time_is_up(self) -> None:
        message = f"the reply took longer than {self.total_timeout:g}s"
        self._cancel(ReplyStatus.FAILED, FinishReason.TIMEOUT, ErrorEvent("timeout", message))

    async def wait(self) -> None:
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        await self.log.append(self.start_event)
        stream: ProviderStream | None = None
        finish: Finish | None = None
        error: ErrorEvent | None = None  # what went wrong, if anything
        unlogged_error: ErrorEvent | None = None  # ... when the provider did not put it in the log itself
        open_error: RillchatError | None = None
        try:
            self._arm_total_watchdog()
            try:
                stream = await self.provider.open(self.request)
            except RillchatError as exc:
                open_error = exc
                raise
            self.timing.opened = time.monotonic()
            self.opened.set_result(None)
            self._arm_stall_watchdog()
            parts = self._parts
            thoughts = self._thoughts
            timing = self.timing
            append = self.log.append
            async for event in stream:
                self._last_event_at = time.monotonic()
                if type(event) is Delta:
                    if not parts:
                        timing.first_token = self._last_event_at
                        self._waiting_in_line = False
                        if timing.first_reasoning is not None and timing.reasoning_done is None:
                            timing.reasoning_done = self._last_event_at
                    parts.append(event.text)
                elif type(event) is Reasoning:
                    if not thoughts:
                        timing.first_reasoning = self._last_event_at
                        self._waiting_in_line = False
                    thoughts.append(event.text)
                elif type(event) is Finish:
                    finish = event
                    break
                elif type(event) is ErrorEvent:
                    error = event
                elif type(event) is Queued:
                    self._waiting_in_line = True
                    if self.timing.queued is None:
                        self.timing.queued = time.monotonic()
                await append(event)
        except asyncio.CancelledError:
            if self._task is not None:
                self._task.uncancel()
            status = self._cancel_status or ReplyStatus.INTERRUPTED
            finish = Finish(status, self._cancel_reason, self._estimated_usage())
            if self._cancel_error is not None:
                error = unlogged_error = self._cancel_error
            if self._cancel_reason is FinishReason.TIMEOUT and not self.opened.done():
                # Out of time before the upstream answered: a 504 before the stream, as for its own timeout.
                open_error = UpstreamTimeout(f"the model did not answer within {self.total_timeout:g}s")
                error = unlogged_error = ErrorEvent(open_error.code, open_error.message)
        except RillchatError as exc:
            error = unlogged_error = ErrorEvent(exc.code, exc.message)
            finish = Finish(ReplyStatus.FAILED, FinishReason.ERROR, self._estimated_usage())
        except Exception:
            logger.exception("generation %s failed", self.id)
            error = unlogged_error = ErrorEvent("internal_error", "the reply failed because of an internal error")
            finish = Finish(ReplyStatus.FAILED, FinishReason.ERROR, self._estimated_usage())
        finally:
            for timer in self._timers:
                timer.cancel()
            if stream is not None:
                await _close_quietly(stream)
        if finish is None:  # the provider broke its contract: ended without a finish
            error = unlogged_error = ErrorEvent("upstream_incomplete", "the model ended the reply unfinished")
            finish = Finish(ReplyStatus.FAILED, FinishReason.ERROR, self._estimated_usage())
        self._concluding = True  # from here on a stop or interrupt must not cut the final write short
        await self._conclude(finish, error, unlogged_error, open_error)

    async def _conclude(
        self,
        finish: Finish,
        error: ErrorEvent | None,
        unlogged_error: ErrorEvent | None,
        open_error: RillchatError | None,
    ) -> None:
        if unlogged_error is not None:
            await self.log.append(unlogged_error)
        if self.timing.first_reasoning is not None and self.timing.reasoning_done is None:
            self.timing.reasoning_done = time.monotonic()  # it thought until the end
        reasoning_seconds = self.timing.reasoning_seconds()
        if reasoning_seconds is not None and finish.reasoning_seconds is None:
            finish = Finish(finish.status, finish.reason, finish.usage, reasoning_seconds)
        self.outcome = Outcome(
            finish.status,
            finish.reason,
            self.text,
            finish.usage,
            error,
            open_error,
            self.reasoning,
            finish.reasoning_seconds,
        )
        # Stored before the terminal event goes out (``finish``, or the error answer of a reply that never
        # opened): a client that has seen it finds the message final and may send its next turn at once.
        if self.on_finish is not None:
            try:
                await self.on_finish(self, self.outcome)
            except Exception:
                logger.exception("storing the outcome of reply %s failed", self.id)
        if not self.opened.done():
            if open_error is not None:
                self.opened.set_exception(open_error)
                # Readers that never attached must not leave "exception never retrieved" behind.
                self.opened.exception()
            else:
                self.opened.set_result(None)
        await self.log.append(finish)
        self.timing.finished = time.monotonic()
        await self.log.close()
        self._release()

    def _release(self) -> None:
        """The hub keeps a finished reply's outcome and compacted log for the TTL (``FinishedReply``) and
        drops this generation, so the outcome's texts are made the log's own: one copy of each is held."""
        assert self.outcome is not None
        text_of = getattr(self.log, "text_of", None)
        if text_of is None:
            return
        joined = text_of(Delta)
        if joined is not None and joined == self.outcome.text:
            self.outcome.text = joined
        thoughts = text_of(Reasoning)
        if thoughts is not None and thoughts == self.outcome.reasoning:
            self.outcome.reasoning = thoughts

    def _estimated_usage(self) -> Usage | None:
        """When the provider could not report usage (cut off), count what we received."""
        received = len(self._parts) + len(self._thoughts)
        if not received:
            return None
        return Usage(None, received, len(self._thoughts) if self._thoughts else None)


async def _close_quietly(stream: ProviderStream) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception:
        logger.debug("closing a provider stream failed", exc_info=True)
