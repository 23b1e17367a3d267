"""ChatGPT's ``conversations.json`` (Settings → Data controls → Export data), read into plain turns.

The file is a list of conversations. Each has a ``mapping`` of node id → ``{id, message, parent, children}``,
a tree because every edit or regeneration starts a branch, and ``current_node``, the last message of the
branch that was on screen. We keep that branch: from ``current_node`` up the ``parent`` links to the root.

A ``message`` has ``author.role`` (user, assistant, system, tool), ``content.content_type`` and
``content.parts``, ``create_time`` (epoch seconds, may be null) and ``metadata.model_slug``. Kept: user and
assistant text ("text", and the text parts of "multimodal_text"), addressed to everyone (``recipient`` "all");
the first visible system text becomes the conversation's instructions. Tool calls, tool output, images and
hidden context are left out: they are not conversation text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rillchat.archive.errors import InvalidImport

__all__ = ["ChatGPTConversation", "ChatGPTMessage", "read_conversations"]


@dataclass(frozen=True, slots=True)
class ChatGPTMessage:
    role: str
    content: str
    created_at: datetime
    model: str | None


@dataclass(frozen=True, slots=True)
class ChatGPTConversation:
    title: str
    created_at: datetime
    updated_at: datetime
    instructions: str | None = None
    messages: list[ChatGPTMessage] = field(default_factory=list)


def _invalid(path: str, message: str) -> InvalidImport:
    return InvalidImport(path, message)


def _time(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return fallback
    return fallback


def _text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    kind = content.get("content_type")
    if kind not in ("text", "multimodal_text"):
        return ""
    parts = content.get("parts")
    if not isinstance(parts, list):
        return ""
    return "\n".join(p for p in parts if isinstance(p, str)).strip()


def _branch(mapping: dict[str, Any], current: str, path: str) -> list[dict[str, Any]]:
    """The messages from the root down to ``current``."""
    chain: list[dict[str, Any]] = []
    seen: set[str] = set()
    node_id: Any = current
    while node_id is not None:
        if not isinstance(node_id, str) or node_id not in mapping:
            raise _invalid(f"{path}.mapping", f"node {node_id!r} is referenced but missing")
        if node_id in seen:
            raise _invalid(f"{path}.mapping", f"the parent links loop at node {node_id!r}")
        seen.add(node_id)
        node = mapping[node_id]
        if not isinstance(node, dict):
            raise _invalid(f"{path}.mapping.{node_id}", "a node must be an object")
        if isinstance(node.get("message"), dict):
            chain.append(node["message"])
        node_id = node.get("parent")
    chain.reverse()
    return chain


def _last_leaf(mapping: dict[str, Any]) -> str | None:
    """Without ``current_node``: the leaf written last."""
    leaves = [
        (_time((n.get("message") or {}).get("create_time"), datetime.min.replace(tzinfo=UTC)), key)
        for key, n in mapping.items()
        if isinstance(n, dict) and not n.get("children")
    ]
    return max(leaves)[1] if leaves else None


def _conversation(raw: Any, index: int, now: datetime) -> ChatGPTConversation:
    path = f"[{index}]"
    if not isinstance(raw, dict):
        raise _invalid(path, "a conversation must be an object")
    title = raw.get("title") if isinstance(raw.get("title"), str) else None
    if title:
        path = f"[{index}] ({title[:40]!r})"
    mapping = raw.get("mapping")
    if not isinstance(mapping, dict):
        raise _invalid(f"{path}.mapping", "missing or not an object: is this a ChatGPT conversations.json?")
    created = _time(raw.get("create_time"), now)
    updated = _time(raw.get("update_time"), created)
    current = raw.get("current_node")
    if current is None:
        current = _last_leaf(mapping)
    elif not isinstance(current, str) or current not in mapping:
        raise _invalid(f"{path}.current_node", f"{current!r} is not a node of the mapping")
    instructions: str | None = None
    messages: list[ChatGPTMessage] = []
    for message in _branch(mapping, current, path) if current is not None else []:
        author = message.get("author")
        role = author.get("role") if isinstance(author, dict) else None
        if role is None:
            raise _invalid(f"{path}.mapping", f"message {message.get('id')!r} has no author.role")
        text = _text(message.get("content"))
        metadata: dict[str, Any] = message["metadata"] if isinstance(message.get("metadata"), dict) else {}
        hidden = bool(metadata.get("is_visually_hidden_from_conversation"))
        if not text or hidden or message.get("recipient", "all") != "all":
            continue
        if role == "system":
            instructions = instructions or text
            continue
        if role not in ("user", "assistant"):
            continue
        model = metadata.get("model_slug") if role == "assistant" else None
        messages.append(
            ChatGPTMessage(
                role, text, _time(message.get("create_time"), created), model if isinstance(model, str) else None
            )
        )
    return ChatGPTConversation(title or "Imported from ChatGPT", created, max(updated, created), instructions, messages)


def read_conversations(data: list[Any]) -> list[ChatGPTConversation]:
    now = datetime.now(UTC)
    return [_conversation(raw, i, now) for i, raw in enumerate(data)]
