"""OpenAI's Responses API (the guide's upstream): ``response.*`` SSE events -> rillchat events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from rillchat.errors import UpstreamProtocolError
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, ReplyStatus, Usage
from rillchat.providers._openai_base import OpenAIWireProvider, RawStream, ignore_unknown
from rillchat.providers.base import GenerationRequest, ProviderEvent, ProviderStream

__all__ = ["OpenAIResponsesProvider"]

_INCOMPLETE_REASONS = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}


def _usage(response: dict[str, Any] | None) -> Usage | None:
    usage = (response or {}).get("usage")
    if not isinstance(usage, dict):
        return None
    return Usage(input_tokens=usage.get("input_tokens"), output_tokens=usage.get("output_tokens"))


class OpenAIResponsesProvider(OpenAIWireProvider):
    kind = "openai-responses"

    async def open(self, request: GenerationRequest) -> ProviderStream:
        params: dict[str, Any] = {
            "model": request.model,
            "input": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_output_tokens": request.max_output_tokens,
            "stream": True,
            "store": False,
        }
        if request.instructions is not None:
            params["instructions"] = request.instructions
        if request.temperature is not None:
            params["temperature"] = request.temperature
        raw = await self._open_raw("/responses", params)
        return self._events(raw)

    async def _events(self, raw: RawStream) -> AsyncIterator[ProviderEvent]:
        refused = False
        try:
            async for name, data in raw.sse():
                # The SSE event name repeats the JSON "type"; reading it first skips parsing the
                # lifecycle events we do not need.
                if name == "response.output_text.delta" or name == "response.refusal.delta":
                    refused = refused or name == "response.refusal.delta"
                    delta = orjson.loads(data).get("delta")
                    if delta:
                        yield Delta(delta)
                    continue
                payload = orjson.loads(data) if data else {}
                kind = name or payload.get("type", "")
                if kind == "response.completed":
                    reason = FinishReason.REFUSAL if refused else FinishReason.STOP
                    yield Finish(ReplyStatus.COMPLETED, reason, _usage(payload.get("response")))
                    return
                if kind == "response.incomplete":
                    response = payload.get("response") or {}
                    why = (response.get("incomplete_details") or {}).get("reason")
                    reason = _INCOMPLETE_REASONS.get(str(why), FinishReason.LENGTH)
                    yield Finish(ReplyStatus.INCOMPLETE, reason, _usage(response))
                    return
                if kind == "response.failed":
                    response = payload.get("response") or {}
                    error = response.get("error") or {}
                    yield ErrorEvent(
                        str(error.get("code") or "upstream_failed"),
                        str(error.get("message") or "the model failed to finish the reply"),
                    )
                    yield Finish(ReplyStatus.FAILED, FinishReason.ERROR, _usage(response))
                    return
                if kind == "error":
                    error = payload["error"] if isinstance(payload.get("error"), dict) else payload
                    yield ErrorEvent(
                        str(error.get("code") or "upstream_error"),
                        str(error.get("message") or "the model reported an error"),
                    )
                    yield Finish(ReplyStatus.FAILED, FinishReason.ERROR, None)
                    return
                ignore_unknown(kind)
            raise UpstreamProtocolError(f"{self.name} ended the stream before finishing the reply")
        finally:
            await raw.aclose()
