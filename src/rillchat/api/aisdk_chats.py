"""The Vercel AI SDK's chats as rillchat conversations: its request body, and its messages from storage.

``useChat`` sends the whole chat as it sees it (``messages``, UIMessages with ``parts``) with every request;
rillchat's conversation is the source of truth where it knows the chat. ``plan_turn`` reconciles the two by
counting user turns, not by comparing texts (an assistant text the client saw may be shorter than the stored
one, when it stopped reading early):

- ``submit-message``: the last message is the new user turn. When the client sent ``messageId`` (an edit
  of an earlier user message, ``sendMessage({ text, messageId })``), the stored turn at that place and all
  after it are replaced; otherwise the turn is appended to the stored history, so a client that sends only the
  last message works too. A chat that storage does not know yet is seeded with the client's earlier turns.
- ``regenerate-message``: a new version of the stored reply (earlier versions stay as branches): the
  assistant message ``messageId`` names, else the reply to the user turn at the same place in the client's
  list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rillchat.errors import InvalidField
from rillchat.storage import MessageRecord

__all__ = [
    "CHAT_ID_PATTERN",
    "TurnPlan",
    "UIChatHistory",
    "UIChatRequest",
    "UIMessageIn",
    "UIMessageOut",
    "plan_turn",
    "ui_messages",
]

# Safe in a URL path segment unescaped; no leading dot, so never "." or ".." (which the SDK refuses too).
CHAT_ID_PATTERN = r"^[A-Za-z0-9_:~-][A-Za-z0-9_.:~-]{0,199}$"


class UIPartIn(BaseModel):
    """A part of a UIMessage; only text parts are read (files, tools and the like are not supported)."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=100)
    text: str | None = None


class UIMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(default="", max_length=200)
    role: Literal["system", "user", "assistant"]
    parts: list[UIPartIn] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.parts if p.type == "text" and p.text)


class UIChatRequest(BaseModel):
    """What ``DefaultChatTransport`` posts, plus rillchat's options (send them with the transport's ``body``)."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=CHAT_ID_PATTERN, description="The chat's id: names one conversation per API key.")
    messages: list[UIMessageIn] = Field(min_length=1, description="The chat as the client sees it, oldest first.")
    trigger: Literal["submit-message", "regenerate-message"] = "submit-message"
    messageId: str | None = Field(default=None, max_length=200)
    resumable: bool = Field(
        default=False,
        description="The client resumes (`useChat({ resume: true })`): leaving does not stop the model; "
        "stop it with POST /api/streams/{replyId}/stop. Without it, aborting the request stops the model.",
    )
    model: str | None = Field(default=None, description="A model id from /api/models; default if absent.")
    instructions: str | None = Field(default=None, description="System prompt (else the chat's system message).")
    temperature: float | None = Field(default=None, ge=0, le=2)
    maxOutputTokens: int | None = Field(default=None, ge=1)
    clientRequestId: str | None = Field(
        default=None, min_length=1, max_length=200, description="Idempotency key: a retry attaches."
    )


class UIMessageOut(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    parts: list[dict[str, str]]
    metadata: dict[str, Any] | None = None


class UIChatHistory(BaseModel):
    messages: list[UIMessageOut]


@dataclass(frozen=True, slots=True)
class TurnPlan:
    user_text: str
    instructions: str | None = None
    replace_from_message_id: str | None = None
    regenerate_message_id: str | None = None
    seed: list[tuple[str, str]] = field(default_factory=list)


def plan_turn(body: UIChatRequest, stored: list[MessageRecord], max_chars: int) -> TurnPlan:
    """What to ask the reply service for, given what the client sent and what storage holds."""
    for i, message in enumerate(body.messages):
        if len(message.text) > max_chars:
            raise InvalidField(f"messages.{i}.parts", f"at most {max_chars} characters of text")
    last = body.messages[-1]
    if last.role != "user" or not last.text.strip():
        raise InvalidField("messages", "the last message must be a user message with a text part")
    earlier = body.messages[:-1]
    system = next((m.text for m in earlier if m.role == "system" and m.text), None)
    instructions = body.instructions if body.instructions is not None else system
    turns_before = sum(1 for m in earlier if m.role == "user")
    stored_users = [m for m in stored if m.role == "user"]
    if body.trigger == "regenerate-message":
        target = _reply_to_regenerate(stored, body.messageId, turns_before)
        if target is not None:
            return TurnPlan(last.text, instructions, regenerate_message_id=target.id)
        if turns_before < len(stored_users):  # that turn has no reply stored: answer it as a new version
            return TurnPlan(last.text, instructions, stored_users[turns_before].id)
    if not stored:
        seed: list[tuple[str, str]] = [(m.role, m.text) for m in earlier if m.role in ("user", "assistant") and m.text]
        return TurnPlan(last.text, instructions, seed=seed)
    if body.trigger == "submit-message" and body.messageId is not None and turns_before < len(stored_users):
        return TurnPlan(last.text, instructions, stored_users[turns_before].id)
    return TurnPlan(last.text, instructions)


def _reply_to_regenerate(
    stored: list[MessageRecord], message_id: str | None, turns_before: int
) -> MessageRecord | None:
    """The stored assistant message a regenerate names (``messageId``), else the reply to the user turn at
    the same place as the client's last message."""
    by_id = next((i for i, m in enumerate(stored) if m.id == message_id), None) if message_id else None
    if by_id is None:
        users = [i for i, m in enumerate(stored) if m.role == "user"]
        if turns_before >= len(users):
            return None
        by_id = users[turns_before]
    if stored[by_id].role == "assistant":
        return stored[by_id]
    following = stored[by_id + 1] if by_id + 1 < len(stored) else None
    return following if following is not None and following.role == "assistant" else None


def ui_messages(stored: list[MessageRecord]) -> list[UIMessageOut]:
    """The stored chat as UIMessages for ``useChat({ messages })``.

    A reply still being generated is left out: ``resume: true`` brings it, whole, from its stream.
    """
    out: list[UIMessageOut] = []
    for m in stored:
        if m.role not in ("user", "assistant") or m.status == "streaming":
            continue
        parts = [{"type": "text", "text": m.content}] if m.content else []
        if m.role == "assistant" and m.reasoning:
            parts.insert(0, {"type": "reasoning", "text": m.reasoning})
        if m.role == "user":
            out.append(UIMessageOut(id=m.id, role="user", parts=parts))
            continue
        metadata: dict[str, Any] = {
            "replyId": m.reply_id,
            "model": m.model,
            "status": m.status,
            "finishReason": m.finish_reason,
        }
        if m.reasoning_seconds is not None:
            metadata["reasoningSeconds"] = m.reasoning_seconds
        if m.error_code:
            metadata["error"] = {"code": m.error_code, "message": m.error_message or ""}
        out.append(UIMessageOut(id=m.id, role="assistant", parts=parts, metadata=metadata))
    return out
