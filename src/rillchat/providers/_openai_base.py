"""What the two OpenAI-wire providers share: the SDK client, opening a raw stream, reading its SSE.

The SDK does what it is good at (auth, base URL, retries before the stream, error types); the events
themselves are read straight off the HTTP response with httpx-sse and orjson, because building the SDK's
typed event objects costs ~60 µs each, against a few µs for this.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import httpx2
import openai
from httpx_sse import EventSource

from rillchat.config import UpstreamConfig
from rillchat.providers._openai_errors import map_openai_error, map_transport_error

__all__ = ["OpenAIWireProvider", "RawStream"]

logger = logging.getLogger("rillchat.providers")


class RawStream:
    """An open upstream HTTP response; iterate it for ``(event name, data)`` pairs."""

    def __init__(self, context: AbstractAsyncContextManager[Any], response: httpx2.Response, upstream: str):
        self._context = context
        self._response = response
        self._upstream = upstream

    async def sse(self) -> AsyncIterator[tuple[str, str]]:
        try:
            # httpx-sse reads any httpx-shaped response; the SDK's comes from httpx2.
            async for sse in EventSource(self._response).aiter_sse():  # type: ignore[arg-type]
                yield sse.event, sse.data
        except httpx2.TransportError as exc:
            raise map_transport_error(exc, self._upstream) from None

    async def aclose(self) -> None:
        # Closing the response closes the upstream connection: that is what stops a remote model.
        await self._context.__aexit__(None, None, None)


class OpenAIWireProvider:
    """Base of the providers that speak OpenAI's HTTP API."""

    kind = "openai"

    def __init__(self, config: UpstreamConfig) -> None:
        self.name = config.name
        self.config = config
        self.client = openai.AsyncOpenAI(
            api_key=config.resolved_api_key(),
            base_url=config.base_url,
            max_retries=config.max_retries,
            timeout=httpx2.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
        )

    def model_names(self) -> list[str]:
        return list(self.config.models)

    async def _open_raw(self, create: Callable[[], AbstractAsyncContextManager[Any]]) -> RawStream:
        context = create()
        try:
            api_response = await context.__aenter__()
        except openai.APIError as exc:
            raise map_openai_error(exc, self.name) from None
        return RawStream(context, api_response.http_response, self.name)

    async def aclose(self) -> None:
        await self.client.close()


def ignore_unknown(event_type: str) -> None:
    """Unknown event types are how APIs grow; they must never break a reply."""
    logger.debug("ignoring upstream event %s", event_type)
