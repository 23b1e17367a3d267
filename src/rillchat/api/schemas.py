"""Request and response bodies, in the guide's camelCase."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rillchat.errors import InvalidField
from rillchat.providers import ChatMessage
from rillchat.streams.request import ReplyRequest

__all__ = [
    "ChatReply",
    "ChatRequest",
    "ErrorBody",
    "ErrorDetail",
    "ModelCapabilities",
    "ModelList",
    "ModelOut",
    "UpstreamOut",
    "WireMessage",
    "WireUsage",
    "not_blank",
]


def not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("must not be blank")
    return value


def not_blank_if_given(value: str) -> str:
    return value if value == "" else str(not_blank(value))


class WireMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str
    reasoning: str | None = Field(
        default=None, description="An assistant turn's reasoning; sent upstream only where configured."
    )


class ChatRequest(BaseModel):
    """The guide's body (``userInput``, ``messages``, ``instructions``, ``model``, ``temperature``) and more.

    Strict types: ``temperature: true`` or ``maxOutputTokens: "5"`` are mistakes to report, not to guess at.
    """

    model_config = ConfigDict(extra="ignore", strict=True)

    userInput: str = Field(
        default="", description="The new user message (may be left out with continueMessageId/regenerateMessageId)."
    )
    messages: list[WireMessage] = Field(default_factory=list, description="Earlier turns, oldest first.")
    instructions: str | None = Field(default=None, description="System prompt.")
    model: str | None = Field(default=None, description="A model id from /api/models; default if absent.")
    temperature: float | None = Field(default=None, ge=0, le=2, description="0 means 0.")
    maxOutputTokens: int | None = Field(
        default=None, ge=1, description="Output cap; absent: as much as the model's context allows."
    )
    reasoningEffort: Literal["minimal", "low", "medium", "high"] | None = Field(
        default=None, description="How hard a reasoning model thinks; models without the setting ignore it."
    )
    conversationId: str | None = Field(default=None, description="Continue a stored conversation.")
    clientRequestId: str | None = Field(
        default=None, min_length=1, max_length=200, description="Idempotency key: a retry attaches."
    )
    replaceFromMessageId: str | None = Field(
        default=None, description="Edit: a new version of this user message (text: userInput), then its reply."
    )
    regenerateMessageId: str | None = Field(
        default=None, description="Regenerate: a new version of this assistant message; the old one is kept."
    )
    continueMessageId: str | None = Field(
        default=None,
        description="Continue this assistant message (incomplete, interrupted or stopped): same id, text appended.",
    )

    # "" is left for the reply service to judge: Continue and regenerate take no new user message.
    _user_input_not_blank = field_validator("userInput")(not_blank_if_given)

    def reply_request(self) -> ReplyRequest:
        if self.replaceFromMessageId is not None and self.conversationId is None:
            raise InvalidField("replaceFromMessageId", "needs the conversationId it belongs to")
        return ReplyRequest(
            user_input=self.userInput,
            messages=tuple(ChatMessage(m.role, m.content, m.reasoning) for m in self.messages),
            instructions=self.instructions,
            model=self.model,
            temperature=self.temperature,
            max_output_tokens=self.maxOutputTokens,
            conversation_id=self.conversationId,
            client_request_id=self.clientRequestId,
            replace_from_message_id=self.replaceFromMessageId,
            reasoning_effort=self.reasoningEffort,
            regenerate_message_id=self.regenerateMessageId,
            continue_message_id=self.continueMessageId,
        )


class WireUsage(BaseModel):
    inputTokens: int | None
    outputTokens: int | None
    reasoningTokens: int | None = None


class ChatReply(BaseModel):
    replyId: str
    text: str
    reasoning: str | None = None
    reasoningSeconds: float | None = None
    model: str
    status: str
    finishReason: str
    usage: WireUsage | None
    conversationId: str | None = None
    userMessageId: str | None = None
    assistantMessageId: str | None = None


class ModelCapabilities(BaseModel):
    reasoning: bool | None = Field(description="It thinks before answering; null when not known.")
    reasoningEffort: bool = Field(description="It takes reasoningEffort (minimal, low, medium, high).")
    contextLength: int | None = Field(description="Its context window in tokens, when the upstream says.")


class ModelOut(BaseModel):
    id: str
    provider: str
    upstream: str
    upstreamModel: str
    default: bool
    aliases: list[str]
    available: bool = Field(description="False while its upstream fails to answer (see upstreams).")
    capabilities: ModelCapabilities


class UpstreamOut(BaseModel):
    name: str
    kind: str
    discovered: bool = Field(description='Its models come from its own listing (models = "auto").')
    available: bool | None = Field(description="null until its first listing has been asked for.")
    reason: str | None = Field(description="Why it is unavailable.")
    checkedAt: datetime | None


class Limits(BaseModel):
    """The request limits a client can check before sending (the UI refuses bad input where it is typed)."""

    maxTextChars: int
    maxOutputTokens: int


class ModelList(BaseModel):
    data: list[ModelOut]
    default: str
    limits: Limits
    upstreams: list[UpstreamOut]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail
