"""Every error leaves as ``{"error": {"code", "message"[, "field"]}}``, with no stack trace, ever."""

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

__all__ = ["error_bytes", "install_error_handlers", "send_error", "validation_error"]

logger = logging.getLogger("rillchat.api")


def error_bytes(code: str, message: str, field: str | None = None) -> bytes:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        detail["field"] = field
    return orjson.dumps({"error": detail})


def error_response(
    status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    return Response(error_bytes(code, message, field), status, headers=headers, media_type="application/json")


def _headers_for(exc: RillchatError) -> dict[str, str] | None:
    return {"retry-after": str(int(exc.retry_after))} if exc.retry_after is not None else None


async def send_error(send: Send, exc: RillchatError, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Answer an error from inside a raw ASGI response that has not started yet."""
    headers = [(b"content-type", b"application/json"), *(extra_headers or [])]
    for name, value in (_headers_for(exc) or {}).items():
        headers.append((name.encode(), value.encode()))
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": error_bytes(exc.code, exc.message, getattr(exc, "field", None))})


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


async def _on_rillchat_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RillchatError)
    return error_response(exc.status_code, exc.code, exc.message, getattr(exc, "field", None), _headers_for(exc))


def validation_error(errors: Sequence[Any]) -> RillchatError:
    """The first problem of a body that did not validate, as the error the client gets."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
    if first.get("type") == "json_invalid":
        return RequestError("the request body is not valid JSON", code="invalid_json")
    field = _field_name(tuple(first.get("loc", ())))
    return InvalidField(field, str(first.get("msg", "invalid value")))


async def _on_validation_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    error = validation_error(exc.errors())
    return error_response(error.status_code, error.code, error.message, getattr(error, "field", None))


async def _on_http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RillchatError, _on_rillchat_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
