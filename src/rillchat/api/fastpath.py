"""The two streaming routes served as raw ASGI, ahead of the framework's middleware stack.

Every middleware layer wraps ``send``, and a streamed reply calls ``send`` once per batch of tokens: at a
thousand streams, Starlette's error middleware, its exception-handler sender and our edge middleware
cost several µs per token between them (issue 5's profile). These routes do the same work here without
them: request id, API key, body limit, validation (the same schema and error shapes as the declared
FastAPI routes, which stay for the OpenAPI schema and for cross-origin requests, where the CORS
middleware must run).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from rillchat.api.chat import wants_sse_header
from rillchat.api.edge import _unauthorized, new_request_id, owner_for, request_id_var
from rillchat.api.errors import error_bytes, send_error, validation_error
from rillchat.api.schemas import ChatRequest
from rillchat.api.streaming import ReplyStreamResponse
from rillchat.api.streams import follow_response
from rillchat.errors import PayloadTooLarge, RequestError, RillchatError

if TYPE_CHECKING:
    from rillchat.api.services import Services

__all__ = ["StreamingFastPath"]

logger = logging.getLogger("rillchat.api")

_FOLLOW = re.compile(r"^/api/streams/([A-Za-z0-9_-]{1,100})$")


class StreamingFastPath:
    def __init__(self, services: Services, api_keys: dict[str, str], cors: bool) -> None:
        self.services = services
        self.keys = [(name, digest.removeprefix("sha256:")) for name, digest in api_keys.items()]
        self.cors = cors

    def handles(self, scope: Scope) -> bool:
        if scope["type"] != "http":
            return False
        if self.cors and any(name == b"origin" for name, _ in scope["headers"]):
            return False
        method, path = scope["method"], scope["path"]
        return (method == "POST" and path == "/api/chat/stream") or (method == "GET" and bool(_FOLLOW.match(path)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        request_id = new_request_id(headers)
        request_id_var.set(request_id)
        id_header = [(b"x-request-id", request_id.encode())]
        owner = None
        if self.keys:
            authorization = next((v for n, v in headers if n == b"authorization"), b"")
            owner = owner_for(self.keys, authorization)
            if owner is None:
                await _unauthorized(send, id_header)
                return
        try:
            response = await self._open(scope, receive, headers, owner)
        except RillchatError as exc:
            await send_error(send, exc, id_header)
            return
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            await _internal_error(send, id_header)
            return
        response.extra_headers = response.extra_headers + id_header
        await response(scope, receive, send)

    async def _open(
        self, scope: Scope, receive: Receive, headers: list[tuple[bytes, bytes]], owner: str | None
    ) -> ReplyStreamResponse:
        if scope["method"] == "GET":
            match = _FOLLOW.match(scope["path"])
            assert match is not None
            raw = next((v.decode("latin-1") for n, v in headers if n == b"last-event-id"), None)
            if raw is None:
                raw = parse_qs(scope["query_string"].decode("latin-1")).get("lastEventId", [None])[0]
            return await follow_response(self.services, match.group(1), owner, raw)
        body = await self._read_body(receive, headers)
        try:
            request = ChatRequest.model_validate_json(body)
        except ValidationError as exc:
            raise validation_error(exc.errors()) from None
        address = scope.get("client")
        who = f"key:{owner}" if owner is not None else f"ip:{address[0] if address else 'unknown'}"
        generation = await self.services.replies.start(request, owner, who)
        accept = next((v for n, v in headers if n == b"accept"), b"")
        return ReplyStreamResponse(
            generation,
            self.services.hub,
            sse=wants_sse_header(accept),
            keepalive=self.services.settings.keepalive_seconds,
        )

    async def _read_body(self, receive: Receive, headers: list[tuple[bytes, bytes]]) -> bytes:
        limit = self.services.settings.max_body_bytes
        too_large = PayloadTooLarge(f"the request body is larger than {limit} bytes")
        length = next((v for n, v in headers if n == b"content-length"), None)
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestError("the client went away before sending the whole body", code="client_gone")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _internal_error(send: Send, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"application/json"), *headers]}
    )
    await send({"type": "http.response.body", "body": error_bytes("internal_error", "internal server error")})
