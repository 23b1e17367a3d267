"""A TCP proxy between a client (httpx, the browser) and rillchat that breaks connections on purpose.

Every connection is forwarded to the target. Two ways to break them:

- ``cut_after(n)`` (n = 0, 1, 2 ... in accept order) says after how many bytes of the *server's answer*
  connection n is cut (None: never). Exactly that many bytes go through, then both sides are closed: the
  client sees its response end mid-body (or before it began), rillchat sees its client leave.
  ``reset=True`` cuts with a TCP RST (the client gets ECONNRESET) instead of a FIN.
- ``drop()`` resets every live connection at once, like a network that blinked; new connections keep
  working. Chromium's offline emulation fails *new* requests but lets a streaming response run on, so it
  cannot drop a reply mid-body on its own: the browser tests talk to rillchat through this instead.

Threads and plain sockets, nothing clever.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["BreakingProxy"]

Pair = tuple[socket.socket, socket.socket]


class BreakingProxy:
    def __init__(
        self, target_url: str, cut_after: Callable[[int], int | None] | None = None, *, reset: bool = False
    ) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.cut_after = cut_after
        self.reset = reset
        self.connections = 0
        self.cuts = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._live: set[Pair] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="breaking-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> BreakingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.drop()
        self._thread.join(5)

    def drop(self) -> int:
        """Reset every open connection (both sides); returns how many were cut."""
        with self._lock:
            pairs = list(self._live)
            self._live.clear()
            self.dropped += len(pairs)
        for pair in pairs:
            for sock in pair:
                _kill(sock, reset=True)
        return len(pairs)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            limit = self.cut_after(index) if self.cut_after is not None else None
            threading.Thread(target=self._serve, args=(client, limit), daemon=True).start()

    def _serve(self, client: socket.socket, limit: int | None) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            _kill(client)
            return
        pair = (client, upstream)
        for sock in pair:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._live.add(pair)
        forward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        forward.start()
        if _pump(upstream, client, limit):
            with self._lock:
                self.cuts += 1
            _kill(client, reset=self.reset)
            _kill(upstream)
        forward.join()  # the client's side ends too (it closes, or a cut, drop() or __exit__ closed it)
        with self._lock:
            self._live.discard(pair)
        for sock in pair:
            _kill(sock)


def _pump(source: socket.socket, target: socket.socket, limit: int | None = None) -> bool:
    """Copy ``source`` to ``target`` until it ends (then half-close ``target``); True if cut at ``limit`` bytes."""
    sent = 0
    try:
        while chunk := source.recv(65536):
            if limit is not None and sent + len(chunk) >= limit:
                target.sendall(chunk[: limit - sent])
                return True
            target.sendall(chunk)
            sent += len(chunk)
    except OSError:
        return False
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)
    return False


def _kill(sock: socket.socket, *, reset: bool = False) -> None:
    """Close ``sock``, waking up a thread blocked reading it; ``reset``: with an RST rather than a FIN."""
    with contextlib.suppress(OSError):
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
    sock.close()
