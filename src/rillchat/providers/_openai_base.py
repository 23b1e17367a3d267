"""What the two OpenAI-wire providers share: the SDK client, opening a raw stream, reading its SSE.

The SDK does what it is good at (auth, base URL, retries before the stream, error types); the events
themselves are read straight off the socket: aiohttp's C parser (``_transport.py``), our incremental
SSE decoder (``_sse.py``) and orjson. The SDK's typed events cost ~60 µs each and httpx2's reads ~100 µs
per event at 200 concurrent replies; this path costs ~20 µs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx2
import openai
import orjson

from rillchat.config import UpstreamConfig
from rillchat.errors import UpstreamProtocolError, UpstreamTimeout
from rillchat.providers._openai_errors import map_openai_error
from rillchat.providers._sse import SSEDecoder
from rillchat.providers._transport import AIOHTTP_RESPONSE, AiohttpTransport
from rillchat.providers.capabilities import ModelTraits, reasoning_by_name, takes_effort
from rillchat.providers.discovery import ListedModel

__all__ = ["OpenAIWireProvider", "RawStream"]

logger = logging.getLogger("rillchat.providers")

# The SDK's own switch for "give me the response unread" (what ``with_streaming_response`` sets).
_RAW_STREAM: Any = {"headers": {"X-Stainless-Raw-Response": "stream"}}


class RawStream:
    """An open upstream HTTP response; iterate it for ``(event name, data)`` pairs."""

    def __init__(self, response: httpx2.Response, upstream: str):
        self._response = response
        self._upstream = upstream

    async def sse(self) -> AsyncIterator[tuple[str, bytes]]:
        response: aiohttp.ClientResponse = self._response.extensions[AIOHTTP_RESPONSE]
        decoder = SSEDecoder()
        try:
            async for chunk in response.content.iter_any():
                for event in decoder.decode(chunk):
                    yield event
            for event in decoder.flush():
                yield event
        except TimeoutError:
            raise UpstreamTimeout(f"{self._upstream} stopped sending") from None
        except aiohttp.ClientError:
            raise UpstreamProtocolError(f"the connection to {self._upstream} broke mid-reply") from None

    async def aclose(self) -> None:
        # Closing the response closes the upstream connection: that is what stops a remote model.
        await self._response.aclose()


class OpenAIWireProvider:
    """Base of the providers that speak OpenAI's HTTP API."""

    kind = "openai"

    def __init__(self, config: UpstreamConfig) -> None:
        self.name = config.name
        self.config = config
        self.listing: list[ListedModel] | None = None  # None: never listed
        self._listed: dict[str, ListedModel] = {}
        self._seen_reasoning: set[str] = set()
        self.client = openai.AsyncOpenAI(
            api_key=config.resolved_api_key(),
            base_url=config.base_url,
            max_retries=config.max_retries,
            timeout=httpx2.Timeout(config.timeout_seconds, connect=config.connect_timeout_seconds),
            http_client=httpx2.AsyncClient(transport=AiohttpTransport(config.connect_timeout_seconds)),
        )

    def model_names(self) -> list[str]:
        if isinstance(self.config.models, list):
            return list(self.config.models)
        return [m.id for m in self.listing] if self.listing is not None else []

    def traits(self, model: str) -> ModelTraits:
        """What ``model`` can do, as far as known (see ``capabilities``)."""
        listed = self._listed.get(model)
        reasoning: bool | None
        if model in self._seen_reasoning or reasoning_by_name(model, self.config.reasoning_models):
            reasoning = True
        elif self.config.reasoning_models is not None:
            reasoning = False  # the configuration says which models reason; this one is not among them
        else:
            reasoning = listed.reasoning if listed is not None else None
        return ModelTraits(
            reasoning=reasoning,
            reasoning_effort=bool(reasoning) and takes_effort(model),
            context_length=listed.context_length if listed is not None else None,
        )

    def saw_reasoning(self, model: str) -> None:
        """The model reasoned in a reply: from now on it is known to be a reasoning model."""
        self._seen_reasoning.add(model)

    def set_listing(self, listing: list[ListedModel]) -> None:
        """The models the upstream's ``GET /v1/models`` listed (after the include/exclude filters)."""
        self.listing = listing
        self._listed = {m.id: m for m in listing}

    async def _open_raw(self, path: str, params: dict[str, Any]) -> RawStream:
        """POST ``params`` as they are (the SDK's typed-parameter transform costs ~1 ms a request) and hand
        back the unread response; the SDK still adds auth, retries before the stream and typed errors."""
        try:
            return await self._post_raw(path, params)
        except openai.APIError as exc:
            raise map_openai_error(exc, self.name) from None

    async def _post_raw(self, path: str, params: dict[str, Any]) -> RawStream:
        """``_open_raw`` leaving the SDK's errors as they are, for a provider that reacts to one."""
        # Bytes are sent as they are: orjson instead of the SDK's json.dumps (several times slower, and a
        # long history is a big body encoded on the event loop).
        content = orjson.dumps(params)
        response = await self.client.post(path, content=content, cast_to=httpx2.Response, options=_RAW_STREAM)
        return RawStream(response, self.name)

    async def aclose(self) -> None:
        await self.client.close()


def ignore_unknown(event_type: str) -> None:
    """Unknown event types are how APIs grow; they must never break a reply."""
    logger.debug("ignoring upstream event %s", event_type)
