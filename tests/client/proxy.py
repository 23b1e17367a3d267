"""A TCP proxy that breaks connections on purpose, between a client and rillchat.

Every accepted connection is forwarded to the target; ``cut_after(n)`` (n = 0, 1, 2 ... in accept order)
says after how many bytes of the *server's answer* that connection is cut (None: never). At the cut the
proxy forwards exactly that many bytes, then closes both sides -- the client sees its response end
mid-body (or before it began), rillchat sees its client leave. Threads, plain sockets, nothing clever.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

__all__ = ["CuttingProxy"]


class CuttingProxy:
    def __init__(self, target_url: str, cut_after: Callable[[int], int | None], *, reset: bool = False) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.cut_after = cut_after
        self.reset = reset
        """Cut with a TCP RST (the client gets ECONNRESET) instead of a clean FIN."""
        self.connections = 0
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._sockets: set[socket.socket] = set()
        self._closed = False
        self._thread = threading.Thread(target=self._accept_loop, name="cutting-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> CuttingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                _kill(sock)
        self._thread.join(5)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            threading.Thread(target=self._serve, args=(client, self.cut_after(index)), daemon=True).start()

    def _serve(self, client: socket.socket, limit: int | None) -> None:
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            _kill(client)
            return
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sockets.update((client, upstream))
        forward = threading.Thread(target=_pump, args=(client, upstream), daemon=True)
        forward.start()
        sent = 0
        try:
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                if limit is not None and sent + len(chunk) >= limit:
                    if limit > sent:
                        client.sendall(chunk[: limit - sent])
                    with self._lock:
                        self.cuts += 1
                    break
                client.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        finally:
            _kill(client, reset=self.reset)
            _kill(upstream)
            forward.join(5)
            with self._lock:
                self._sockets.difference_update((client, upstream))


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        target.shutdown(socket.SHUT_WR)


def _kill(sock: socket.socket, *, reset: bool = False) -> None:
    """Close ``sock``, waking up a thread blocked reading it; ``reset``: with an RST rather than a FIN."""
    with contextlib.suppress(OSError):
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD if reset else socket.SHUT_RDWR)
    sock.close()
