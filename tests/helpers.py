"""Reading rillchat's streams the way clients do: httpx + httpx-sse, nothing hand-parsed."""

from __future__ import annotations

from collections.abc import Iterator
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


def sse_events(client: httpx.Client, method: str, url: str, **kwargs: Any) -> list[Received]:
    headers = {"accept": "text/event-stream", **kwargs.pop("headers", {})}
    with connect_sse(client, method, url, headers=headers, **kwargs) as source:
        source.response.raise_for_status()
        return read_events(source.iter_sse())


def text_of(events: list[Received]) -> str:
    return "".join(e.data["text"] for e in events if e.event == "delta")


def read_events(events: Iterator[ServerSentEvent], limit: int | None = None) -> list[Received]:
    """Read from an ``iter_sse()`` iterator, up to ``limit`` events or to the end.

    A ``: ping`` keep-alive is no event, but httpx-sse reports one (empty data, the last id) once an id
    was seen: skipped, so a reply that waits longer than the keep-alive interval reads the same.
    """
    out: list[Received] = []
    for s in events:
        if not s.data:
            continue
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
