"""Conversations to import, written as a rillchat export (the fastest honest way to fill a database)."""

from __future__ import annotations

from typing import Any


def export_file(conversations: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "format": "rillchat-export",
        "version": 1,
        "exportedAt": "2026-11-30T10:00:00Z",
        "conversations": conversations,
    }


def conversation(title: str, *texts: str, day: int = 1, **settings: Any) -> dict[str, Any]:
    """A conversation whose messages alternate user/assistant with these texts."""
    at = f"2026-11-{day:02d}T09:00:00Z"
    return {
        "id": f"conv_src_{day}",
        "title": title,
        "createdAt": at,
        "updatedAt": at,
        "settings": {"model": None, "instructions": None, "temperature": None, **settings},
        "messages": [
            {
                "id": f"msg_src_{day}_{i}",
                "role": "user" if i % 2 == 0 else "assistant",
                "content": text,
                "status": "completed",
                "finishReason": None if i % 2 == 0 else "stop",
                "error": None,
                "model": None if i % 2 == 0 else "fake-chat",
                "usage": None if i % 2 == 0 else {"inputTokens": 5, "outputTokens": 7},
                "createdAt": at,
                "updatedAt": at,
            }
            for i, text in enumerate(texts)
        ],
    }
