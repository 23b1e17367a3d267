"""What a model can do, as far as rillchat knows: from its name, the upstream's listing, and what it did.

Nothing here asks an upstream; ``discovery.py`` feeds in what listings say, providers note what they see.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache

__all__ = ["ModelTraits", "matches_any", "reasoning_by_name", "refuses_temperature", "takes_effort"]

# Families of reasoning models, by the last path segment of the model name, lowercased. Deliberately
# specific: a model wrongly taken for a reasoning model would be sent parameters it rejects.
REASONING_FAMILIES: tuple[str, ...] = (
    "o1*",
    "o3*",
    "o4*",
    "gpt-5*",
    "gpt-oss*",
    "deepseek-r1*",
    "deepseek-reasoner*",
    "*-r1-distill*",
    "qwen3*",
    "qwq*",
    "magistral*",
    "phi-4*reasoning*",
    "*-thinking*",
    "*thinking-*",
)

# Those that take a reasoning effort (OpenAI's ``reasoning.effort`` / ``reasoning_effort``).
EFFORT_FAMILIES: tuple[str, ...] = ("o1*", "o3*", "o4*", "gpt-5*", "gpt-oss*")

# OpenAI's own reasoning models refuse ``temperature``.
NO_TEMPERATURE_FAMILIES: tuple[str, ...] = ("o1*", "o3*", "o4*", "gpt-5*")


def _base(model: str) -> str:
    # "openai/gpt-oss-20b", "library/qwen3:8b", "unsloth/Qwen3-8B-GGUF" -> the model's own name.
    return model.rsplit("/", 1)[-1].lower()


def matches_any(model: str, patterns: tuple[str, ...] | list[str]) -> bool:
    """Shell-style match on the whole name or its last path segment, case-insensitively."""
    return _matches_any(model, tuple(patterns))


@lru_cache(maxsize=1024)
def _matches_any(model: str, patterns: tuple[str, ...]) -> bool:
    # Asked a few times per reply for the same few names; fnmatch over every family costs ~40 µs.
    name = model.lower()
    base = _base(model)
    return any(fnmatchcase(name, p.lower()) or fnmatchcase(base, p.lower()) for p in patterns)


def reasoning_by_name(model: str, patterns: list[str] | None = None) -> bool:
    return matches_any(model, REASONING_FAMILIES if patterns is None else patterns)


def takes_effort(model: str) -> bool:
    return matches_any(model, EFFORT_FAMILIES)


def refuses_temperature(model: str) -> bool:
    return matches_any(model, NO_TEMPERATURE_FAMILIES)


@dataclass(frozen=True, slots=True)
class ModelTraits:
    """``reasoning`` None means not known; ``context_length`` only when the upstream's listing says."""

    reasoning: bool | None = None
    reasoning_effort: bool = False
    context_length: int | None = None
