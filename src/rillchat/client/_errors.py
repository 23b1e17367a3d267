"""The client's exceptions, one tree, built from the server's ``{"error": {"code", "message", "field"?}}``.

::

    RillchatClientError               status_code, code, message, field, retry_after
    ├── BadRequestError (4xx)         the request was refused
    │   ├── AuthenticationError       401, 403
    │   ├── NotFoundError             404 (unknown model, conversation, reply), 410 (StreamExpiredError)
    │   ├── ConflictError             409
    │   └── ValidationError           400, 413, 422 (``field`` names what is wrong, when the server says)
    ├── RateLimitedError              429, and 503 ``upstream_rate_limited`` (``retry_after`` in seconds)
    ├── ServerError (5xx)
    │   └── UpstreamError             502, 503, 504: the model failed us
    │       └── ReplyFailedError      a reply that started and then failed (``chat()`` only)
    └── RillchatConnectionError       no usable connection to the server
        └── ConnectionLostError       a reply's connection dropped and resuming it gave up
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx
import orjson

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ConnectionLostError",
    "NotFoundError",
    "RateLimitedError",
    "ReplyFailedError",
    "RillchatClientError",
    "RillchatConnectionError",
    "ServerError",
    "StreamExpiredError",
    "UpstreamError",
    "UpstreamRateLimitedError",
    "ValidationError",
    "error_from_response",
]


class RillchatClientError(Exception):
    """Base of every error the client raises; ``message`` is the server's, written for people."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str = "error",
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.field = field
        self.retry_after = retry_after

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, message={self.message!r})"


class BadRequestError(RillchatClientError):
    """The server refused the request (4xx)."""


class AuthenticationError(BadRequestError):
    """401 or 403: the API key is missing or not accepted."""


class NotFoundError(BadRequestError):
    """404: an unknown model (``code == "unknown_model"``), conversation or reply."""


class StreamExpiredError(NotFoundError):
    """410: the reply's live events expired; its stored message is the answer."""


class ConflictError(BadRequestError):
    """409."""


class ValidationError(BadRequestError):
    """400, 413 or 422: a malformed body or a field over a limit; ``field`` names it when known."""


class RateLimitedError(RillchatClientError):
    """429, or 503 ``upstream_rate_limited``; ``retry_after`` (seconds) when the server sent one."""


class ServerError(RillchatClientError):
    """5xx."""


class UpstreamError(ServerError):
    """502, 503, 504: the model (or the way to it) failed: ``upstream_auth``, ``upstream_unavailable``..."""


class UpstreamRateLimitedError(UpstreamError, RateLimitedError):
    """503 ``upstream_rate_limited``: the model's provider is rate limiting rillchat."""


class ReplyFailedError(UpstreamError):
    """A reply started, then failed (its ``error`` event); ``partial_text`` is what arrived before."""

    def __init__(self, message: str, *, code: str, reply_id: str | None, partial_text: str) -> None:
        super().__init__(message, status_code=502, code=code)
        self.reply_id = reply_id
        self.partial_text = partial_text


class RillchatConnectionError(RillchatClientError):
    """The server could not be reached, or answered with something that is not rillchat's protocol."""


class ConnectionLostError(RillchatConnectionError):
    """A reply's connection dropped and could not be resumed (attempts used up, or the reply is gone)."""

    def __init__(self, message: str, *, reply_id: str | None, last_event_id: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reply_id = reply_id
        self.last_event_id = last_event_id


def _retry_after(response: httpx.Response) -> float | None:
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _detail(response: httpx.Response) -> tuple[str, str, str | None]:
    """(code, message, field) from rillchat's error body, or from whatever else answered."""
    try:
        payload = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        error = payload["error"]
        code = error.get("code")
        message = error.get("message")
        field = error.get("field")
        return (
            code if isinstance(code, str) else f"http_{response.status_code}",
            message if isinstance(message, str) and message else response.reason_phrase,
            field if isinstance(field, str) else None,
        )
    # Not rillchat speaking (a proxy's error page, say): keep it short and free of markup.
    text = response.text.strip()
    message = response.reason_phrase or f"HTTP {response.status_code}"
    if text and len(text) <= 200 and "<" not in text:
        message = f"{message}: {text}"
    return f"http_{response.status_code}", message, None


def error_from_response(response: httpx.Response) -> RillchatClientError:
    """The typed exception for a non-2xx response whose body has been read."""
    status = response.status_code
    code, message, field = _detail(response)
    retry_after = _retry_after(response)
    cls: type[RillchatClientError]
    if status == 429:
        cls = RateLimitedError
    elif status == 503 and code == "upstream_rate_limited":
        cls = UpstreamRateLimitedError
    elif status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 410:
        cls = StreamExpiredError
    elif status == 409:
        cls = ConflictError
    elif status in (400, 413, 422):
        cls = ValidationError
    elif status in (502, 503, 504):
        cls = UpstreamError
    elif 400 <= status < 500:
        cls = BadRequestError
    else:
        cls = ServerError
    return cls(message, status_code=status, code=code, field=field, retry_after=retry_after)
