"""Futures waiting for something to happen to a key (a reply id): registered before the look, woken after."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

__all__ = ["KeyedWaiters"]


class KeyedWaiters:
    """Waiters by key. ``waiting`` is entered before looking, so no ``wake`` falls between the look and the
    wait; leaving forgets the waiter whether it fired or not, so nothing outlives the wait."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}

    @contextlib.contextmanager
    def waiting(self, key: str) -> Iterator[asyncio.Future[None]]:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, set()).add(waiter)
        try:
            yield waiter
        finally:
            waiters = self._waiting.get(key)
            if waiters is not None:
                waiters.discard(waiter)
                if not waiters:
                    del self._waiting[key]

    def wake(self, key: str) -> None:
        for waiter in self._waiting.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)
