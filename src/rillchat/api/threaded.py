"""rillchat (any ASGI app) served by uvicorn in a thread of this process, on a loopback port the OS picks.

``rillchat chat --embedded`` and the test suite start their in-process servers this one way.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from rillchat.server import ServerConfig

__all__ = ["loopback_socket", "serve_in_thread"]


def loopback_socket() -> socket.socket:
    """A listening socket on 127.0.0.1 and a free port (inheritable: a child process may serve on it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@contextmanager
def serve_in_thread(
    app: ASGIApp, *, start_timeout: float = 120, name: str = "rillchat-server", **config: Any
) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL. RuntimeError if it does not start.

    The bound on starting is generous: a loaded machine takes long to import and to run the app's
    start-up (migrations, the embedded model's preload).
    """
    sock = loopback_socket()
    # rillchat's HTTP protocol (bounded heads, header and body timeouts), as ``rillchat serve`` has it.
    server = uvicorn.Server(
        ServerConfig(app, lifespan="on", log_level="warning", timeout_graceful_shutdown=5, **config)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:  # uvicorn offers a flag, not an event, for "listening"
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("rillchat did not start (its log says why)")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
