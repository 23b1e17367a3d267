"""Events -> the guide's plain-text protocol: the reply's text and nothing else.

A plain-text client cannot see an error event, so a failed reply ends the HTTP response without its
terminating chunk (the connection is closed): fetch readers get a network error instead of a reply that
looks complete. Error text is never written into the content.
"""

from __future__ import annotations

from rillchat.events import Delta, Event

__all__ = ["TEXT_HEADERS", "encode_text"]

TEXT_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def encode_text(event: Event) -> bytes:
    return event.text.encode() if isinstance(event, Delta) else b""
