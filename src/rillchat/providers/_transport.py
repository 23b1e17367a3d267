"""An httpx2 transport on aiohttp, so the openai SDK keeps doing what it is good at (auth, base URLs,
retries before the stream, typed errors) while the reply's bytes are read through aiohttp's C parser.

Measured here, reading a Responses stream at 200 concurrent replies: ~100 µs of CPU per event through
httpx2 and its per-read timeout scopes, ~20 µs reading the same aiohttp response directly. The transport
puts that aiohttp response in the httpx2 response's ``extensions`` (public httpx API), and
:class:`RawStream` reads from it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2

__all__ = ["AIOHTTP_RESPONSE", "AiohttpTransport"]

AIOHTTP_RESPONSE = "rillchat.aiohttp_response"


class _Body(httpx2.AsyncByteStream):
    """The body for the SDK's own reads (error responses, non-streamed replies)."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise httpx2.ReadError(str(exc)) from exc

    async def aclose(self) -> None:
        if self._response.content.at_eof():
            self._response.release()  # whole: the connection can serve the next request
        else:
            self._response.close()  # cut short: closing the connection is what stops the upstream model


class AiohttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self, connect_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # No connection cap: each streamed reply holds its connection for its whole length.
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
        return self._session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        # A compressed event stream would only cost CPU here and latency upstream.
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "accept-encoding"]
        headers.append(("accept-encoding", "identity"))
        timeout: dict[str, Any] = request.extensions.get("timeout", {})
        connect_timeout = timeout.get("connect") or self._connect_timeout
        try:
            # Connecting and waiting for the response's headers are bounded by the read timeout (the
            # upstream's ``timeout_seconds``): an upstream that takes the request and never answers must
            # not hold the reply forever. The body's reads are not bounded here (``sock_read=None``): a
            # per-read timer would cost every token, and the generation's stall watchdog covers them.
            async with asyncio.timeout(timeout.get("read")):
                response = await self._client().request(
                    request.method,
                    str(request.url),
                    headers=headers,
                    data=await request.aread() or None,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=None),
                )
        except aiohttp.ServerTimeoutError as exc:  # aiohttp's own connect timeout
            raise httpx2.ConnectTimeout(str(exc) or "connect timeout", request=request) from exc
        except TimeoutError as exc:  # ours: no response headers in time (aiohttp closed the connection)
            raise httpx2.ReadTimeout("no response headers in time", request=request) from exc
        except aiohttp.ClientConnectionError as exc:
            raise httpx2.ConnectError(str(exc), request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx2.RemoteProtocolError(str(exc), request=request) from exc
        return httpx2.Response(
            status_code=response.status,
            headers=response.raw_headers,
            stream=_Body(response),
            request=request,
            extensions={AIOHTTP_RESPONSE: response, "http_version": b"HTTP/1.1"},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
