"""The in-memory event log: numbering, following live, resuming from any point."""

from __future__ import annotations

import asyncio

from rillchat.events import Delta, Finish, FinishReason, ReplyStatus, Start
from rillchat.streams.eventlog import MemoryEventLog


async def _fill(log: MemoryEventLog, n: int) -> list[str]:
    await log.append(Start("rep", "m"))
    texts = [f"t{i} " for i in range(n)]
    for text in texts:
        await log.append(Delta(text))
    await log.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP))
    await log.close()
    return texts


async def _read(log: MemoryEventLog, after: int) -> list[int]:
    seqs: list[int] = []
    async for batch in log.follow(after, keepalive=5):
        seqs.extend(range(batch.first, batch.last_seq + 1))
    return seqs


async def test_resume_from_every_event_id_yields_exactly_the_rest():
    log = MemoryEventLog()
    await _fill(log, 50)
    total = log.last_seq
    for after in range(total + 1):
        assert await _read(log, after) == list(range(after + 1, total + 1))


async def test_a_live_follower_sees_every_event_once_in_order_while_they_are_appended():
    log = MemoryEventLog()
    follower = asyncio.create_task(_read(log, 0))
    await asyncio.sleep(0)
    await log.append(Start("rep", "m"))
    for i in range(200):
        await log.append(Delta(str(i)))
        if i % 7 == 0:
            await asyncio.sleep(0)
    await log.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP))
    await log.close()
    assert await follower == list(range(1, 203))


async def test_entries_appended_in_one_loop_turn_reach_a_waiting_follower_as_one_batch():
    log = MemoryEventLog()
    await log.append(Start("rep", "m"))
    batches: list[int] = []

    async def follow() -> None:
        async for batch in log.follow(1, keepalive=5):
            batches.append(len(batch.events))

    task = asyncio.create_task(follow())
    await asyncio.sleep(0.01)
    for i in range(5):
        await log.append(Delta(str(i)))
    await asyncio.sleep(0.01)
    await log.close()
    await task
    assert batches == [5]


async def test_an_idle_follower_gets_an_empty_batch_per_keepalive_interval():
    log = MemoryEventLog()
    await log.append(Start("rep", "m"))
    seen: list[int] = []

    async def follow() -> None:
        async for batch in log.follow(1, keepalive=0.02):
            seen.append(len(batch.events))
            if len(seen) == 3:
                await log.close()

    await asyncio.wait_for(follow(), timeout=5)
    assert seen == [0, 0, 0]


async def test_plain_text_bytes_are_only_the_deltas():
    log = MemoryEventLog()
    texts = await _fill(log, 3)
    body = b""
    async for batch in log.follow(0, keepalive=5):
        body += batch.text()
    assert body.decode() == "".join(texts)
