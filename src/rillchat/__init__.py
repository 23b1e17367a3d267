"""rillchat: a streaming LLM chat server and browser UI.

The public surface: the server factory, the one event vocabulary, and the Python client.
"""

from rillchat._version import __version__
from rillchat.client import AsyncClient, Client
from rillchat.events import (
    Delta,
    ErrorEvent,
    Event,
    Finish,
    FinishReason,
    Queued,
    Reasoning,
    ReplyStatus,
    Start,
    Usage,
)

__all__ = [
    "AsyncClient",
    "Client",
    "Delta",
    "ErrorEvent",
    "Event",
    "Finish",
    "FinishReason",
    "Queued",
    "Reasoning",
    "ReplyStatus",
    "Start",
    "Usage",
    "__version__",
    "create_app",
]


def __getattr__(name: str) -> object:
    # The server (FastAPI, SQLAlchemy, llama.cpp) loads only for those who ask for it, not for client users.
    if name == "create_app":
        from rillchat.api.app import create_app

        return create_app
    raise AttributeError(f"module 'rillchat' has no attribute {name!r}")
