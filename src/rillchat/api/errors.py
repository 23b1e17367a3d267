"""Every error leaves as ``{"error": {"code", "message"[, "field"]}}``, with no stack trace, ever.

One writer for both ways a response leaves: ``send_error`` for raw ASGI (the edge and the streaming
routes) and ``error_response`` for the framework's exception handlers; both render ``error_body``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Send

from rillchat.errors import InvalidField, RequestError, RillchatError

__all__ = [
    "INTERNAL_ERROR",
    "error_bytes",
    "error_headers",
    "error_response",
    "install_error_handlers",
    "send_error",
    "validation_error",
]

logger = logging.getLogger("rillchat.api")

_JSON = (b"content-type", b"application/json")


class _InternalError(RillchatError):
    """What a client learns of a bug: nothing but that it happened."""


INTERNAL_ERROR = _InternalError("internal server error")


def error_bytes(code: str, message: str, field: str | None = None) -> bytes:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return orjson.dumps({"error": detail})


def error_headers(exc: RillchatError) -> list[tuple[bytes, bytes]]:
    headers = [_JSON, *((name.encode(), value.encode()) for name, value in exc.headers)]
    if exc.retry_after is not None:
        headers.append((b"retry-after", str(int(exc.retry_after)).encode()))
    return headers


def _body(exc: RillchatError) -> bytes:
    return error_bytes(exc.code, exc.message, getattr(exc, "field", None))


async def send_error(send: Send, exc: RillchatError, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer an error from raw ASGI, before any response has started."""
    headers = error_headers(exc) + (extra_headers or [])
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": _body(exc)})


def error_response(exc: RillchatError) -> Response:
    response = Response(_body(exc), exc.status_code)
    response.raw_headers = [*error_headers(exc), (b"content-length", str(len(response.body)).encode())]
    return response


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def validation_error(errors: Sequence[Any]) -> RillchatError:
    """The first problem of a body that did not validate, as the error the client gets."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
    if first.get("type") == "json_invalid":
        return RequestError("the request body is not valid JSON (UTF-8)", code="invalid_json")
    field = _field_name(tuple(first.get("loc", ())))
    return InvalidField(field, str(first.get("msg", "invalid value")))


async def _on_rillchat_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RillchatError)
    return error_response(exc)


async def _on_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return error_response(validation_error(exc.errors()))


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


async def _on_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, RillchatError):  # raised while FastAPI read the body (the body limit)
        return error_response(exc.__cause__)
    if exc.status_code == 400:  # the framework could not parse a body: the same answer as ours
        return error_response(RequestError("the request body is not valid JSON (UTF-8)", code="invalid_json"))
    error = RillchatError(str(exc.detail), code=_HTTP_CODES.get(exc.status_code, "http_error"))
    error.status_code = exc.status_code
    error.headers = tuple((exc.headers or {}).items())
    return error_response(error)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(INTERNAL_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RillchatError, _on_rillchat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
