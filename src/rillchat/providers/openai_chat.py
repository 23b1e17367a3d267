"""Any OpenAI-compatible Chat Completions server (vLLM, Ollama, llama.cpp server, LM Studio) -> events.

Reasoning arrives in one of three forms, depending on the server and its version: ``delta.reasoning_content``
(DeepSeek, llama.cpp, vLLM before 0.10), ``delta.reasoning`` (Ollama, OpenRouter, newer vLLM; some vLLM
versions send both with the same text, so the first one present wins), or inline ``<think>`` tags in the
content (servers without a reasoning parser), split off by ``_think.ThinkSplitter``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from rillchat.errors import UpstreamProtocolError
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, Reasoning, ReplyStatus, Usage
from rillchat.providers._openai_base import OpenAIWireProvider, RawStream
from rillchat.providers._think import ThinkSplitter
from rillchat.providers.base import ChatMessage, GenerationRequest, ProviderEvent, ProviderStream

__all__ = ["OpenAIChatProvider"]

_FINISH = {
    "stop": (ReplyStatus.COMPLETED, FinishReason.STOP),
    "tool_calls": (ReplyStatus.COMPLETED, FinishReason.STOP),
    "function_call": (ReplyStatus.COMPLETED, FinishReason.STOP),
    "length": (ReplyStatus.INCOMPLETE, FinishReason.LENGTH),
    "content_filter": (ReplyStatus.INCOMPLETE, FinishReason.CONTENT_FILTER),
}


def _usage(u: dict[str, Any]) -> Usage:
    details = u.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(u.get("prompt_tokens"), u.get("completion_tokens"), reasoning or None)


class OpenAIChatProvider(OpenAIWireProvider):
    kind = "openai-chat"

    def _message(self, m: ChatMessage) -> dict[str, Any]:
        """A history turn. Reasoning stays out of it unless this upstream is configured to want it back."""
        how = self.config.send_reasoning
        if m.role != "assistant" or not m.reasoning or how == "off":
            return {"role": m.role, "content": m.content}
        if how == "think_tags":
            return {"role": m.role, "content": f"<think>\n{m.reasoning}\n</think>\n\n{m.content}"}
        return {"role": m.role, "content": m.content, how: m.reasoning}

    async def open(self, request: GenerationRequest) -> ProviderStream:
        messages: list[dict[str, Any]] = []
        if request.instructions is not None:
            messages.append({"role": "system", "content": request.instructions})
        messages.extend(self._message(m) for m in request.messages)
        params: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_output_tokens is not None:
            params["max_tokens"] = request.max_output_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.reasoning_effort is not None and self.traits(request.model).reasoning_effort:
            params["reasoning_effort"] = request.reasoning_effort
        raw = await self._open_raw("/chat/completions", params)
        mode = self.config.think_tags
        return self._events(raw, request.model, ThinkSplitter(mode) if mode != "off" else None)

    async def _events(self, raw: RawStream, model: str, splitter: ThinkSplitter | None) -> AsyncIterator[ProviderEvent]:
        finish_reason: str | None = None
        usage: Usage | None = None
        thought = False
        try:
            async for _name, data in raw.sse():
                if data == b"[DONE]":
                    break
                chunk = orjson.loads(data)
                choices = chunk.get("choices")
                if choices:
                    choice = choices[0]
                    delta = choice.get("delta") or {}
                    reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                    if reasoning:
                        if not thought:
                            thought = True
                            self.saw_reasoning(model)
                            if splitter is not None:  # the server splits reasoning itself
                                for event in splitter.abandon():
                                    yield event
                                splitter = None
                        yield Reasoning(reasoning)
                    content = delta.get("content")
                    if content:
                        if splitter is None:
                            yield Delta(content)
                        else:
                            for event in splitter.decode(content):
                                if not thought and type(event) is Reasoning:
                                    thought = True
                                    self.saw_reasoning(model)
                                yield event
                            if splitter.passthrough:
                                splitter = None  # the answer has begun: the rest passes untouched
                    if choice.get("finish_reason"):
                        finish_reason = choice["finish_reason"]
                        if chunk.get("usage"):  # llama.cpp sends it with the last choice
                            usage = _usage(chunk["usage"])
                    continue
                if chunk.get("usage"):
                    usage = _usage(chunk["usage"])
                    continue
                error = chunk.get("error")
                if isinstance(error, dict):
                    yield ErrorEvent(
                        str(error.get("code") or error.get("type") or "upstream_error"),
                        str(error.get("message") or "the model reported an error"),
                    )
                    yield Finish(ReplyStatus.FAILED, FinishReason.ERROR, usage)
                    return
            if splitter is not None:
                for event in splitter.flush():
                    yield event
            if finish_reason is None:
                raise UpstreamProtocolError(f"{self.name} ended the stream before finishing the reply")
            status, reason = _FINISH.get(finish_reason, (ReplyStatus.COMPLETED, FinishReason.STOP))
            yield Finish(status, reason, usage)
        finally:
            await raw.aclose()
