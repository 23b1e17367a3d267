"""Per-client caps, and the memory they keep: a client is forgotten once it has nothing running and no
start within the last minute (the clock is a plain number the test moves, not the wall clock)."""

from __future__ import annotations

import pytest

from rillchat.errors import RateLimited
from rillchat.streams.quotas import WINDOW, Quotas


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_per_minute_cap_counts_starts_in_the_last_minute_and_says_when_to_retry():
    clock = Clock()
    quotas = Quotas(per_minute=2, concurrent=0, local_queue=0, clock=clock)
    for _ in range(2):
        quotas.release(quotas.admit("alice", local=False))
    clock.now += 15
    with pytest.raises(RateLimited) as refused:
        quotas.admit("alice", local=False)
    assert refused.value.retry_after == 45
    quotas.admit("bob", local=False)  # caps are per client
    clock.now += 45
    quotas.admit("alice", local=False)


def test_concurrent_and_embedded_queue_caps_free_up_on_release():
    quotas = Quotas(per_minute=0, concurrent=2, local_queue=1, clock=Clock())
    first = quotas.admit("alice", local=True)
    with pytest.raises(RateLimited):
        quotas.admit("alice", local=True)
    second = quotas.admit("alice", local=False)
    with pytest.raises(RateLimited):
        quotas.admit("alice", local=False)
    quotas.release(first)
    quotas.release(second)
    quotas.admit("alice", local=True)


def test_clients_seen_once_are_forgotten_after_their_minute():
    clock = Clock()
    quotas = Quotas(per_minute=10, concurrent=5, local_queue=0, clock=clock)
    for n in range(1000):
        quotas.release(quotas.admit(f"10.0.{n // 256}.{n % 256}", local=False))
    assert len(quotas) == 1000  # each still has a start within the minute
    running = quotas.admit("still-running", local=False)
    clock.now += WINDOW
    quotas.admit("newcomer", local=False)  # any admit a minute on sweeps the idle ones
    assert len(quotas) == 2  # the newcomer, and the client whose reply still runs
    quotas.release(running)
    assert len(quotas) == 1


def test_with_every_cap_off_nothing_is_remembered_after_a_reply():
    quotas = Quotas(per_minute=0, concurrent=0, local_queue=0, clock=Clock())
    for n in range(100):
        quotas.release(quotas.admit(f"client-{n}", local=False))
    assert len(quotas) == 0
