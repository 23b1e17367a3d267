"""Any OpenAI-compatible Chat Completions server (vLLM, Ollama, llama.cpp server, LM Studio) -> events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from rillchat.errors import UpstreamProtocolError
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, ReplyStatus, Usage
from rillchat.providers._openai_base import OpenAIWireProvider, RawStream
from rillchat.providers.base import GenerationRequest, ProviderEvent, ProviderStream

__all__ = ["OpenAIChatProvider"]

_FINISH = {
    "stop": (ReplyStatus.COMPLETED, FinishReason.STOP),
    "tool_calls": (ReplyStatus.COMPLETED, FinishReason.STOP),
    "function_call": (ReplyStatus.COMPLETED, FinishReason.STOP),
    "length": (ReplyStatus.INCOMPLETE, FinishReason.LENGTH),
    "content_filter": (ReplyStatus.INCOMPLETE, FinishReason.CONTENT_FILTER),
}


class OpenAIChatProvider(OpenAIWireProvider):
    kind = "openai-chat"

    async def open(self, request: GenerationRequest) -> ProviderStream:
        messages: list[dict[str, str]] = []
        if request.instructions is not None:
            messages.append({"role": "system", "content": request.instructions})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "max_tokens": request.max_output_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.temperature is not None:
            params["temperature"] = request.temperature
        raw = await self._open_raw("/chat/completions", params)
        return self._events(raw)

    async def _events(self, raw: RawStream) -> AsyncIterator[ProviderEvent]:
        finish_reason: str | None = None
        usage: Usage | None = None
        try:
            async for _name, data in raw.sse():
                if data == b"[DONE]":
                    break
                chunk = orjson.loads(data)
                choices = chunk.get("choices")
                if choices:
                    choice = choices[0]
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        yield Delta(content)
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                    continue
                if chunk.get("usage"):
                    u = chunk["usage"]
                    usage = Usage(input_tokens=u.get("prompt_tokens"), output_tokens=u.get("completion_tokens"))
                    continue
                error = chunk.get("error")
                if isinstance(error, dict):
                    yield ErrorEvent(
                        str(error.get("code") or error.get("type") or "upstream_error"),
                        str(error.get("message") or "the model reported an error"),
                    )
                    yield Finish(ReplyStatus.FAILED, FinishReason.ERROR, usage)
                    return
            if finish_reason is None:
                raise UpstreamProtocolError(f"{self.name} ended the stream before finishing the reply")
            status, reason = _FINISH.get(finish_reason, (ReplyStatus.COMPLETED, FinishReason.STOP))
            yield Finish(status, reason, usage)
        finally:
            await raw.aclose()
