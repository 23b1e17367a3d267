"""OpenAI's Responses API (the guide's upstream): ``response.*`` SSE events -> rillchat events.

Reasoning models (o-series, gpt-5, gpt-oss...) are asked for a summary of their reasoning
(``reasoning: {"summary": "auto"}``): it streams as ``response.reasoning_summary_text.delta``, one summary
part after another; open-weight models served through this API stream the reasoning itself as
``response.reasoning_text.delta``. An organisation that may not get summaries is answered 400 with param
``reasoning.summary``: the request is sent again once without it, and the upstream remembers not to ask.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson

from rillchat.errors import UpstreamProtocolError
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, Reasoning, ReplyStatus, Usage
from rillchat.providers._openai_base import OpenAIWireProvider, RawStream, ignore_unknown
from rillchat.providers._openai_errors import map_openai_error
from rillchat.providers.base import GenerationRequest, ProviderEvent, ProviderStream
from rillchat.providers.capabilities import refuses_temperature

__all__ = ["OpenAIResponsesProvider"]

logger = logging.getLogger("rillchat.providers")

_INCOMPLETE_REASONS = {
    "max_output_tokens": FinishReason.LENGTH,
    "content_filter": FinishReason.CONTENT_FILTER,
}

# Reasoning deltas: the summary (OpenAI's models) or the reasoning itself (open-weight models).
_REASONING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})
# Lifecycle events whose content the deltas already carried (or a relay has no use for).
_NOTHING_FOR_A_RELAY = frozenset(
    {
        "response.created",
        "response.in_progress",
        "response.queued",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_text.done",
        "response.output_text.annotation.added",
        "response.refusal.done",
        "response.reasoning_summary_part.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_text.done",
    }
)


def _usage(response: dict[str, Any] | None) -> Usage | None:
    usage = (response or {}).get("usage")
    if not isinstance(usage, dict):
        return None
    details = usage.get("output_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(usage.get("input_tokens"), usage.get("output_tokens"), reasoning or None)


class OpenAIResponsesProvider(OpenAIWireProvider):
    kind = "openai-responses"
    summaries_refused = False
    """This upstream answered that it may not give reasoning summaries: never ask again."""

    async def open(self, request: GenerationRequest) -> ProviderStream:
        params: dict[str, Any] = {
            "model": request.model,
            # Earlier turns' reasoning never goes back: the API takes only its own encrypted reasoning items.
            "input": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "store": False,
        }
        if request.max_output_tokens is not None:
            params["max_output_tokens"] = request.max_output_tokens
        if request.instructions is not None:
            params["instructions"] = request.instructions
        traits = self.traits(request.model)
        if request.temperature is not None and not (traits.reasoning and refuses_temperature(request.model)):
            params["temperature"] = request.temperature
        reasoning: dict[str, Any] = {}
        if traits.reasoning:
            if request.reasoning_effort is not None and traits.reasoning_effort:
                reasoning["effort"] = request.reasoning_effort
            if self.config.reasoning_summary and not self.summaries_refused:
                reasoning["summary"] = "auto"
        if reasoning:
            params["reasoning"] = reasoning
        raw = await self._open_with_summary_fallback(params)
        return self._events(raw, request.model)

    async def _open_with_summary_fallback(self, params: dict[str, Any]) -> RawStream:
        try:
            return await self._post_raw("/responses", params)
        except openai.BadRequestError as exc:
            if exc.param != "reasoning.summary" or "summary" not in params.get("reasoning", {}):
                raise map_openai_error(exc, self.name) from None
            logger.warning("%s refuses reasoning summaries (%s); asking without them from now on", self.name, exc)
            self.summaries_refused = True
        except openai.APIError as exc:
            raise map_openai_error(exc, self.name) from None
        reasoning = {k: v for k, v in params["reasoning"].items() if k != "summary"}
        retry = {k: v for k, v in params.items() if k != "reasoning"}
        if reasoning:
            retry["reasoning"] = reasoning
        return await self._open_raw("/responses", retry)

    async def _events(self, raw: RawStream, model: str) -> AsyncIterator[ProviderEvent]:
        refused = False
        thought = False
        try:
            async for name, data in raw.sse():
                payload: dict[str, Any] | None = None
                if name == "message":  # a server that names no events: the JSON's "type" says what it is
                    payload = orjson.loads(data) if data else {}
                    name = str(payload.get("type", ""))
                # Reading the event's name first skips parsing the lifecycle events a relay does not need
                # (a few, but each repeats the whole response object).
                if name == "response.output_text.delta" or name == "response.refusal.delta":
                    refused = refused or name == "response.refusal.delta"
                    delta = (payload or orjson.loads(data)).get("delta")
                    if delta:
                        yield Delta(delta)
                    continue
                if name in _REASONING_DELTAS:
                    delta = (payload or orjson.loads(data)).get("delta")
                    if delta:
                        if not thought:
                            thought = True
                            self.saw_reasoning(model)
                        yield Reasoning(delta)
                    continue
                if name in _NOTHING_FOR_A_RELAY:
                    continue
                if name == "response.reasoning_summary_part.added":
                    if thought:  # parts are paragraphs of one summary (each usually opens with a bold title)
                        yield Reasoning("\n\n")
                    continue
                if payload is None:
                    payload = orjson.loads(data) if data else {}
                kind = name
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
