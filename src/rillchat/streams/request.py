"""What starting a reply takes, whoever asks: a plain value, so ``streams`` need not know the HTTP layer.

The API validates its JSON body (``rillchat.api.schemas.ChatRequest``) and converts it into this.
"""

from __future__ import annotations

from dataclasses import dataclass

from rillchat.providers import ChatMessage
from rillchat.providers.base import ReasoningEffort

__all__ = ["ReplyRequest"]


@dataclass(frozen=True, slots=True)
class ReplyRequest:
    user_input: str
    messages: tuple[ChatMessage, ...] = ()  # earlier turns, oldest first (stateless replies)
    instructions: str | None = None  # None: the configured default; "" is a value
    model: str | None = None  # a model id or alias; None: the default model
    temperature: float | None = None  # None: the configured default; 0 is a value
    max_output_tokens: int | None = None
    conversation_id: str | None = None  # continue a stored conversation
    client_request_id: str | None = None  # idempotency key, per owner
    replace_from_message_id: str | None = None  # edit: a new version of this user message (text: user_input)
    regenerate_message_id: str | None = None  # a new version of this assistant message
    continue_message_id: str | None = None  # carry this cut-short assistant message on (same id, text appended)
    reasoning_effort: ReasoningEffort | None = None  # for models that take one; None: the model's default
