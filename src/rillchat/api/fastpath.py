"""The reply routes, as raw ASGI handlers the edge calls directly: start a reply, follow one.

``POST /api/chat/stream`` (plain text, or SSE with ``Accept: text/event-stream``), ``POST /api/chat``
(the whole reply as JSON), ``GET /api/streams/{id}`` (follow or resume, SSE), and the AI SDK's
``POST /api/ai-sdk/chat`` and ``GET /api/ai-sdk/chat/{chatId}/stream`` (UI message stream: ``aisdk``).
FastAPI declares the same routes only so that ``/openapi.json`` documents them (see ``chat``, ``streams``
and ``aisdk``); requests never reach those declarations. Why these skip the framework: see ``edge``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.types import Receive, Scope

from rillchat.api.aisdk import resume_chat_reply, start_chat_reply
from rillchat.api.aisdk_chats import UIChatRequest
from rillchat.api.chat import WholeReply
from rillchat.api.incoming import RequestHead, read_json
from rillchat.api.schemas import ChatRequest
from rillchat.api.streaming import ReplyStreamResponse
from rillchat.api.streams import follow_response

if TYPE_CHECKING:
    from rillchat.api.services import Services

__all__ = ["ReplyRoutes", "Route"]

Route = Callable[[Scope, RequestHead, Receive], Awaitable[Response]]

_FOLLOW = re.compile(r"/api/streams/([^/]+)")
_UI_CHAT_RESUME = re.compile(r"/api/ai-sdk/chat/([^/]+)/stream")


class ReplyRoutes:
    def __init__(self, services: Services) -> None:
        self.services = services

    def match(self, scope: Scope) -> Route | None:
        method, path = scope["method"], scope["path"]
        if method == "POST":
            if path == "/api/chat/stream":
                return self.chat_stream
            if path == "/api/chat":
                return self.chat
            if path == "/api/ai-sdk/chat":
                return self.ai_sdk_chat
        elif method == "GET":
            if path.startswith("/api/streams/") and _FOLLOW.fullmatch(path):
                return self.follow
            if path.startswith("/api/ai-sdk/chat/") and _UI_CHAT_RESUME.fullmatch(path):
                return self.ai_sdk_resume
        return None

    async def chat_stream(self, scope: Scope, head: RequestHead, receive: Receive) -> ReplyStreamResponse:
        body = await read_json(receive, ChatRequest)
        generation = await self.services.replies.start(body.reply_request(), head.owner, head.client)
        return ReplyStreamResponse(
            generation, self.services.hub, sse=head.sse, keepalive=self.services.settings.keepalive_seconds
        )

    async def chat(self, scope: Scope, head: RequestHead, receive: Receive) -> WholeReply:
        body = await read_json(receive, ChatRequest)
        generation = await self.services.replies.start(body.reply_request(), head.owner, head.client)
        return WholeReply(generation, self.services)

    async def ai_sdk_chat(self, scope: Scope, head: RequestHead, receive: Receive) -> Response:
        body = await read_json(receive, UIChatRequest)
        return await start_chat_reply(self.services, body, head.owner, head.client)

    async def ai_sdk_resume(self, scope: Scope, head: RequestHead, receive: Receive) -> Response:
        match = _UI_CHAT_RESUME.fullmatch(scope["path"])
        assert match is not None
        return await resume_chat_reply(self.services, match.group(1), head.owner)

    async def follow(self, scope: Scope, head: RequestHead, receive: Receive) -> ReplyStreamResponse:
        match = _FOLLOW.fullmatch(scope["path"])
        assert match is not None
        last_event_id = head.last_event_id
        if last_event_id is None:
            query = parse_qs(scope["query_string"].decode("latin-1"))
            last_event_id = query.get("lastEventId", [None])[0]
        return await follow_response(self.services, match.group(1), head.owner, last_event_id)
