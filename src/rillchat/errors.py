"""rillchat's exceptions, one tree; foreign errors (SDKs, transports) are mapped into it at the provider edge.

::

    RillchatError                  code, message, HTTP status for a reply that has not started
    ├── RequestError (4xx)         the client asked for something we cannot do
    │   ├── Unauthorized (401)     no valid API key (carries WWW-Authenticate)
    │   ├── UnknownModel (404)
    │   ├── NotFound (404)
    │   ├── RequestTimeout (408)   headers or body too slow
    │   ├── Conflict (409)
    │   ├── PayloadTooLarge (413)
    │   ├── UnsupportedMediaType (415)
    │   ├── InvalidField (422, or the status a limit names)
    │   └── RateLimited (429)
    └── UpstreamError (5xx)        the model failed us
        ├── UpstreamAuthError (502)
        ├── UpstreamRateLimited (503, may carry Retry-After)
        ├── UpstreamUnavailable (503)
        ├── UpstreamTimeout (504)
        └── UpstreamProtocolError (502)  broken connection or stream mid-reply

Generation code catches only these; messages are written for end users and never carry stack traces.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "InvalidField",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RequestError",
    "RequestTimeout",
    "RillchatError",
    "Unauthorized",
    "UnknownModel",
    "UnsupportedMediaType",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "clip",
]


def clip(value: str, limit: int = 60) -> str:
    """Client input as an error message may echo it: its repr, cut short (issue 11: a 500 KB id came back)."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "…"


class RillchatError(Exception):
    status_code = 500
    code = "internal_error"
    #: Response headers the error needs besides its JSON body (``WWW-Authenticate`` for a 401).
    headers: tuple[tuple[str, str], ...] = ()

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class RequestError(RillchatError):
    status_code = 400
    code = "invalid_request"


class Unauthorized(RequestError):
    status_code = 401
    code = "unauthorized"
    headers = (("www-authenticate", 'Bearer realm="rillchat"'),)


class RequestTimeout(RequestError):
    status_code = 408
    code = "request_timeout"


class UnsupportedMediaType(RequestError):
    status_code = 415
    code = "unsupported_media_type"


class UnknownModel(RequestError):
    status_code = 404
    code = "unknown_model"


class NotFound(RequestError):
    status_code = 404
    code = "not_found"


class PayloadTooLarge(RequestError):
    status_code = 413
    code = "payload_too_large"


class Conflict(RequestError):
    status_code = 409
    code = "conflict"


class UpstreamError(RillchatError):
    status_code = 502
    code = "upstream_error"


class UpstreamAuthError(UpstreamError):
    status_code = 502
    code = "upstream_auth"


class UpstreamRateLimited(UpstreamError):
    status_code = 503
    code = "upstream_rate_limited"


class UpstreamUnavailable(UpstreamError):
    status_code = 503
    code = "upstream_unavailable"


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class UpstreamProtocolError(UpstreamError):
    status_code = 502
    code = "upstream_disconnected"


class InvalidField(RequestError):
    """A field breaks a configured limit; ``field`` names it for the client."""

    status_code = 422
    code = "invalid_field"

    def __init__(self, field: str, message: str, *, status_code: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.status_code = status_code
        if status_code == 413:
            self.code = "payload_too_large"


class RateLimited(RequestError):
    status_code = 429
    code = "rate_limited"
