"""rillchat's exceptions, one tree; foreign errors (SDKs, transports) are mapped into it at the provider edge.

::

    RillchatError                  code, message, HTTP status for a reply that has not started
    ├── RequestError (4xx)         the client asked for something we cannot do
    │   ├── UnknownModel (404)
    │   ├── NotFound (404)
    │   ├── PayloadTooLarge (413)
    │   └── Conflict (409)
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
    "RillchatError",
    "UnknownModel",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class RillchatError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.retry_after = retry_after


class RequestError(RillchatError):
    status_code = 400
    code = "invalid_request"


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
