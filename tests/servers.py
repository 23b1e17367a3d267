"""Real servers on loopback for tests: the same in-thread uvicorn that ``rillchat chat --embedded`` uses."""

from __future__ import annotations

from rillchat.api.threaded import loopback_socket, serve_in_thread

__all__ = ["loopback_socket", "serve_in_thread"]
