"""What reasoning costs on the hot path: CPU per upstream event through the Chat Completions provider.

``python -m bench.reasoning [--events N] [--repeats R]``

The provider's real event loop (``OpenAIChatProvider._events``) reads pre-built SSE data (what the SSE
decoder hands it) from an in-memory stream, so the numbers are the per-event cost of parsing a chunk and
making the event, with no network in between. Rows:

- answer text, think_tags off: the path before reasoning existed (no splitter);
- answer text, think_tags auto: the splitter decides on the first chunk, then is dropped;
- ``delta.reasoning_content`` / ``delta.reasoning``: a server that parses reasoning itself;
- inline ``<think>`` reasoning: every chunk goes through the splitter while the model thinks;

and the splitter's ``decode`` alone on a reasoning chunk. Each row is the best of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from rillchat.config import UpstreamConfig
from rillchat.providers._think import ThinkSplitter
from rillchat.providers.openai_chat import OpenAIChatProvider

WORDS = ["The", " sky", " is", " blue", " because", " of", " Ray", "leigh", " scattering", "."]


class _Frames:
    """Stands in for ``RawStream``: the SSE decoder's output, already in memory."""

    def __init__(self, frames: list[tuple[str, bytes]]) -> None:
        self.frames = frames

    async def sse(self) -> AsyncIterator[tuple[str, bytes]]:
        for frame in self.frames:
            yield frame

    async def aclose(self) -> None:
        return None


def _chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[str, bytes]:
    payload = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": "qwen3-8b",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return "", orjson.dumps(payload)


def _stream(n: int, form: str) -> list[tuple[str, bytes]]:
    words = [WORDS[i % len(WORDS)] for i in range(n)]
    frames = [_chunk({"role": "assistant", "content": ""})]
    if form == "content":
        frames += [_chunk({"content": w}) for w in words]
    elif form == "think_tags":
        frames += [_chunk({"content": "<think>\n"})] + [_chunk({"content": w}) for w in words]
        frames += [_chunk({"content": "</think>\n\nDone."})]
    else:
        frames += [_chunk({"content": None, form: w}) for w in words]
    return [*frames, _chunk({}, "stop"), ("", b"[DONE]")]


async def _per_event(provider: OpenAIChatProvider, frames: list[tuple[str, bytes]], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        splitter = ThinkSplitter(provider.config.think_tags) if provider.config.think_tags != "off" else None  # type: ignore[arg-type]
        stream = provider._events(_Frames(frames), "qwen3-8b", splitter)  # type: ignore[arg-type]
        start = time.process_time()
        async for _event in stream:
            pass
        best = min(best, time.process_time() - start)
    return best / len(frames) * 1e6


def _splitter_decode(n: int, repeats: int) -> float:
    best = float("inf")
    words = [WORDS[i % len(WORDS)] for i in range(n)]
    for _ in range(repeats):
        splitter = ThinkSplitter("on")
        start = time.process_time()
        for word in words:
            splitter.decode(word)
        best = min(best, time.process_time() - start)
    return best / n * 1e6


async def run(events: int, repeats: int) -> list[tuple[str, float]]:
    def provider(think_tags: str) -> OpenAIChatProvider:
        return OpenAIChatProvider(UpstreamConfig(name="bench", kind="openai-chat", models=["x"], think_tags=think_tags))  # type: ignore[arg-type]

    rows = [
        (
            "answer text, think_tags off (no splitter)",
            await _per_event(provider("off"), _stream(events, "content"), repeats),
        ),
        ("answer text, think_tags auto", await _per_event(provider("auto"), _stream(events, "content"), repeats)),
        ("delta.reasoning_content", await _per_event(provider("auto"), _stream(events, "reasoning_content"), repeats)),
        ("delta.reasoning", await _per_event(provider("auto"), _stream(events, "reasoning"), repeats)),
        (
            "inline <think> reasoning (splitter on every chunk)",
            await _per_event(provider("auto"), _stream(events, "think_tags"), repeats),
        ),
        ("ThinkSplitter.decode alone, per reasoning chunk", _splitter_decode(events, repeats)),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reasoning", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = asyncio.run(run(args.events, args.repeats))
    print(f"CPU per upstream event, best of {args.repeats} runs of {args.events} events")
    for name, micros in rows:
        print(f"  {micros:6.2f} µs  {name}")


if __name__ == "__main__":
    main()
