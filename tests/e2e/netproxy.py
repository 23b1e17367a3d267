"""A TCP forwarder between the browser and rillchat whose ``drop()`` kills every live connection at once.

Chromium's offline emulation (``context.set_offline(True)``) fails *new* requests but lets a response
that is already streaming run on, so it cannot make a reply's connection drop mid-body on its own. The
browser talks to rillchat through this proxy instead; ``drop()`` resets both sides of every connection
(the page's fetch reader gets a network error, rillchat sees its SSE client leave) and new connections
keep working, like a network that blinked.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from urllib.parse import urlsplit

__all__ = ["DroppingProxy"]


class DroppingProxy:
    def __init__(self, target_url: str) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.connections = 0
        self.dropped = 0
        self._lock = threading.Lock()
        self._pairs: set[tuple[socket.socket, socket.socket]] = set()
        self._ended: dict[tuple[socket.socket, socket.socket], int] = {}
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="dropping-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> DroppingProxy:
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
        """Resets every open connection (both sides); returns how many were cut."""
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for client, upstream in pairs:
            _kill(client, reset=True)
            _kill(upstream, reset=True)
        self.dropped += len(pairs)
        return len(pairs)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _kill(client)
                continue
            pair = (client, upstream)
            for sock in pair:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                self._pairs.add(pair)
            for source, target in (pair, pair[::-1]):
                threading.Thread(target=self._pump, args=(source, target, pair), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, pair: tuple[socket.socket, socket.socket]) -> None:
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)
        with self._lock:
            # The second pump to end closes the pair (unless drop() already took it).
            self._ended[pair] = self._ended.get(pair, 0) + 1
            finished = self._ended[pair] == 2
            if finished:
                del self._ended[pair]
            finished = finished and pair in self._pairs
            if finished:
                self._pairs.discard(pair)
        if finished:
            for sock in pair:
                _kill(sock)


def _kill(sock: socket.socket, *, reset: bool = False) -> None:
    with contextlib.suppress(OSError):
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
