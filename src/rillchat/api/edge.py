"""The outermost layer of every request, as one raw ASGI middleware: request ids and API keys.

One layer, not a stack of them, because each layer wraps ``send`` and a streamed reply calls ``send``
once per batch of tokens. What it costs a streamed reply: one extra call per batch.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import logging
import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rillchat.api.errors import error_bytes

__all__ = ["EdgeMiddleware", "RequestIdLogFilter", "hash_api_key", "new_request_id", "owner_for", "request_id_var"]

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_OPEN_PATHS = ("/api/health",)


def hash_api_key(key: str) -> str:
    """What the configuration stores for a key: ``sha256:<hex>``. ``rillchat hash-key`` prints it."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


class RequestIdLogFilter(logging.Filter):
    """Puts the current request's id on every log record (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class EdgeMiddleware:
    def __init__(self, app: ASGIApp, api_keys: dict[str, str] | None = None) -> None:
        """``api_keys`` maps an owner name to its key's hash; empty means keys are off (local use)."""
        self.app = app
        self.keys = [(name, digest.removeprefix("sha256:")) for name, digest in (api_keys or {}).items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        authorization = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _VALID_REQUEST_ID.match(candidate):
                    request_id = candidate
            elif name == b"authorization":
                authorization = value
        request_id = request_id or secrets.token_hex(8)
        request_id_var.set(request_id)
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        if self.keys and scope["path"].startswith("/api/") and scope["method"] != "OPTIONS":
            owner = self._owner(authorization)
            if owner is None:
                await _unauthorized(send_with_id)
                return
            state["owner"] = owner
        await self.app(scope, receive, send_with_id)

    def _owner(self, authorization: bytes) -> str | None:
        return owner_for(self.keys, authorization)


def owner_for(keys: list[tuple[str, str]], authorization: bytes) -> str | None:
    """The owner of the bearer key in an Authorization header, or None."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    owner = None
    for name, expected in keys:  # compare with every key, in constant time each
        if hmac.compare_digest(digest, expected):
            owner = name
    return owner


def new_request_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.match(candidate):
                return candidate
    return secrets.token_hex(8)


async def _unauthorized(send: Send, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="rillchat"')]
    await send({"type": "http.response.start", "status": 401, "headers": headers + (extra_headers or [])})
    body = error_bytes("unauthorized", "a valid API key is required: Authorization: Bearer <key>")
    await send({"type": "http.response.body", "body": body})
