"""A Python client for rillchat: typed events, exactly once, across dropped connections.

::

    from rillchat.client import Client, Delta

    with Client("http://127.0.0.1:8000") as client:
        with client.stream("Write a haiku about rivers", model="smollm2") as reply:
            for text in reply.text():
                print(text, end="", flush=True)
        print(f"\\n[{reply.status}]")

``AsyncClient`` is the same with ``async``/``await``. Each request carries a ``clientRequestId`` so a retry
never starts a second generation; a dropped reply is resumed with ``Last-Event-ID`` by itself.
"""

from __future__ import annotations

from rillchat.client._async import DEFAULT_BASE_URL, AsyncClient, AsyncConversations, AsyncReply
from rillchat.client._errors import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ConnectionLostError,
    NotFoundError,
    RateLimitedError,
    ReplyFailedError,
    RillchatClientError,
    RillchatConnectionError,
    ServerError,
    StreamExpiredError,
    UpstreamError,
    UpstreamRateLimitedError,
    ValidationError,
)
from rillchat.client._models import (
    NOT_GIVEN,
    ChatResult,
    Conversation,
    ConversationPage,
    ImportResult,
    Message,
    MessageInput,
    ModelInfo,
    NotGiven,
    SearchPage,
    SearchResult,
    StopResult,
)
from rillchat.client._sync import Client, Conversations, Reply
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
    "DEFAULT_BASE_URL",
    "NOT_GIVEN",
    "AsyncClient",
    "AsyncConversations",
    "AsyncReply",
    "AuthenticationError",
    "BadRequestError",
    "ChatResult",
    "Client",
    "ConflictError",
    "ConnectionLostError",
    "Conversation",
    "ConversationPage",
    "Conversations",
    "Delta",
    "ErrorEvent",
    "Event",
    "Finish",
    "FinishReason",
    "ImportResult",
    "Message",
    "MessageInput",
    "ModelInfo",
    "NotFoundError",
    "NotGiven",
    "Queued",
    "RateLimitedError",
    "Reasoning",
    "Reply",
    "ReplyFailedError",
    "ReplyStatus",
    "RillchatClientError",
    "RillchatConnectionError",
    "SearchPage",
    "SearchResult",
    "ServerError",
    "Start",
    "StopResult",
    "StreamExpiredError",
    "UpstreamError",
    "UpstreamRateLimitedError",
    "Usage",
    "ValidationError",
]
