"""An incremental reader of upstream Server-Sent Events: ``decode(chunk) -> events``, ``flush()``.

Bytes in, ``(event, data)`` out, whatever the chunk boundaries: a frame, a line, a CRLF or a multi-byte
character split across reads is held until it is whole (data stays bytes until ``orjson`` reads it, so
a character split across reads never reaches a decoder half-way). Only ``event`` and ``data`` fields
matter to a chat relay; comments, ``id`` and ``retry`` are skipped. ``tests/providers/test_sse_decoder.py``
pins it to httpx-sse's decoder over random splits.
"""

from __future__ import annotations

__all__ = ["SSEDecoder"]


class SSEDecoder:
    __slots__ = ("_buffer", "_pending_cr")

    def __init__(self) -> None:
        self._buffer = b""
        self._pending_cr = False  # a chunk ended in CR: it may be the first half of a CRLF

    def decode(self, chunk: bytes) -> list[tuple[str, bytes]]:
        if self._pending_cr:
            chunk = b"\r" + chunk
            self._pending_cr = False
        if b"\r" in chunk:  # CRLF or CR line ends (rare upstream): normalise to LF first
            if chunk.endswith(b"\r"):
                self._pending_cr = True
                chunk = chunk[:-1]
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        buffer = self._buffer + chunk if self._buffer else chunk
        end = buffer.rfind(b"\n\n")
        if end < 0:
            self._buffer = buffer
            return []
        self._buffer = buffer[end + 2 :]
        return [event for frame in buffer[:end].split(b"\n\n") if (event := _parse(frame)) is not None]

    def flush(self) -> list[tuple[str, bytes]]:
        """The last frame, if the stream ended without its blank line."""
        rest, self._buffer = self._buffer, b""
        self._pending_cr = False
        event = _parse(rest) if rest.strip(b"\n") else None
        return [event] if event is not None else []


def _parse(frame: bytes) -> tuple[str, bytes] | None:
    name = "message"
    data: list[bytes] = []
    for line in frame.split(b"\n"):
        if not line or line[0] == 58:  # ":" starts a comment (keep-alives)
            continue
        field, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if field == b"data":
            data.append(value)
        elif field == b"event":
            name = value.decode()
    if not data:
        return None
    return name, data[0] if len(data) == 1 else b"\n".join(data)
