"""What a provider is: something that turns a generation request into a stream of events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rillchat.events import Delta, ErrorEvent, Finish, Queued, Reasoning
from rillchat.providers.capabilities import ModelTraits

__all__ = [
    "ChatMessage",
    "GenerationRequest",
    "ModelInfo",
    "Provider",
    "ProviderEvent",
    "ProviderStream",
    "ReasoningEffort",
]

Role = Literal["system", "user", "assistant"]
ReasoningEffort = Literal["minimal", "low", "medium", "high"]
ProviderEvent = Queued | Reasoning | Delta | ErrorEvent | Finish
ProviderStream = AsyncIterator[ProviderEvent]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    reasoning: str | None = None
    """What the model thought before this (assistant) message; providers drop it unless told otherwise."""


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """A provider-neutral request. ``model`` is the name the provider knows, not rillchat's model id.

    ``messages`` may end with an assistant message: the reply so far, which the model carries on (Continue).
    ``max_output_tokens`` None: no cap of ours (the model's context, or the upstream's own limit).
    """

    model: str
    messages: list[ChatMessage]
    instructions: str | None = None
    temperature: float | None = None
    max_output_tokens: int | None = None
    reasoning_effort: ReasoningEffort | None = None
    """How hard a reasoning model should think; None leaves it to the model."""

    @property
    def continues(self) -> bool:
        """True when the last message is a partial assistant reply to carry on."""
        return bool(self.messages) and self.messages[-1].role == "assistant"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    id: str
    provider: str
    upstream: str
    upstream_model: str
    aliases: list[str] = field(default_factory=list)
    traits: ModelTraits = field(default_factory=ModelTraits)
    available: bool = True


class Provider(Protocol):
    """A model backend.

    ``open`` does everything that can fail before the reply starts (connect, authenticate, validate) and
    raises a :class:`rillchat.errors.RillchatError` for it, so the HTTP layer can still answer with a status.
    It returns the reply's stream: ``Queued``/``Delta`` events, then in-band failures as ``ErrorEvent``
    followed by exactly one ``Finish``. Transport failures mid-stream are raised as ``UpstreamError``.
    Closing the stream (``aclose``, or cancelling the task iterating it) must stop the model: close the
    upstream connection or halt local generation.
    """

    name: str
    kind: str

    def model_names(self) -> list[str]: ...

    async def open(self, request: GenerationRequest) -> ProviderStream: ...

    async def aclose(self) -> None: ...
