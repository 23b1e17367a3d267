"""A finished reply's log is compacted; resuming it from any position must send exactly the bytes that a
reader following it live from that position received, in SSE and in plain text, whatever kinds of events
it holds (text kinds joined per kind, the others kept)."""

from __future__ import annotations

import asyncio
import dataclasses
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rillchat.events import Delta, ErrorEvent, Event, Finish, FinishReason, Queued, ReplyStatus, Start, Usage
from rillchat.streams import eventlog
from rillchat.streams.eventlog import TEXT_KINDS, MemoryEventLog


@dataclasses.dataclass(frozen=True, slots=True)
class Thought:
    """A text kind this codebase may not have yet (like a model's reasoning): compaction must not care."""

    text: str

    name = "thought"

    def to_wire(self) -> dict[str, Any]:
        return {"text": self.text}


@contextmanager
def with_thoughts() -> Iterator[None]:
    """Make ``Thought`` one of the compacted text kinds for the duration, as a new ``Event`` member would."""
    kinds, codes = eventlog.TEXT_KINDS, eventlog._KIND_CODE
    eventlog.TEXT_KINDS = (*kinds, Thought)
    eventlog._KIND_CODE = {cls: code for code, cls in enumerate(eventlog.TEXT_KINDS, start=1)}
    try:
        yield
    finally:
        eventlog.TEXT_KINDS, eventlog._KIND_CODE = kinds, codes


def _start() -> Start:
    return Start("rep_0123456789abcdef", "fake-responses", "conv_1", "msg_u", "msg_a")


def _finish(status: ReplyStatus = ReplyStatus.COMPLETED) -> Finish:
    return Finish(status, FinishReason.STOP if status is ReplyStatus.COMPLETED else FinishReason.ERROR, Usage(3, 9))


MIXED_TEXTS = ["Hello", " wörld", " 🌊 rivers", "", ' "quoted"\nnew line', "x" * 300, " ∑ é ñ 中文", "\u2028end"]


def scenarios() -> dict[str, list[Any]]:
    deltas = [Delta(t) for t in MIXED_TEXTS]
    kinds = [cls(f"{cls.__name__.lower()} {i} ") for cls in TEXT_KINDS for i in range(3)]
    return {
        "completed": [_start(), *deltas, _finish()],
        "queued, then text": [_start(), Queued(2), Queued(1), *deltas, _finish()],
        "failed mid-reply": [
            _start(),
            *deltas[:3],
            ErrorEvent("upstream_error", "the model failed"),
            _finish(ReplyStatus.FAILED),
        ],
        "no text at all": [_start(), ErrorEvent("upstream_error", "no"), _finish(ReplyStatus.FAILED)],
        "every text kind": [_start(), *kinds, *deltas, _finish()],
        "thoughts, then text": [_start(), *[Thought(f"step {i}… ") for i in range(5)], *deltas, _finish()],
        "interleaved kinds": [_start(), Thought("a"), Delta("b"), Thought("c"), Delta("d"), Delta("e"), _finish()],
    }


async def _read(log: MemoryEventLog, after: int, sse: bool) -> bytes:
    body = b""
    async for batch in log.follow(after, keepalive=60):
        body += batch.sse() if sse else batch.text()
    return body


async def _live_then_compacted(events: list[Event]) -> tuple[dict[tuple[int, bool], bytes], MemoryEventLog]:
    """Followers from every position and in both formats while the events are appended over several loop
    turns, then the log closed (compacted); returns what each follower received."""
    log = MemoryEventLog()
    await log.append(events[0])
    followers: dict[tuple[int, bool], asyncio.Task[bytes]] = {}
    for i, event in enumerate(events[1:], start=1):
        for sse in (True, False):
            followers[(i, sse)] = asyncio.create_task(_read(log, i, sse))
        await log.append(event)
        if i % 2:
            await asyncio.sleep(0)
    n = len(events)
    for sse in (True, False):
        followers[(0, sse)] = asyncio.create_task(_read(log, 0, sse))
        followers[(n, sse)] = asyncio.create_task(_read(log, n, sse))
    await asyncio.sleep(0)
    await log.close()
    return {key: await task for key, task in followers.items()}, log


@pytest.mark.parametrize("name", list(scenarios()))
async def test_resume_from_every_position_of_a_compacted_log_sends_exactly_the_live_bytes(name):
    with with_thoughts():
        events = scenarios()[name]
        live, log = await _live_then_compacted(events)
        assert log.last_seq == len(events)
        assert log._events is None, "a closed log is compacted"
        for (after, sse), sent in live.items():
            assert await _read(log, after, sse) == sent, f"{name}: after {after}, {'SSE' if sse else 'text'}"
        # And the live SSE bytes are the events themselves, each once, in order.
        frames = live[(0, True)].split(b"\n\n")[:-1]
        assert [int(f.split(b"\n", 1)[0].removeprefix(b"id: ")) for f in frames] == list(range(1, len(events) + 1))


async def test_the_joined_text_of_a_compacted_log_is_the_reply_text():
    log = MemoryEventLog()
    for event in scenarios()["completed"]:
        await log.append(event)
    assert log.text_of(Delta) is None, "only once the log is closed"
    await log.close()
    assert log.text_of(Delta) == "".join(MIXED_TEXTS)


async def test_a_finished_reply_holds_its_text_plus_well_under_a_kilobyte():
    tokens = [f"tok{i} " for i in range(150)]  # fresh strings, as decoded off the wire

    async def finished() -> MemoryEventLog:
        log = MemoryEventLog()
        await log.append(Start("rep_0123456789abcdefghijklmn", "fake-responses"))
        for token in tokens:
            await log.append(Delta(token))
        await log.append(_finish())
        await log.close()
        return log

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        logs = [await finished() for _ in range(20)]
        held = (tracemalloc.get_traced_memory()[0] - before) / len(logs)
    finally:
        tracemalloc.stop()
    text_bytes = len("".join(tokens)) + 49  # a compact ASCII str: 49 bytes of header
    assert held - text_bytes < 800, f"{held - text_bytes:.0f} bytes beyond the text"
