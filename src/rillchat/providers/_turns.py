"""A first-come-first-served line for a resource that serves one generation at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

__all__ = ["Turn", "TurnQueue"]


class Turn:
    __slots__ = ("changed",)

    def __init__(self) -> None:
        self.changed = asyncio.Event()


class TurnQueue:
    """Holders wait in line; the first one in line has the turn until it leaves."""

    def __init__(self) -> None:
        self._line: list[Turn] = []

    def __len__(self) -> int:
        return len(self._line)

    def join(self) -> Turn:
        turn = Turn()
        self._line.append(turn)
        return turn

    def position(self, turn: Turn) -> int:
        """0 when ``turn`` holds the resource, 1 when it is next, and so on."""
        return self._line.index(turn)

    def leave(self, turn: Turn) -> None:
        if turn in self._line:
            self._line.remove(turn)
            for waiting in self._line:
                waiting.changed.set()

    async def wait(self, turn: Turn) -> AsyncIterator[int]:
        """Yield each new position while waiting; return once ``turn`` holds the resource."""
        last = -1
        while (position := self.position(turn)) > 0:
            if position != last:
                last = position
                yield position
            turn.changed.clear()
            await turn.changed.wait()
