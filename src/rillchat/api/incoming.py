"""What every request goes through before a route sees it, from the ASGI scope and ``receive`` alone.

One code path for the framework's routes and the raw streaming routes alike (issue 11, finding 7): the
edge calls ``Gate.admit`` once per request and writes its errors with one writer, so both answer the
same way. In order:

1. the ``Host`` header names this server (loopback names by default; DNS rebinding, finding 4);
2. the request id: the client's ``X-Request-ID`` when well-formed, else a new one;
3. one ``Authorization`` header at most, and a valid key where keys are on (401 otherwise);
4. a JSON endpoint's body is declared ``application/json`` (415 otherwise: a cross-site "simple" POST
   cannot send that without a CORS preflight), and is not larger than the limit (413).

``read_json`` then reads and validates a body into a request model, with one error vocabulary: an empty
body, invalid JSON, invalid UTF-8 and lone surrogates are all ``400 invalid_json``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.types import Message, Receive, Scope

from rillchat.api.errors import validation_error
from rillchat.errors import InvalidField, PayloadTooLarge, RequestError, Unauthorized, UnsupportedMediaType, clip

__all__ = [
    "DEFAULT_ALLOWED_HOSTS",
    "Gate",
    "LimitedReceive",
    "RequestHead",
    "body_too_large",
    "content_length_too_large",
    "hash_api_key",
    "owner_for",
    "parse_last_event_id",
    "read_json",
    "request_id_of",
]

DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.1", "::1")

_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_EVENT_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes "²", which int() refuses
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
#: Probes (a load balancer, Kubernetes) address the server by IP; these answer nothing worth rebinding for.
_ANY_HOST_PATHS = frozenset({"/healthz", "/readyz"})

Model = TypeVar("Model", bound=BaseModel)


def hash_api_key(key: str) -> str:
    """What the configuration stores for a key: ``sha256:<hex>``. ``rillchat hash-key`` prints it."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


@dataclass(slots=True, frozen=True)
class RequestHead:
    """What the routes need to know of a request's headers, read once."""

    request_id: str
    owner: str | None  # the API key's owner; None when keys are off
    client: str  # who rate limits count against: ``key:<owner>`` or ``ip:<address>``
    sse: bool  # Accept names text/event-stream
    last_event_id: str | None  # the Last-Event-ID header, unparsed
    has_body: bool


def request_id_of(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` (the first well-formed one), or a new id."""
    for name, value in headers:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _VALID_REQUEST_ID.fullmatch(candidate):
                return candidate
    return secrets.token_hex(8)


def _host_name(host: str) -> str:
    """``Host`` without its port, lower-cased; ``[::1]:8000`` is ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_json(content_type: bytes) -> bool:
    media = content_type.partition(b";")[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class Gate:
    def __init__(
        self,
        *,
        api_keys: dict[str, str],
        allowed_hosts: Iterable[str] = DEFAULT_ALLOWED_HOSTS,
        public_metrics: bool = False,
        public_docs: bool = False,
    ) -> None:
        """``api_keys`` maps an owner to its key's hash (empty: keys off); hosts may be ``*`` or ``*.domain``."""
        self.keys = [(name, digest.removeprefix("sha256:")) for name, digest in api_keys.items()]
        hosts = [h.strip().lower() for h in allowed_hosts]
        self.any_host = "*" in hosts
        self.hosts = frozenset(_host_name(h) if not h.startswith("*.") else h for h in hosts)
        self.wildcards = tuple(h[1:] for h in hosts if h.startswith("*."))
        self.public_metrics = public_metrics
        self.public_docs = public_docs

    def admit(self, scope: Scope, request_id: str) -> RequestHead:
        """The request's head, or the ``RillchatError`` to answer instead."""
        host = authorization = accept = last_event_id = content_type = None
        authorizations = 0
        has_body = False
        for name, value in scope["headers"]:
            if name == b"host":
                host = value
            elif name == b"authorization":
                authorization = value
                authorizations += 1
            elif name == b"accept":
                accept = value
            elif name == b"last-event-id":
                last_event_id = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                has_body = value.strip() not in (b"0", b"")
            elif name == b"transfer-encoding":
                has_body = True
        path: str = scope["path"]
        method: str = scope["method"]
        if path not in _ANY_HOST_PATHS and not self._host_allowed(host):
            raise RequestError(
                "this server does not answer to that Host; see RILLCHAT_ALLOWED_HOSTS", code="host_not_allowed"
            )
        if authorizations > 1:
            raise InvalidField("Authorization", "send one Authorization header, not several", status_code=400)
        owner = None
        if self.keys and method != "OPTIONS" and self._needs_key(path):
            owner = owner_for(self.keys, authorization or b"")
            if owner is None:
                raise Unauthorized("a valid API key is required: Authorization: Bearer <key>")
        declares_json = content_type is not None and _is_json(content_type)
        if method in _BODY_METHODS and path.startswith("/api/") and (has_body or content_type) and not declares_json:
            raise UnsupportedMediaType("send the request body as JSON, with Content-Type: application/json")
        if owner is not None:
            client = f"key:{owner}"
        else:
            address = scope.get("client")
            client = f"ip:{address[0] if address else 'unknown'}"
        return RequestHead(
            request_id=request_id,
            owner=owner,
            client=client,
            sse=accept is not None and b"text/event-stream" in accept,
            last_event_id=last_event_id.decode("latin-1") if last_event_id is not None else None,
            has_body=has_body,
        )

    def _host_allowed(self, host: bytes | None) -> bool:
        if self.any_host:
            return True
        if host is None:
            return False
        name = _host_name(host.decode("latin-1"))
        return name in self.hosts or any(name.endswith(suffix) for suffix in self.wildcards)

    def _needs_key(self, path: str) -> bool:
        if path.startswith("/api/"):
            return True
        if path == "/metrics":
            return not self.public_metrics
        return path in _DOCS_PATHS and not self.public_docs


def owner_for(keys: list[tuple[str, str]], authorization: bytes) -> str | None:
    """The owner of the bearer key in an Authorization header, or None."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    digest = hashlib.sha256(token.strip().encode("latin-1")).hexdigest()
    owner = None
    for name, expected in keys:  # compare with every key, in constant time each
        if hmac.compare_digest(digest, expected):
            owner = name
    return owner


class LimitedReceive:
    """``receive``, raising ``PayloadTooLarge`` once the body passes ``limit`` bytes (chunked bodies too)."""

    __slots__ = ("limit", "receive", "received")

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.received = 0

    async def __call__(self) -> Message:
        message = await self.receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                raise body_too_large(self.limit)
        return message


def body_too_large(limit: int) -> PayloadTooLarge:
    error = PayloadTooLarge(f"the request body is larger than {limit} bytes")
    error.headers = (("connection", "close"),)  # the rest of the body is not worth reading
    return error


def content_length_too_large(scope: Scope, limit: int) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.isdigit() and (len(value) > 18 or int(value) > limit)
    return False


async def read_json(receive: Receive, model: type[Model]) -> Model:
    """Read the whole body and validate it into ``model``."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestError("the client went away before sending the whole body", code="client_gone")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if not body.strip():
        raise RequestError("the request body is empty: send a JSON object", code="invalid_json")
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None


def parse_last_event_id(raw: str | None) -> int:
    """The event id to resume after (0: from the start); 400 for anything but a plain event number."""
    if raw is None or raw == "":
        return 0
    if not _EVENT_ID.fullmatch(raw):
        raise InvalidField("Last-Event-ID", f"{clip(raw, 40)} is not an event id of this stream", status_code=400)
    return int(raw)
