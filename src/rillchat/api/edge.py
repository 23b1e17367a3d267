"""The edge: the one entry of every HTTP request, as raw ASGI, ahead of the framework.

It admits the request (``incoming.Gate``: host, request id, key, content type, body limit), then hands
the reply routes (start a reply, follow one) straight to their raw handlers (``fastpath``) and
everything else to FastAPI. Both get the same checks and the same error writer, so they answer alike.

Why the reply routes skip the framework: every middleware layer wraps ``send``, and a streamed reply
calls ``send`` once per batch of tokens; FastAPI's own error middleware, its exception-handler sender
and a request-id wrapper cost several µs per token between them (issue 5's profile). The only layer
above the edge is CORS, when origins are configured, and it wraps ``send`` only for cross-origin requests.
"""

from __future__ import annotations

import contextvars
import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rillchat.api.errors import INTERNAL_ERROR, send_error
from rillchat.api.fastpath import ReplyRoutes
from rillchat.api.incoming import (
    Gate,
    LimitedReceive,
    body_too_large,
    content_length_too_large,
    hash_api_key,
    request_id_of,
)
from rillchat.api.streaming import ReplyStreamResponse
from rillchat.errors import RillchatError

__all__ = ["SECURITY_HEADERS", "Edge", "RequestIdLogFilter", "hash_api_key", "request_id_var"]

logger = logging.getLogger("rillchat.api")

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

#: On every response (issue 11, finding 9). The UI loads only its own files, runs no inline script, is
#: never framed, and sends no Referer; a response is never sniffed into another type.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class RequestIdLogFilter(logging.Filter):
    """Puts the current request's id on every log record (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class Edge:
    def __init__(
        self, framework: ASGIApp, gate: Gate, max_body_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        """``larger``: paths that take bigger bodies than ``max_body_bytes`` (an import file), by exact path."""
        self.framework = framework
        self.gate = gate
        self.max_body_bytes = max_body_bytes
        self.larger = larger or {}
        #: Set once the services exist (the app's lifespan); until then the framework answers 503.
        self.routes: ReplyRoutes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.framework(scope, receive, send)
            return
        request_id = request_id_of(scope["headers"])
        request_id_var.set(request_id)
        id_header = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
        routes = self.routes
        try:
            head = self.gate.admit(scope, request_id)
            if head.has_body:
                limit = self.larger.get(scope["path"], self.max_body_bytes)
                if content_length_too_large(scope, limit):
                    raise body_too_large(limit)
                receive = LimitedReceive(receive, limit)
            route = routes.match(scope) if routes is not None else None
            if route is not None:
                response = await route(scope, head, receive)
        except RillchatError as exc:
            await send_error(send, exc, id_header)
            return
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            await send_error(send, INTERNAL_ERROR, id_header)
            return
        if route is not None:
            if isinstance(response, ReplyStreamResponse):
                response.add_headers(id_header)  # no wrapper around ``send``: it is called per token
                await response(scope, receive, send)
            else:
                await response(scope, receive, _with_headers(send, id_header))
            return
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["head"] = head
        state["owner"] = head.owner
        await self.framework(scope, receive, _with_headers(send, id_header))


def _with_headers(send: Send, headers: list[tuple[bytes, bytes]]) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", []), *headers]
        await send(message)

    return send_with_headers
