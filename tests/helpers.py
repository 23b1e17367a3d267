"""Reading rillchat's streams the way clients do: httpx + httpx-sse, nothing hand-parsed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from httpx_sse import ServerSentEvent, connect_sse


@dataclass
class Received:
    id: int
    event: str
    data: dict[str, Any]


def data_events(events: Iterable[ServerSentEvent]) -> Iterator[ServerSentEvent]:
    """The events that carry data. A ``: ping`` keep-alive after an event with an ``id:`` comes out of
    httpx-sse as an event with empty data (the SSE spec keeps the last id, so the blank line dispatches);
    a browser's EventSource drops those, and so do we: comments are not events."""
    return (s for s in events if s.data)


def sse_events(client: httpx.Client, method: str, url: str, **kwargs: Any) -> list[Received]:
    headers = {"accept": "text/event-stream", **kwargs.pop("headers", {})}
    with connect_sse(client, method, url, headers=headers, **kwargs) as source:
        source.response.raise_for_status()
        return read_events(source.iter_sse())


def text_of(events: list[Received]) -> str:
    return "".join(e.data["text"] for e in events if e.event == "delta")


def read_events(events: Iterator[ServerSentEvent], limit: int | None = None) -> list[Received]:
    """Read from an ``iter_sse()`` iterator, up to ``limit`` events or to the end; keep-alives are skipped
    (see :func:`data_events`), so a reply that waits longer than the keep-alive interval reads the same."""
    out: list[Received] = []
    for s in data_events(events):
        out.append(Received(int(s.id), s.event, orjson.loads(s.data)))
        if limit is not None and len(out) >= limit:
            break
    return out


def wait_until(predicate: Any, timeout: float = 5.0, what: str = "condition") -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(0.005)
