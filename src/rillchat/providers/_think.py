"""Split a model's inline ``<think>…</think>`` reasoning out of its answer, incrementally.

Servers without a reasoning parser (llama.cpp without ``--reasoning-format``, LM Studio, older vLLM, many
proxies) stream a reasoning model's thoughts as ordinary content wrapped in ``<think>`` tags. The tags
arrive split anywhere (``"<th"`` + ``"ink>"``), so this is an incremental decoder in the house style
(``decode(chunk) -> list``, ``flush() -> list``): whatever could still be the start of a tag is held back
until the next chunk says what it is, never longer.

Modes (per upstream, ``think_tags``):

- ``auto``: a reply that *opens* with ``<think>`` (leading whitespace allowed) is split; anything else
  passes through untouched after at most the first few characters.
- ``on``: the reply starts *inside* reasoning unless it opens with ``<think>``, i.e. everything up to the
  first ``</think>`` is reasoning. Newer Qwen3 templates open the tag in the prompt, so the output holds only
  ``</think>``. A model that never closes the tag has all its text shown as reasoning.
- ``off``: no splitting (the provider does not build a splitter at all).

Once the answer has begun the splitter is done (``passthrough``): the provider drops it, and the rest of a
reply costs nothing here. Whitespace right after ``<think>`` and right after ``</think>`` is dropped (models
put a newline or two there that would otherwise start the block and the answer with blank lines).
"""

from __future__ import annotations

from typing import Literal

from rillchat.events import Delta, Reasoning

__all__ = ["ThinkMode", "ThinkSplitter"]

ThinkMode = Literal["auto", "on", "off"]

_OPEN = "<think>"
_CLOSE = "</think>"

# States
_OPENING = 0  # at the start of the reply: might a <think> come?
_THINKING = 1  # inside the reasoning, looking for </think>
_ANSWER_START = 2  # just after </think>: dropping the whitespace before the answer
_PASSTHROUGH = 3  # the answer: nothing more to do


class ThinkSplitter:
    __slots__ = ("_held", "_mode", "_state", "_strip")

    def __init__(self, mode: Literal["auto", "on"]) -> None:
        self._mode = mode
        self._state = _OPENING
        self._held = ""  # text that could still be (part of) a tag
        self._strip = False  # drop leading whitespace of the reasoning

    @property
    def passthrough(self) -> bool:
        """True once the answer has begun: from then on every chunk is answer text as it is."""
        return self._state == _PASSTHROUGH

    @property
    def untouched(self) -> bool:
        """Nothing emitted or decided yet (the reply has sent only whitespace, or a piece of ``<think>``)."""
        return self._state == _OPENING

    def decode(self, chunk: str) -> list[Reasoning | Delta]:
        out: list[Reasoning | Delta] = []
        text = self._held + chunk
        self._held = ""
        if self._state == _OPENING:
            text = self._opening(text, out)
        if self._state == _THINKING:
            text = self._thinking(text, out)
        if self._state == _ANSWER_START:
            text = text.lstrip()
            if text:
                self._state = _PASSTHROUGH
        if self._state == _PASSTHROUGH and text:
            out.append(Delta(text))
        return out

    def flush(self) -> list[Reasoning | Delta]:
        """The end of the reply: whatever was held is what it looked like."""
        held, self._held = self._held, ""
        if not held:
            return []
        if self._state == _THINKING or (self._state == _OPENING and self._mode == "on"):
            return [Reasoning(held)]
        return [Delta(held)]

    def abandon(self) -> list[Reasoning | Delta]:
        """The server turned out to split reasoning itself (it sent a reasoning field): stop splitting."""
        held, self._held = self._held, ""
        self._state = _PASSTHROUGH
        return [Delta(held)] if held.strip() else []

    def _opening(self, text: str, out: list[Reasoning | Delta]) -> str:
        stripped = text.lstrip()
        if stripped.startswith(_OPEN):
            self._state = _THINKING
            self._strip = True
            return stripped[len(_OPEN) :]
        if len(stripped) < len(_OPEN) and _OPEN.startswith(stripped):
            self._held = text  # only whitespace, or a beginning of "<think>", so far
            return ""
        if self._mode == "on":
            self._state = _THINKING
            self._strip = True
            return text
        self._state = _PASSTHROUGH
        return text

    def _thinking(self, text: str, out: list[Reasoning | Delta]) -> str:
        if self._strip:
            text = text.lstrip()
            if not text:
                return ""
            self._strip = False
        end = text.find(_CLOSE)
        if end >= 0:
            if end:
                out.append(Reasoning(text[:end]))
            self._state = _ANSWER_START
            return text[end + len(_CLOSE) :]
        # Hold back a tail that could be the start of "</think>". The tag has one "<", at its start, so
        # such a tail starts at the last "<" of the text.
        cut = text.rfind("<", max(0, len(text) - len(_CLOSE) + 1))
        if cut >= 0 and _CLOSE.startswith(text[cut:]):
            self._held = text[cut:]
            text = text[:cut]
        if text:
            out.append(Reasoning(text))
        return ""
