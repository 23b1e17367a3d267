"""A protocol-level fake of OpenAI's HTTP API: a real uvicorn server on loopback.

It speaks the wire formats rillchat's upstream providers read -- Responses API streaming
(``POST /v1/responses``), Chat Completions streaming (``POST /v1/chat/completions``), their
non-streaming forms, ``GET /v1/models`` and OpenAI's JSON error shape -- and can misbehave on demand
(slow, failing, refusing, silent, dropping, stalling, splitting UTF-8 across TCP writes) through a
:class:`Scenario`. Counters in :attr:`FakeOpenAI.stats` let tests prove that a cancellation really
reached the upstream.

The ASGI app is written by hand (no framework) so that every ``send`` is exactly one body write.

Reasoning models: ``reasoning=N`` thoughts come before the answer, in the form a server would send them
(``reasoning_form``): Responses summary events (``summary``, streamed only when the request asks for a
summary) or ``reasoning_text`` events; Chat Completions ``reasoning_content`` (DeepSeek, llama.cpp),
``reasoning`` (Ollama, OpenRouter), ``both`` (some vLLM versions), inline ``think_tags`` or
``think_open_in_prompt`` (only ``</think>`` in the output, as with newer Qwen3 templates); inline forms can
be re-cut into deltas of ``think_chunk`` characters or in two at ``think_cut``. ``GET /v1/models`` answers in
the dialect of ``fake.listing`` (openai, vllm, ollama, llamacpp, lmstudio, openrouter).

Scenario selection: ``fake.scenario`` is the default; a directive anywhere in the last user message,
``[[fake tokens=50 rate=200 fail_after=10 failure=error]]``, overrides fields for that one request.

Run it as a process for benchmarks::

    python -m tests.fakes.openai_server --port 9100 --tokens 150 --rate 20 --embed-timestamp
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import itertools
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import orjson
import uvicorn
from uvicorn.config import LOGGING_CONFIG

__all__ = [
    "FAILURES",
    "REFUSAL_DELTAS",
    "REFUSAL_TEXT",
    "FakeOpenAI",
    "RequestRecord",
    "Scenario",
    "Stats",
    "expected_reasoning",
    "expected_text",
    "main",
    "parse_directive",
    "reasoning_texts",
    "think_content",
    "token_texts",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

Failure = Literal["response.failed", "error", "incomplete", "content_filter", "refusal"]
FAILURES: tuple[str, ...] = ("response.failed", "error", "incomplete", "content_filter", "refusal")

RESPONSES_REASONING_FORMS: tuple[str, ...] = ("summary", "reasoning_text")
CHAT_REASONING_FORMS: tuple[str, ...] = ("reasoning_content", "reasoning", "both", "think_tags", "think_open_in_prompt")
REASONING_FORMS: tuple[str, ...] = ("auto", *RESPONSES_REASONING_FORMS, *CHAT_REASONING_FORMS)
THINK_FORMS: tuple[str, ...] = ("think_tags", "think_open_in_prompt")
LISTING_DIALECTS: tuple[str, ...] = ("openai", "vllm", "ollama", "llamacpp", "lmstudio", "openrouter")
SUMMARY_REFUSED_MESSAGE = (
    "Your organization must be verified to generate reasoning summaries. Please go to: "
    "https://platform.openai.com/settings/organization/general and click on Verify Organization. "
    "If you just verified, it can take up to 15 minutes for access to propagate."
)

# What a refusal streams, one delta each (``response.refusal.delta`` / chat ``delta.refusal``).
REFUSAL_DELTAS: tuple[str, ...] = ("I'm sorry", ", but I", " can't help", " with that.")
REFUSAL_TEXT = "".join(REFUSAL_DELTAS)

# Multi-byte characters (2, 3 and 4 bytes in UTF-8) that split_utf8 tokens carry.
_UTF8_SAMPLES = ("é", "日本", "🙂")
DEFAULT_MODELS: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-5-mini")

_SERVER_ERROR_MESSAGE = (
    "The server had an error processing your request. Sorry about that! You can retry your request, "
    "or contact us through our help center at help.openai.com if you keep seeing this error."
)


# --------------------------------------------------------------------------------------------------
# Scenario


@dataclass
class Scenario:
    """How the fake answers a generation request. Every field has a harmless default."""

    tokens: int = 20
    """Number of text deltas in a full reply."""
    token_text: Callable[[int], str] | Sequence[str] | None = None
    """Text of delta i: a callable, or a list used cyclically. None: "tok0 ", "tok1 ", ..."""
    rate: float = 0.0
    """Deltas per second (0: as fast as possible). Paced on an absolute schedule, so no drift."""
    first_token_delay: float = 0.0
    """Seconds between the stream's start (response.created sent) and the first delta."""
    status_before_stream: int | None = None
    """Answer this HTTP error (401, 429, 500, 503, ...) in OpenAI's JSON shape instead of streaming."""
    silent: bool = False
    """Read the request, then send nothing at all (not even the headers) until the client leaves."""
    fail_after: int | None = None
    """After this many deltas, end with ``failure`` instead of completing."""
    failure: Failure = "response.failed"
    """The terminal used by fail_after: response.failed | error | incomplete | content_filter | refusal."""
    drop_after: int | None = None
    """After this many deltas, close the TCP connection mid chunked body."""
    stall_after: int | None = None
    """After this many deltas, send nothing more but keep the connection open until the client leaves."""
    split_utf8: bool = False
    """Write each delta's frame in two TCP writes cut inside a multi-byte UTF-8 character."""
    embed_timestamp: bool = False
    """Each delta's text is "<time.time() at send, 6 decimals>|", for latency benchmarks."""
    event_names: bool = True
    """Responses API frames carry their ``event:`` line (OpenAI's do); False: only ``data:``, whose JSON
    ``type`` names the event, as some compatible servers send them."""
    retry_after: int = 1
    """The retry-after header (seconds) of a 429."""
    reasoning: int = 0
    """Number of reasoning deltas before the answer (a reasoning model thinking)."""
    reasoning_text: Callable[[int], str] | Sequence[str] | None = None
    """Text of reasoning delta i, like token_text. None: "think0 ", "think1 ", ..."""
    reasoning_form: str = "auto"
    """How the reasoning travels (see REASONING_FORMS); auto: summary (Responses), reasoning_content (chat)."""
    summary_parts: int = 1
    """Responses summary form: the reasoning deltas are spread over this many summary parts."""
    summary_forbidden: bool = False
    """Responses: a request asking for reasoning.summary gets OpenAI's 400 for unverified organisations."""
    think_chunk: int = 0
    """Inline think forms: re-cut the whole content (tags, reasoning, answer) into deltas of N characters."""
    think_cut: int | None = None
    """Inline think forms: send the whole content as two deltas cut at this character."""
    pause_at_reasoning: int | None = None
    """After this many reasoning deltas, wait until ``FakeOpenAI.release()`` (a test's moment mid-thought)."""

    def __post_init__(self) -> None:
        if self.failure not in FAILURES:
            raise ValueError(f"failure must be one of {FAILURES}, not {self.failure!r}")
        if self.reasoning_form not in REASONING_FORMS:
            raise ValueError(f"reasoning_form must be one of {REASONING_FORMS}, not {self.reasoning_form!r}")
        if self.reasoning < 0 or self.summary_parts < 1 or self.think_chunk < 0:
            raise ValueError("reasoning and think_chunk must not be negative, summary_parts at least 1")
        if self.tokens < 0 or self.rate < 0 or self.first_token_delay < 0:
            raise ValueError("tokens, rate and first_token_delay must not be negative")


def _default_token(i: int) -> str:
    return f"tok{i} "


def _default_thought(i: int) -> str:
    return f"think{i} "


def reasoning_texts(scenario: Scenario) -> tuple[str, ...]:
    """The text of each of the scenario's ``reasoning`` deltas, in order."""
    make = _default_thought if scenario.reasoning_text is None else _custom_token_fn(scenario.reasoning_text)
    return tuple(make(i) for i in range(scenario.reasoning))


def reasoning_form(scenario: Scenario, api: Literal["responses", "chat"]) -> str:
    if scenario.reasoning_form == "auto":
        return "summary" if api == "responses" else "reasoning_content"
    return scenario.reasoning_form


def summary_part_starts(count: int, parts: int) -> tuple[int, ...]:
    """Indexes of the reasoning deltas that open a summary part (the first is always 0)."""
    parts = max(1, min(parts, count))
    return tuple(sorted({(i * count) // parts for i in range(parts)}))


def expected_reasoning(scenario: Scenario, api: Literal["responses", "chat"]) -> str:
    """What the reasoning of a reply under ``scenario`` reads as once parsed: summary parts are paragraphs."""
    texts = reasoning_texts(scenario)
    if not texts:
        return ""
    if api == "responses" and reasoning_form(scenario, api) == "summary":
        starts = (*summary_part_starts(len(texts), scenario.summary_parts), len(texts))
        return "\n\n".join("".join(texts[a:b]) for a, b in itertools.pairwise(starts))
    return "".join(texts)


def think_content(scenario: Scenario) -> str:
    """The whole content an inline-think server sends: tags, reasoning, answer."""
    opening = "<think>\n" if reasoning_form(scenario, "chat") == "think_tags" else ""
    return opening + "".join(reasoning_texts(scenario)) + "</think>\n\n" + "".join(token_texts(scenario))


def _default_utf8_token(i: int) -> str:
    return f"tok{i}{_UTF8_SAMPLES[i % len(_UTF8_SAMPLES)]} "


def token_texts(scenario: Scenario) -> tuple[str, ...]:
    """The text of each of the scenario's ``tokens`` deltas, in order (ignores fail/drop/stall)."""
    if scenario.token_text is None:
        return _default_texts(scenario.tokens, scenario.split_utf8)[0]
    return tuple(_custom_token_fn(scenario.token_text)(i) for i in range(scenario.tokens))


def _custom_token_fn(spec: Callable[[int], str] | Sequence[str]) -> Callable[[int], str]:
    if callable(spec):
        return spec
    items = [spec] if isinstance(spec, str) else list(spec)
    if not items:
        raise ValueError("token_text must not be an empty list")
    return lambda i: items[i % len(items)]


def expected_text(scenario: Scenario, *, max_output_tokens: int | None = None) -> str:
    """Exactly what the output-text deltas of a reply under ``scenario`` concatenate to.

    Stops where the scenario stops (fail_after, drop_after, stall_after) and at ``max_output_tokens``
    when the request carries a smaller limit. A refusal's text (:data:`REFUSAL_TEXT`) is not included:
    it arrives as refusal deltas. Raises ValueError for embed_timestamp, whose texts are send times.
    """
    if scenario.embed_timestamp:
        raise ValueError("embed_timestamp deltas carry send times; their text cannot be known in advance")
    total, truncated = _planned_total(scenario, max_output_tokens)
    sent, _kind = _outcome(scenario, total, truncated)
    return "".join(token_texts(scenario)[:sent])


# (texts, their JSON string encodings, where to cut each encoding inside a multi-byte character)
_Encoded = tuple[tuple[str, ...], tuple[bytes, ...], tuple[int, ...]]


@lru_cache(maxsize=128)
def _default_texts(tokens: int, utf8: bool) -> _Encoded:
    # The default token list is the same for every request of a benchmark: encode it once.
    make = _default_utf8_token if utf8 else _default_token
    return _encode_texts([make(i) for i in range(tokens)])


def _encode_texts(texts: Iterable[str]) -> _Encoded:
    texts = tuple(texts)
    encoded = tuple(orjson.dumps(t) for t in texts)
    return texts, encoded, tuple(_utf8_cut(e) for e in encoded)


def _utf8_cut(encoded: bytes) -> int:
    """Offset just past the lead byte of the first multi-byte character (the middle if none)."""
    for i, byte in enumerate(encoded):
        if byte >= 0xC0:
            return i + 1
    return max(1, len(encoded) // 2)


# --------------------------------------------------------------------------------------------------
# Directives


class DirectiveError(ValueError):
    """A malformed ``[[fake ...]]`` directive; answered as a 400 so typos are loud."""


_DIRECTIVE = re.compile(r"\[\[fake\b(.*?)\]\]", re.DOTALL)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _opt_int(value: str) -> int | None:
    return None if value.lower() in {"none", "null"} else int(value)


def _bool(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")


_DIRECTIVE_FIELDS: dict[str, Callable[[str], Any]] = {
    "tokens": int,
    "rate": float,
    "first_token_delay": float,
    "status_before_stream": _opt_int,
    "silent": _bool,
    "fail_after": _opt_int,
    "failure": str,
    "drop_after": _opt_int,
    "stall_after": _opt_int,
    "split_utf8": _bool,
    "embed_timestamp": _bool,
    "event_names": _bool,
    "retry_after": int,
    "reasoning": int,
    "reasoning_form": str,
    "summary_parts": int,
    "summary_forbidden": _bool,
    "think_chunk": int,
    "think_cut": _opt_int,
    "pause_at_reasoning": _opt_int,
}


def parse_directive(text: str) -> dict[str, Any]:
    """Scenario overrides from every ``[[fake key=value ...]]`` in ``text`` (later ones win)."""
    overrides: dict[str, Any] = {}
    for match in _DIRECTIVE.finditer(text):
        for item in match.group(1).split():
            key, sep, raw = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in _DIRECTIVE_FIELDS:
                raise DirectiveError(f"bad item {item!r}; keys are {sorted(_DIRECTIVE_FIELDS)}")
            try:
                overrides[key] = _DIRECTIVE_FIELDS[key](raw)
            except ValueError as exc:
                raise DirectiveError(f"bad value for {key}: {raw!r} ({exc})") from None
    return overrides


def _content_text(content: Any) -> str:
    """Text of a message's content: a string, or a list of parts with "text" (input_text / text)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _messages(body: dict[str, Any], api: str) -> list[dict[str, Any]]:
    items = body.get("messages") if api == "chat" else body.get("input")
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return _content_text(message.get("content"))
    return ""


def _count_input_tokens(body: dict[str, Any], messages: list[dict[str, Any]]) -> int:
    # Deterministic stand-in for a tokenizer: whitespace-separated words of every message.
    texts = [_content_text(m.get("content")) for m in messages]
    if isinstance(body.get("instructions"), str):
        texts.append(body["instructions"])
    return max(1, sum(len(t.split()) for t in texts))


# --------------------------------------------------------------------------------------------------
# Counters and records


@dataclass
class Stats:
    """Counters, updated on the server thread; plain ints are safe to read from the test thread."""

    requests_total: int = 0
    """Every HTTP request to the OpenAI API paths (not /_fake/* or /healthz)."""
    streams_started: int = 0
    """Streaming responses whose headers and first events were sent."""
    streams_completed: int = 0
    """Generations that sent their terminal event/body (completed, incomplete, failed, error...)."""
    streams_disconnected: int = 0
    """Generations whose client went away before the end (streaming or not)."""
    streams_dropped: int = 0
    """Streams the fake itself cut (drop_after) or aborted (reset/stop)."""
    deltas_sent: int = 0
    """Output-text deltas written, over all streams."""

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass
class RequestRecord:
    """What one request asked for and what became of it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    started_at: float
    """time.monotonic() when the request body had been read."""
    scenario: Scenario | None = None
    """The effective scenario (default + directive) for generation requests."""
    stream: bool = False
    status: int | None = None
    deltas_sent: int = 0
    finished: bool = False
    """The terminal event (or the whole non-streaming body) was sent."""
    terminal: str | None = None
    """response.completed / response.incomplete / response.failed / error / stop / length /
    content_filter / refusal / dropped / stalled / silent / aborted / http_<status>."""
    disconnected_at: float | None = None
    """time.monotonic() when the fake noticed that the client went away before the end."""


class _DropConnection(Exception):
    """Raised out of the ASGI app after the response started: uvicorn then closes the transport."""


class _QuietDrops(logging.Filter):
    """Keeps uvicorn from logging a traceback for every connection the fake drops on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _DropConnection)


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


# --------------------------------------------------------------------------------------------------
# Plan: what one generation request will do


def _planned_total(scenario: Scenario, limit: int | None) -> tuple[int, bool]:
    if limit is not None and 0 <= limit < scenario.tokens:
        return limit, True
    return scenario.tokens, False


def _outcome(scenario: Scenario, total: int, truncated: bool) -> tuple[int, str]:
    """(deltas to send, what happens then). At equal counts: drop, then stall, then fail, then end."""
    candidates = [(total, 3, "max_output_tokens" if truncated else "completed")]
    for priority, (after, kind) in enumerate(
        ((scenario.drop_after, "dropped"), (scenario.stall_after, "stalled"), (scenario.fail_after, None))
    ):
        if after is not None and 0 <= after <= total:
            candidates.append((after, priority, kind or scenario.failure))
    sent, _priority, kind = min(candidates)
    return sent, kind


@dataclass(slots=True)
class _Plan:
    scenario: Scenario
    api: Literal["responses", "chat"]
    body: dict[str, Any]
    model: str
    input_tokens: int
    sent: int
    kind: str
    texts: tuple[str, ...]
    encoded: tuple[bytes, ...]
    cuts: tuple[int, ...]
    form: str = "summary"
    thoughts: tuple[str, ...] = ()
    """Reasoning deltas to stream before the answer."""
    hidden_thoughts: int = 0
    """Reasoning the model did but does not stream (a summary nobody asked for): counted in usage only."""


def _make_plan(scenario: Scenario, api: Literal["responses", "chat"], body: dict[str, Any]) -> _Plan:
    limit = body.get("max_output_tokens") if api == "responses" else None
    if api == "chat":
        limit = body.get("max_completion_tokens")
        if limit is None:
            limit = body.get("max_tokens")
    total, truncated = _planned_total(scenario, limit if isinstance(limit, int) else None)
    sent, kind = _outcome(scenario, total, truncated)
    prepared: _Encoded
    if scenario.embed_timestamp:
        prepared = ((), (), ())  # made at send time
    elif scenario.token_text is None:
        prepared = _default_texts(scenario.tokens, scenario.split_utf8)
    else:
        prepared = _encode_texts(token_texts(scenario)[:sent])
    texts, encoded, cuts = prepared
    messages = _messages(body, api)
    form = reasoning_form(scenario, api)
    if form not in (RESPONSES_REASONING_FORMS if api == "responses" else CHAT_REASONING_FORMS):
        raise ValueError(f"reasoning_form {form!r} is not spoken by the {api} API")
    thoughts = reasoning_texts(scenario)
    hidden = 0
    if api == "responses" and form == "summary" and thoughts:
        asked = body.get("reasoning")
        if not (isinstance(asked, dict) and asked.get("summary")):
            thoughts, hidden = (), len(thoughts)
    if form in THINK_FORMS and (scenario.think_chunk or scenario.think_cut is not None):
        # The whole content re-cut, tags and all, regardless of token boundaries.
        whole = think_content(scenario)
        if scenario.think_cut is not None:
            pieces = [whole[: scenario.think_cut], whole[scenario.think_cut :]]
        else:
            pieces = [whole[i : i + scenario.think_chunk] for i in range(0, len(whole), scenario.think_chunk)]
        texts, encoded, cuts = _encode_texts(p for p in pieces if p)
        sent, kind, thoughts = len(texts), "completed", ()
    return _Plan(
        scenario=scenario,
        api=api,
        body=body,
        model=str(body["model"]),
        input_tokens=_count_input_tokens(body, messages),
        sent=sent,
        kind=kind,
        texts=texts,
        encoded=encoded,
        cuts=cuts,
        form=form,
        thoughts=thoughts,
        hidden_thoughts=hidden,
    )


def _timestamp_text() -> tuple[str, bytes, int]:
    text = f"{time.time():.6f}|"
    encoded = b'"' + text.encode() + b'"'
    return text, encoded, len(encoded) // 2


# --------------------------------------------------------------------------------------------------
# Wire formats


def _sse(event: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def _data(payload: Any) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _new_id(prefix: str, hex_chars: int) -> str:
    return prefix + secrets.token_hex((hex_chars + 1) // 2)[:hex_chars]


class _ResponsesWire:
    """Frames of the Responses API stream (and its non-streaming object)."""

    _DELTA_HEAD = b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","sequence_number":'
    _DELTA_TAIL = b',"logprobs":[]}\n\n'

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.resp_id = _new_id("resp_", 50)
        self.item_id = _new_id("msg_", 50)
        self.created_at = int(time.time())
        self.seq = 0
        self.opened = False
        self.sent: list[str] = []
        # A reasoning item comes first in the output when the model thinks; the message follows it.
        self.thinks = bool(plan.thoughts or plan.hidden_thoughts)
        self.msg_index = 1 if self.thinks else 0
        self.reasoning_id = _new_id("rs_", 50)
        self.thoughts: list[str] = []
        self.part_starts = summary_part_starts(len(plan.thoughts), plan.scenario.summary_parts)
        self.named = plan.scenario.event_names
        self._delta_head = self._DELTA_HEAD if self.named else self._DELTA_HEAD.split(b"\n", 1)[1]
        # The constant middle of every delta frame, built once per stream.
        self._delta_mid = (
            b',"item_id":"'
            + self.item_id.encode()
            + b'","output_index":'
            + str(self.msg_index).encode()
            + b',"content_index":0,"delta":'
        )

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        payload = {"type": kind, "sequence_number": self.seq, **payload}
        frame = _sse(kind, payload) if self.named else _data(payload)
        self.seq += 1
        return frame

    def _response(self, status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        body = self.plan.body
        temperature = body.get("temperature")
        response: dict[str, Any] = {
            "id": self.resp_id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "max_tool_calls": None,
            "model": self.plan.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "prompt_cache_key": None,
            "reasoning": {"effort": None, "summary": None},
            "safety_identifier": None,
            "service_tier": "default" if status != "in_progress" else "auto",
            "store": body.get("store", True),
            "temperature": 1.0 if temperature is None else temperature,
            "text": {"format": {"type": "text"}, "verbosity": "medium"},
            "tool_choice": "auto",
            "tools": [],
            "top_logprobs": 0,
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None,
            "user": None,
            "metadata": {},
        }
        response.update(extra)
        return response

    def _usage(self, output_tokens: int) -> dict[str, Any]:
        inp = self.plan.input_tokens
        reasoning = len(self.thoughts) + self.plan.hidden_thoughts
        output_tokens += reasoning
        return {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": inp + output_tokens,
        }

    @staticmethod
    def _text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def _item(self, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": self.item_id, "type": "message", "status": status, "content": content, "role": "assistant"}

    # ---- streaming

    def preamble(self) -> bytes:
        response = self._response("in_progress", [])
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    # ---- reasoning

    def _reasoning_item(self, status: str) -> dict[str, Any]:
        item: dict[str, Any] = {"id": self.reasoning_id, "type": "reasoning", "summary": []}
        if self.plan.form == "summary":
            starts = (*self.part_starts, len(self.thoughts))
            item["summary"] = [
                {"type": "summary_text", "text": "".join(self.thoughts[a:b])}
                for a, b in itertools.pairwise(starts)
                if a < len(self.thoughts)
            ]
        else:
            item["content"] = [{"type": "reasoning_text", "text": "".join(self.thoughts)}]
        if status != "completed":
            item["status"] = status
        return item

    def open_reasoning(self) -> bytes:
        item = {"id": self.reasoning_id, "type": "reasoning", "summary": []}
        frames = self._event("response.output_item.added", {"output_index": 0, "item": item})
        if self.plan.form == "summary":
            frames += self._summary_part("added", 0)
        return frames

    def _summary_part(self, which: str, index: int) -> bytes:
        starts = (*self.part_starts, len(self.plan.thoughts))
        text = "".join(self.thoughts[starts[index] :]) if which == "done" else ""
        where = {"item_id": self.reasoning_id, "output_index": 0, "summary_index": index}
        frames = b""
        if which == "done":
            frames += self._event("response.reasoning_summary_text.done", {**where, "text": text})
        part = {"type": "summary_text", "text": text}
        return frames + self._event(f"response.reasoning_summary_part.{which}", {**where, "part": part})

    def reasoning_delta(self, j: int, text: str) -> bytes:
        frames = b""
        if self.plan.form == "summary":
            index = self.part_starts.index(j) if j in self.part_starts else -1
            if index > 0:
                frames += self._summary_part("done", index - 1) + self._summary_part("added", index)
            part = max(i for i, start in enumerate(self.part_starts) if start <= j)
            where = {"item_id": self.reasoning_id, "output_index": 0, "summary_index": part}
            payload = {**where, "delta": text, "obfuscation": "Xy"}
            frames += self._event("response.reasoning_summary_text.delta", payload)
        else:
            where = {"item_id": self.reasoning_id, "output_index": 0, "content_index": 0}
            frames += self._event("response.reasoning_text.delta", {**where, "delta": text})
        self.thoughts.append(text)
        return frames

    def close_reasoning(self) -> bytes:
        frames = b""
        if self.plan.form == "summary":
            frames += self._summary_part("done", len(self.part_starts) - 1)
        else:
            where = {"item_id": self.reasoning_id, "output_index": 0, "content_index": 0}
            frames += self._event("response.reasoning_text.done", {**where, "text": "".join(self.thoughts)})
        item = self._reasoning_item("completed")
        return frames + self._event("response.output_item.done", {"output_index": 0, "item": item})

    def _output(self, *items: dict[str, Any]) -> list[dict[str, Any]]:
        return [self._reasoning_item("completed"), *items] if self.thinks else list(items)

    # ---- text

    def open_text(self) -> bytes:
        self.opened = True
        where = {"item_id": self.item_id, "output_index": self.msg_index, "content_index": 0}
        return self._event(
            "response.output_item.added", {"output_index": self.msg_index, "item": self._item("in_progress", [])}
        ) + self._event("response.content_part.added", {**where, "part": self._text_part("")})

    def delta(self, text: str, encoded: bytes) -> tuple[bytes, int]:
        """The frame, and the offset at which ``encoded`` starts in it."""
        self.sent.append(text)
        seq = str(self.seq).encode()
        self.seq += 1
        head = self._delta_head + seq + self._delta_mid
        return head + encoded + self._DELTA_TAIL, len(head)

    def _close_text(self) -> bytes:
        text = "".join(self.sent)
        where = {"item_id": self.item_id, "output_index": self.msg_index, "content_index": 0}
        return self._event("response.output_text.done", {**where, "text": text, "logprobs": []}) + self._event(
            "response.content_part.done", {**where, "part": self._text_part(text)}
        )

    def finish(self, kind: str) -> tuple[bytes, str]:
        """The terminal frames for ``kind`` and the label recorded for it."""
        n = len(self.sent)
        if kind == "response.failed":
            error = {"code": "server_error", "message": _SERVER_ERROR_MESSAGE}
            response = self._response("failed", [], error=error, usage=self._usage(n))
            return self._event("response.failed", {"response": response}), "response.failed"
        if kind == "error":
            payload = {"code": "server_error", "message": _SERVER_ERROR_MESSAGE, "param": None}
            return self._event("error", payload), "error"
        if kind == "refusal":
            return self._refusal(), "refusal"
        frames = b"" if self.opened else self.open_text()
        frames += self._close_text()
        status = "completed" if kind == "completed" else "incomplete"
        item = self._item(status, [self._text_part("".join(self.sent))])
        frames += self._event("response.output_item.done", {"output_index": self.msg_index, "item": item})
        if kind == "completed":
            response = self._response(
                "completed", self._output(item), usage=self._usage(n), completed_at=int(time.time())
            )
            return frames + self._event("response.completed", {"response": response}), "response.completed"
        reason = "content_filter" if kind == "content_filter" else "max_output_tokens"
        response = self._response(
            "incomplete", self._output(item), usage=self._usage(n), incomplete_details={"reason": reason}
        )
        return frames + self._event("response.incomplete", {"response": response}), "response.incomplete"

    def _refusal(self) -> bytes:
        parts: list[dict[str, Any]] = []
        frames = b""
        if self.opened:
            frames += self._close_text()
            parts.append(self._text_part("".join(self.sent)))
        else:
            frames += self._event(
                "response.output_item.added", {"output_index": 0, "item": self._item("in_progress", [])}
            )
            self.opened = True
        where = {"item_id": self.item_id, "output_index": 0, "content_index": len(parts)}
        frames += self._event("response.content_part.added", {**where, "part": {"type": "refusal", "refusal": ""}})
        for piece in REFUSAL_DELTAS:
            frames += self._event("response.refusal.delta", {**where, "delta": piece})
        refusal_part = {"type": "refusal", "refusal": REFUSAL_TEXT}
        frames += self._event("response.refusal.done", {**where, "refusal": REFUSAL_TEXT})
        frames += self._event("response.content_part.done", {**where, "part": refusal_part})
        item = self._item("completed", [*parts, refusal_part])
        frames += self._event("response.output_item.done", {"output_index": 0, "item": item})
        usage = self._usage(len(self.sent) + len(REFUSAL_DELTAS))
        response = self._response("completed", [item], usage=usage, completed_at=int(time.time()))
        return frames + self._event("response.completed", {"response": response})

    # ---- non-streaming

    def whole(self, kind: str, texts: Sequence[str]) -> tuple[int, Any, str]:
        """(HTTP status, JSON body, label) of a non-streaming reply."""
        text = "".join(texts)
        n = len(texts)
        if kind in ("response.failed", "error"):
            return 500, _error_payload(_SERVER_ERROR_MESSAGE, "server_error", None), "http_500"
        if kind == "refusal":
            parts = [self._text_part(text)] if texts else []
            item = self._item("completed", [*parts, {"type": "refusal", "refusal": REFUSAL_TEXT}])
            usage = self._usage(n + len(REFUSAL_DELTAS))
            return 200, self._response("completed", [item], usage=usage, completed_at=int(time.time())), "refusal"
        if kind == "completed":
            item = self._item("completed", [self._text_part(text)])
            response = self._response("completed", [item], usage=self._usage(n), completed_at=int(time.time()))
            return 200, response, "response.completed"
        reason = "content_filter" if kind == "content_filter" else "max_output_tokens"
        item = self._item("incomplete", [self._text_part(text)])
        response = self._response("incomplete", [item], usage=self._usage(n), incomplete_details={"reason": reason})
        return 200, response, "response.incomplete"


class _ChatWire:
    """Frames of the Chat Completions stream (and its non-streaming object)."""

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.id = _new_id("chatcmpl-", 29)
        self.created = int(time.time())
        self.fingerprint = _new_id("fp_", 10)
        options = plan.body.get("stream_options")
        self.include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.opened = False
        self.sent: list[str] = []
        self.thoughts: list[str] = []
        # Everything around a delta's content string is constant for the stream: build it once.
        self._delta_head = (
            b'data: {"id":"'
            + self.id.encode()
            + b'","object":"chat.completion.chunk","created":'
            + str(self.created).encode()
            + b',"model":'
            + orjson.dumps(plan.model)
            + b',"service_tier":"default","system_fingerprint":"'
            + self.fingerprint.encode()
            + b'","choices":[{"index":0,"delta":{"content":'
        )
        self._delta_tail = (
            b'},"logprobs":null,"finish_reason":null}]' + (b',"usage":null' if self.include_usage else b"") + b"}\n\n"
        )

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.plan.model,
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
            "choices": choices,
        }
        if self.include_usage:
            chunk["usage"] = usage
        return _data(chunk)

    @staticmethod
    def _choice(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    def _usage(self, completion_tokens: int) -> dict[str, Any]:
        prompt = self.plan.input_tokens
        reasoning = len(self.thoughts)
        completion_tokens += reasoning
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": reasoning,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    # ---- streaming

    def preamble(self) -> bytes:
        # Chat Completions sends nothing before the model's first chunk.
        return b""

    def open_text(self) -> bytes:
        if self.opened:
            return b""
        self.opened = True
        return self._chunk([self._choice({"role": "assistant", "content": "", "refusal": None})])

    def open_reasoning(self) -> bytes:
        frames = self.open_text()
        if self.plan.form == "think_tags":
            frames += self._chunk([self._choice({"content": "<think>\n"})])
        return frames

    def reasoning_delta(self, j: int, text: str) -> bytes:
        self.thoughts.append(text)
        form = self.plan.form
        if form in THINK_FORMS:
            return self._chunk([self._choice({"content": text})])
        if form == "reasoning_content":  # DeepSeek's shape: content null while it thinks
            return self._chunk([self._choice({"content": None, "reasoning_content": text})])
        if form == "reasoning":  # Ollama's shape
            return self._chunk([self._choice({"role": "assistant", "content": "", "reasoning": text})])
        return self._chunk([self._choice({"content": None, "reasoning_content": text, "reasoning": text})])

    def close_reasoning(self) -> bytes:
        if self.plan.form in THINK_FORMS:
            return self._chunk([self._choice({"content": "</think>\n\n"})])
        return b""

    def delta(self, text: str, encoded: bytes) -> tuple[bytes, int]:
        self.sent.append(text)
        return self._delta_head + encoded + self._delta_tail, len(self._delta_head)

    def _end(self, finish_reason: str, completion_tokens: int) -> bytes:
        frames = self._chunk([self._choice({}, finish_reason)])
        if self.include_usage:
            frames += self._chunk([], self._usage(completion_tokens))
        return frames + b"data: [DONE]\n\n"

    def finish(self, kind: str) -> tuple[bytes, str]:
        n = len(self.sent)
        if kind in ("response.failed", "error"):
            # Chat Completions has a single mid-stream error form: an "error" object, then the end.
            error = {"message": _SERVER_ERROR_MESSAGE, "type": "server_error", "param": None, "code": None}
            return _data({"error": error}), "error"
        if kind == "refusal":
            frames = b""
            if not self.opened:
                frames += self._chunk([self._choice({"role": "assistant", "content": None, "refusal": ""})])
            for piece in REFUSAL_DELTAS:
                frames += self._chunk([self._choice({"refusal": piece})])
            return frames + self._end("stop", n + len(REFUSAL_DELTAS)), "refusal"
        frames = b"" if self.opened else self.open_text()
        reason = {"completed": "stop", "content_filter": "content_filter"}.get(kind, "length")
        return frames + self._end(reason, n), reason

    # ---- non-streaming

    def whole(self, kind: str, texts: Sequence[str]) -> tuple[int, Any, str]:
        if kind in ("response.failed", "error"):
            return 500, _error_payload(_SERVER_ERROR_MESSAGE, "server_error", None), "http_500"
        n = len(texts)
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts), "refusal": None, "annotations": []}
        reason = {"completed": "stop", "content_filter": "content_filter", "refusal": "stop"}.get(kind, "length")
        if kind == "refusal":
            message.update(content="".join(texts) or None, refusal=REFUSAL_TEXT)
            n += len(REFUSAL_DELTAS)
        completion = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.plan.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}],
            "usage": self._usage(n),
            "service_tier": "default",
            "system_fingerprint": self.fingerprint,
        }
        return 200, completion, "refusal" if kind == "refusal" else reason


_Wire = _ResponsesWire | _ChatWire


# --------------------------------------------------------------------------------------------------
# HTTP helpers


_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"openai-version", b"2020-10-01"),
]
_JSON_TYPE = (b"content-type", b"application/json")


def _error_payload(message: str, type_: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


# status -> (type, code, message) of the errors status_before_stream can answer.
_STATUS_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (fake status_before_stream=400)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", "model_not_found", "The model does not exist or you do not have access to it."),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 1s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: ("server_error", None, _SERVER_ERROR_MESSAGE),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


async def _send_json(send: Send, status: int, payload: Any, extra: Sequence[tuple[bytes, bytes]] = ()) -> None:
    body = orjson.dumps(payload)
    headers = [_JSON_TYPE, (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client left first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


# --------------------------------------------------------------------------------------------------
# The fake


class FakeOpenAI:
    """The fake server. ``start()`` serves it on 127.0.0.1 in a background thread; ``app`` is the ASGI app.

    ``api_key``: when set, requests must carry ``Authorization: Bearer <api_key>`` (else 401).
    ``models``: when set, an allowlist: other models get 400 model_not_found; also what /v1/models lists.
    ``record_requests``: keep a :class:`RequestRecord` per request in ``requests`` (off for benchmarks).
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        api_key: str | None = None,
        models: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        record_requests: bool = True,
        loop: str = "auto",
        http: str = "auto",
    ) -> None:
        self._initial = (scenario or Scenario(), api_key, None if models is None else tuple(models))
        self.scenario: Scenario = self._initial[0]
        self.api_key: str | None = api_key
        self.models: tuple[str, ...] | None = self._initial[2]
        self.record_requests = record_requests
        self.stats = Stats()
        self.requests: list[RequestRecord] = []
        self.host = host
        self._port = port
        self._loop_kind = loop
        self._http_kind = http
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_error: BaseException | None = None
        # Generation tasks in flight, so reset()/stop() can cut them.
        self._active: set[asyncio.Task[None]] = set()
        # Streams held at pause_at_reasoning wait on this; release() opens it.
        self._gate: asyncio.Event | None = None
        self.paused = 0
        """Streams waiting at pause_at_reasoning right now."""
        self.listing = "openai"
        """The dialect of GET /v1/models: openai, vllm, ollama, llamacpp, lmstudio, openrouter."""
        self.listing_status: int | None = None
        """Answer GET /v1/models with this HTTP error instead."""
        self.context_length = 32768

    # ---- lifecycle

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """What to give an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self._port}/v1"

    def start(self, timeout: float = 10.0) -> FakeOpenAI:
        if self._thread is not None:
            raise RuntimeError("FakeOpenAI is already started")
        _install_log_filter()
        sock = bind_socket(self.host, self._port)
        self._port = sock.getsockname()[1]
        self._server = uvicorn.Server(
            _uvicorn_config(self.app, loop=self._loop_kind, http=self._http_kind, log_level="warning", in_thread=True)
        )
        self._thread = threading.Thread(target=self._run, args=(sock,), name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"fake OpenAI server did not start: {self._thread_error!r}")
            time.sleep(0.005)
        return self

    def _run(self, sock: socket.socket) -> None:
        assert self._server is not None
        server = self._server

        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        try:
            with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
                runner.run(serve())
        except BaseException as exc:  # reported by start(); a thread must not raise into pytest
            self._thread_error = exc
        finally:
            self._loop = None
            sock.close()

    def stop(self) -> None:
        if self._thread is None or self._server is None:
            return
        self._abort_active()
        # force_exit: don't wait for connections (stalled streams, keep-alive clients) to close.
        self._server.should_exit = True
        self._server.force_exit = True
        self._thread.join(timeout=10)
        if self._thread.is_alive():
            raise RuntimeError("fake OpenAI server thread did not stop")
        self._thread = None
        self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self, scenario: Scenario | None = None) -> None:
        """Back to the constructor's settings, zero counters, no records; cuts streams still running."""
        self._abort_active()
        self.scenario = scenario or Scenario()
        _default_scenario, self.api_key, self.models = self._initial
        self.stats = Stats()
        self.requests = []
        self.listing, self.listing_status, self.context_length = "openai", None, 32768
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._close_gate)

    def _close_gate(self) -> None:
        self._gate = None

    def _abort_active(self) -> None:
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._cancel_active)

    def _cancel_active(self) -> None:
        for task in list(self._active):
            task.cancel()

    async def _paused(self) -> None:
        if self._gate is None:
            self._gate = asyncio.Event()
        self.paused += 1
        try:
            await self._gate.wait()
        finally:
            self.paused -= 1

    def release(self) -> None:
        """Let every stream paused at ``pause_at_reasoning`` (now or later, until reset) go on."""
        loop = self._loop
        if loop is None:
            return

        def open_gate() -> None:
            if self._gate is None:
                self._gate = asyncio.Event()
            self._gate.set()

        loop.call_soon_threadsafe(open_gate)

    # ---- waiting

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll ``predicate`` (cheaply) until it is true; TimeoutError with the counters otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s; stats={self.stats}")
            await asyncio.sleep(0.005)

    def wait_until(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        """The blocking form of :meth:`wait_for`, for sync tests."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s; stats={self.stats}")
            time.sleep(0.005)

    # ---- the ASGI app

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        body = await _read_body(receive)
        if body is None:
            return
        if path.startswith("/_fake/") or path == "/healthz":
            await self._control(method, path, send)
            return
        stats = self.stats  # a reset() during this request must not mix it into the next test's counters
        stats.requests_total += 1
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        payload: Any = None
        if body:
            with contextlib.suppress(orjson.JSONDecodeError):
                payload = orjson.loads(body)
        record = RequestRecord(method, path, headers, payload, time.monotonic())
        if self.record_requests:
            self.requests.append(record)
        await self._route(method, path, headers, body, record, stats, receive, send)

    async def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        record: RequestRecord,
        stats: Stats,
        receive: Receive,
        send: Send,
    ) -> None:
        api: Literal["responses", "chat"] | None = None
        if method == "POST" and path == "/v1/responses":
            api = "responses"
        elif method == "POST" and path == "/v1/chat/completions":
            api = "chat"
        elif method != "GET" or not (path == "/v1/models" or path.startswith("/v1/models/")):
            message = f"Invalid URL ({method} {path})"
            await self._error(send, record, 404, message, "invalid_request_error", None)
            return
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            await self._unauthorized(send, record, headers)
            return
        if api is None:
            await self._models(send, record, path)
            return
        await self._generation(api, body, record, stats, receive, send)

    async def _error(
        self,
        send: Send,
        record: RequestRecord,
        status: int,
        message: str,
        type_: str,
        code: str | None,
        param: str | None = None,
        extra: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        record.status, record.terminal, record.finished = status, f"http_{status}", True
        headers = [(b"x-request-id", _new_id("req_", 32).encode()), *extra]
        await _send_json(send, status, _error_payload(message, type_, code, param), headers)

    async def _unauthorized(self, send: Send, record: RequestRecord, headers: dict[str, str]) -> None:
        given = headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not given:
            message = (
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
            )
            await self._error(send, record, 401, message, "invalid_request_error", None)
            return
        masked = given[:3] + "*" * 4 + given[-4:] if len(given) > 8 else given
        message = (
            f"Incorrect API key provided: {masked}. "
            "You can find your API key at https://platform.openai.com/account/api-keys."
        )
        await self._error(send, record, 401, message, "invalid_request_error", "invalid_api_key")

    def _model_list(self) -> tuple[str, ...]:
        return self.models if self.models is not None else DEFAULT_MODELS

    def _model_object(self, model: str) -> dict[str, Any]:
        created = 1_700_000_000
        dialect = self.listing
        if dialect == "vllm":
            permission = {
                "id": "modelperm-" + _new_id("", 32),
                "object": "model_permission",
                "created": created,
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
            return {
                "id": model,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": model,
                "parent": None,
                "max_model_len": self.context_length,
                "permission": [permission],
            }
        if dialect == "ollama":
            return {"id": model, "object": "model", "created": created, "owned_by": "library"}
        if dialect == "llamacpp":
            meta = {
                "vocab_type": 2,
                "n_vocab": 151936,
                "n_ctx_train": 40960,
                "n_embd": 4096,
                "n_params": 8190735360,
                "size": 5027783488,
            }
            return {"id": model, "object": "model", "created": created, "owned_by": "llamacpp", "meta": meta}
        if dialect == "lmstudio":
            return {"id": model, "object": "model", "owned_by": "organization_owner"}
        if dialect == "openrouter":
            return {
                "id": model,
                "canonical_slug": model,
                "name": model,
                "created": created,
                "description": "A model.",
                "context_length": self.context_length,
                "architecture": {"modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"]},
                "pricing": {"prompt": "0.0000001", "completion": "0.0000004"},
                "top_provider": {"context_length": self.context_length, "is_moderated": False},
                "supported_parameters": ["max_tokens", "temperature", "include_reasoning", "reasoning"]
                if "r1" in model or "think" in model
                else ["max_tokens", "temperature"],
            }
        return {"id": model, "object": "model", "created": created, "owned_by": "openai"}

    async def _models(self, send: Send, record: RequestRecord, path: str) -> None:
        if self.listing_status is not None:
            await self._error(
                send, record, self.listing_status, f"Fake HTTP {self.listing_status}.", "server_error", None
            )
            return
        record.status, record.finished = 200, True
        if path == "/v1/models":
            data = [self._model_object(m) for m in self._model_list()]
            listing: dict[str, Any] = {"object": "list", "data": data}
            if self.listing == "openrouter":
                listing = {"data": data}
            elif self.listing == "llamacpp":  # llama.cpp also answers in Ollama's shape, first
                models = [
                    {
                        "name": m,
                        "model": m,
                        "modified_at": "",
                        "size": "",
                        "digest": "",
                        "type": "model",
                        "description": "",
                        "tags": [""],
                        "capabilities": ["completion"],
                        "parameters": "",
                        "details": {
                            "parent_model": "",
                            "format": "gguf",
                            "family": "",
                            "families": [""],
                            "parameter_size": "",
                            "quantization_level": "",
                        },
                    }
                    for m in self._model_list()
                ]
                listing = {"models": models, **listing}
            await _send_json(send, 200, listing)
            return
        model = path.removeprefix("/v1/models/")
        if model not in self._model_list():
            message = f"The model '{model}' does not exist"
            await self._error(send, record, 404, message, "invalid_request_error", "model_not_found", "model")
            return
        await _send_json(send, 200, self._model_object(model))

    async def _generation(
        self,
        api: Literal["responses", "chat"],
        raw: bytes,
        record: RequestRecord,
        stats: Stats,
        receive: Receive,
        send: Send,
    ) -> None:
        body = record.json
        if not isinstance(body, dict):
            message = (
                "We could not parse the JSON body of your request. "
                "(HINT: This likely means you aren't using your HTTP library correctly.)"
            )
            await self._error(send, record, 400, message, "invalid_request_error", None)
            return
        missing = [k for k in ("model", "messages" if api == "chat" else "input") if body.get(k) in (None, "", [])]
        if missing:
            message = f"Missing required parameter: '{missing[0]}'."
            await self._error(
                send, record, 400, message, "invalid_request_error", "missing_required_parameter", missing[0]
            )
            return
        model = str(body["model"])
        if self.models is not None and model not in self.models:
            message = f"The requested model '{model}' does not exist."
            await self._error(send, record, 400, message, "invalid_request_error", "model_not_found", "model")
            return
        try:
            overrides = parse_directive(_last_user_text(_messages(body, api)))
            scenario = dataclasses.replace(self.scenario, **overrides)
        except ValueError as exc:
            await self._error(send, record, 400, f"fake directive: {exc}", "invalid_request_error", None)
            return
        record.scenario = scenario
        record.stream = body.get("stream") is True
        if scenario.status_before_stream is not None:
            await self._status_error(send, record, scenario)
            return
        if scenario.silent:
            record.terminal = "silent"
            await self._run_watched(asyncio.Event().wait(), receive, record, stats)
            return
        if (
            api == "responses"
            and scenario.summary_forbidden
            and isinstance(body.get("reasoning"), dict)
            and "summary" in body["reasoning"]
        ):
            await self._error(
                send,
                record,
                400,
                SUMMARY_REFUSED_MESSAGE,
                "invalid_request_error",
                "unsupported_value",
                "reasoning.summary",
            )
            return
        try:
            plan = _make_plan(scenario, api, body)
        except ValueError as exc:
            await self._error(send, record, 400, f"fake scenario: {exc}", "invalid_request_error", None)
            return
        wire: _Wire = _ResponsesWire(plan) if api == "responses" else _ChatWire(plan)
        work = (
            self._stream(send, record, stats, plan, wire)
            if record.stream
            else self._whole(send, record, stats, plan, wire)
        )
        await self._run_watched(work, receive, record, stats)

    async def _status_error(self, send: Send, record: RequestRecord, scenario: Scenario) -> None:
        status = scenario.status_before_stream
        assert status is not None
        type_, code, message = _STATUS_ERRORS.get(status, ("server_error", None, f"Fake HTTP {status}."))
        extra = [(b"retry-after", str(scenario.retry_after).encode())] if status == 429 else []
        await self._error(send, record, status, message, type_, code, extra=extra)

    async def _run_watched(self, work: Awaitable[None], receive: Receive, record: RequestRecord, stats: Stats) -> None:
        """Run a generation while a second task watches ``receive()`` for the client leaving.

        The watcher is what makes a client's cancellation visible at once (streams_disconnected,
        disconnected_at), even while the generation sleeps or stalls: it then cancels the generation.
        """
        task = asyncio.ensure_future(work)
        watcher = asyncio.ensure_future(self._watch_disconnect(receive, record, stats))
        self._active.add(task)
        try:
            await asyncio.wait((task, watcher), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            task.cancel()
            watcher.cancel()
            raise
        finally:
            self._active.discard(task)
        if not task.done():  # the client went away first
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
        watcher.cancel()
        if task.cancelled():  # reset()/stop(): cut the connection so nothing hangs on it
            record.terminal = record.terminal or "aborted"
            stats.streams_dropped += 1
            raise _DropConnection
        exc = task.exception()
        if isinstance(exc, OSError):  # a failed write: the client is gone
            self._note_disconnect(record, stats)
        elif exc is not None:
            raise exc

    async def _watch_disconnect(self, receive: Receive, record: RequestRecord, stats: Stats) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._note_disconnect(record, stats)
                return

    @staticmethod
    def _note_disconnect(record: RequestRecord, stats: Stats) -> None:
        # uvicorn also answers http.disconnect once the response is complete: that is no disconnect.
        if not record.finished and record.disconnected_at is None:
            record.disconnected_at = time.monotonic()
            stats.streams_disconnected += 1

    async def _stream(self, send: Send, record: RequestRecord, stats: Stats, plan: _Plan, wire: _Wire) -> None:
        scenario = plan.scenario
        headers = [*_SSE_HEADERS, (b"x-request-id", _new_id("req_", 32).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        record.status = 200
        await _send_body(send, wire.preamble())
        stats.streams_started += 1
        if scenario.first_token_delay > 0:
            await asyncio.sleep(scenario.first_token_delay)
        loop = asyncio.get_running_loop()
        interval = 1.0 / scenario.rate if scenario.rate > 0 else 0.0
        start = loop.time()
        thoughts = plan.thoughts
        for j, thought in enumerate(thoughts):
            if j == 0:
                await _send_body(send, wire.open_reasoning())
            if scenario.pause_at_reasoning == j:
                await self._paused()
                start = loop.time() - j * interval
            wait = start + j * interval - loop.time() if interval else 0.0
            await asyncio.sleep(wait if wait > 0 else 0)
            await _send_body(send, wire.reasoning_delta(j, thought))
        if thoughts:
            if scenario.pause_at_reasoning == len(thoughts):
                await self._paused()
                start = loop.time() - len(thoughts) * interval
            await _send_body(send, wire.close_reasoning())
        start += len(thoughts) * interval
        for i in range(plan.sent):
            if i == 0:
                await _send_body(send, wire.open_text())
            # Absolute schedule: a late wake-up doesn't push every later delta back. Sleeping (even 0)
            # also lets other streams and the disconnect watcher run between deltas.
            wait = start + i * interval - loop.time() if interval else 0.0
            await asyncio.sleep(wait if wait > 0 else 0)
            if scenario.embed_timestamp:
                text, encoded, cut = _timestamp_text()
            else:
                text, encoded, cut = plan.texts[i], plan.encoded[i], plan.cuts[i]
            frame, offset = wire.delta(text, encoded)
            if scenario.split_utf8:
                await _send_body(send, frame[: offset + cut])
                await asyncio.sleep(0.005)  # let the first half leave as its own TCP segment
                await _send_body(send, frame[offset + cut :])
            else:
                await _send_body(send, frame)
            record.deltas_sent += 1
            stats.deltas_sent += 1
        await self._settle(record, stats, plan.kind)
        frames, label = wire.finish(plan.kind)
        await send({"type": "http.response.body", "body": frames, "more_body": False})
        record.finished, record.terminal = True, label
        stats.streams_completed += 1

    @staticmethod
    async def _settle(record: RequestRecord, stats: Stats, kind: str) -> None:
        """Carry out drop/stall; return for every other outcome."""
        if kind == "dropped":
            record.terminal = "dropped"
            stats.streams_dropped += 1
            raise _DropConnection
        if kind == "stalled":
            record.terminal = "stalled"
            await asyncio.Event().wait()  # until the watcher (client left) or reset()/stop() cancels us

    async def _whole(self, send: Send, record: RequestRecord, stats: Stats, plan: _Plan, wire: _Wire) -> None:
        """A non-streaming reply: wait as long as generating would take, then one JSON body."""
        scenario = plan.scenario
        duration = scenario.first_token_delay + (plan.sent / scenario.rate if scenario.rate > 0 else 0.0)
        await asyncio.sleep(duration)
        if plan.kind == "dropped":
            # Promise a body, send half of it, then cut the connection.
            await send(
                {"type": "http.response.start", "status": 200, "headers": [_JSON_TYPE, (b"content-length", b"64")]}
            )
            await send({"type": "http.response.body", "body": b'{"id":"', "more_body": True})
        await self._settle(record, stats, plan.kind)
        if scenario.embed_timestamp:
            texts: Sequence[str] = [_timestamp_text()[0] for _ in range(plan.sent)]
        else:
            texts = plan.texts[: plan.sent]
        status, payload, label = wire.whole(plan.kind, texts)
        await _send_json(send, status, payload, [(b"x-request-id", _new_id("req_", 32).encode())])
        record.status, record.finished, record.terminal = status, True, label
        record.deltas_sent = len(texts)
        stats.deltas_sent += len(texts)
        stats.streams_completed += 1

    async def _control(self, method: str, path: str, send: Send) -> None:
        """Out-of-band endpoints for a fake run as a process: /healthz, /_fake/stats, /_fake/reset."""
        if path == "/healthz":
            await _send_json(send, 200, {"ok": True})
        elif path == "/_fake/stats":
            await _send_json(send, 200, self.stats.as_dict())
        elif path == "/_fake/reset" and method == "POST":
            self.stats = Stats()
            self.requests = []
            await _send_json(send, 200, {"ok": True})
        else:
            await _send_json(send, 404, _error_payload(f"Invalid URL ({method} {path})", "invalid_request_error", None))


async def _send_body(send: Send, body: bytes) -> None:
    if body:
        await send({"type": "http.response.body", "body": body, "more_body": True})


# --------------------------------------------------------------------------------------------------
# Serving


def bind_socket(host: str, port: int, backlog: int = 4096) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one (read it back with getsockname())."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def _uvicorn_config(
    app: Callable[[Scope, Receive, Send], Awaitable[None]],
    *,
    loop: str,
    http: str,
    log_level: str,
    in_thread: bool,
    backlog: int = 4096,
) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        interface="asgi3",
        lifespan="off",
        loop=loop,
        http=http,
        log_level=log_level,
        # In-process: leave the test process's logging config alone (no dictConfig of uvicorn's own).
        log_config=None if in_thread else LOGGING_CONFIG,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        backlog=backlog,
        timeout_graceful_shutdown=1,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the fake until killed: ``python -m tests.fakes.openai_server --port 9100 ...``."""
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.openai_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--rate", type=float, default=0.0, help="deltas per second; 0 = as fast as possible")
    parser.add_argument("--first-token-delay", type=float, default=0.0)
    parser.add_argument("--status-before-stream", type=int, default=None)
    parser.add_argument("--fail-after", type=int, default=None)
    parser.add_argument("--failure", choices=FAILURES, default="response.failed")
    parser.add_argument("--drop-after", type=int, default=None)
    parser.add_argument("--stall-after", type=int, default=None)
    parser.add_argument("--split-utf8", action="store_true")
    parser.add_argument("--embed-timestamp", action="store_true")
    parser.add_argument("--retry-after", type=int, default=1)
    parser.add_argument("--api-key", default=None, help="require this Bearer key")
    parser.add_argument("--models", default=None, help="comma-separated model allowlist")
    parser.add_argument("--record-requests", action="store_true", help="keep per-request records (memory grows)")
    parser.add_argument("--loop", default="auto", help="uvicorn loop: auto (uvloop if installed), asyncio, uvloop")
    parser.add_argument("--http", default="auto", help="uvicorn http: auto (httptools if installed), h11, httptools")
    parser.add_argument("--backlog", type=int, default=4096)
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    scenario = Scenario(
        tokens=args.tokens,
        rate=args.rate,
        first_token_delay=args.first_token_delay,
        status_before_stream=args.status_before_stream,
        fail_after=args.fail_after,
        failure=args.failure,
        drop_after=args.drop_after,
        stall_after=args.stall_after,
        split_utf8=args.split_utf8,
        embed_timestamp=args.embed_timestamp,
        retry_after=args.retry_after,
    )
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    fake = FakeOpenAI(
        scenario, api_key=args.api_key, models=models, host=args.host, record_requests=args.record_requests
    )
    _install_log_filter()
    sock = bind_socket(args.host, args.port, args.backlog)
    port = sock.getsockname()[1]
    config = _uvicorn_config(
        fake.app, loop=args.loop, http=args.http, log_level=args.log_level, in_thread=False, backlog=args.backlog
    )
    # The socket already listens, so clients may connect as soon as this line is out.
    print(f"fake openai listening on http://{args.host}:{port}/v1", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
