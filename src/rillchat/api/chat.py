"""The chat endpoints: the guide's ``POST /api/chat/stream`` (plain text or SSE) and ``POST /api/chat``."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from rillchat.api.errors import error_response
from rillchat.api.incoming import RequestHead
from rillchat.api.schemas import ChatReply, ChatRequest, ErrorBody, WireUsage
from rillchat.api.services import Services
from rillchat.errors import UpstreamError, UpstreamUnavailable
from rillchat.events import ReplyStatus
from rillchat.streams.reply import Reply

__all__ = ["ERROR_RESPONSES", "WholeReply", "client_of", "owner_of", "router"]

router = APIRouter(prefix="/api", tags=["chat"])

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody} for code in (400, 401, 404, 408, 409, 413, 415, 422, 429, 502, 503, 504)
}


def owner_of(request: Request) -> str | None:
    """The API key's owner (None when keys are off): what conversations and replies belong to."""
    return getattr(request.state, "owner", None)


def client_of(request: Request) -> str:
    """Who rate limits count against: the key's owner, or the client's address when keys are off."""
    head: RequestHead = request.state.head
    return head.client


def _served_by_the_edge() -> Response:
    # Requests never get here: ``edge`` hands these routes to ``fastpath`` before the framework
    # (only while the app is starting or stopping, when there is nothing to serve them with).
    raise UpstreamUnavailable("the server is starting or stopping; try again", retry_after=1)


@router.post(
    "/chat/stream",
    responses={
        200: {
            "description": "The reply as it is generated: plain text chunks, or SSE events with "
            "`Accept: text/event-stream`.",
            "content": {"text/plain": {}, "text/event-stream": {}},
        },
        **ERROR_RESPONSES,
    },
    response_class=Response,
)
async def chat_stream(body: ChatRequest) -> Response:
    """Start a reply and stream it (served by ``rillchat.api.fastpath``)."""
    return _served_by_the_edge()


@router.post("/chat", response_model=ChatReply, responses=ERROR_RESPONSES)
async def chat(body: ChatRequest) -> Response:
    """Start a reply and answer it whole, as JSON (served by ``rillchat.api.fastpath``)."""
    return _served_by_the_edge()


class WholeReply(Response):
    """Waits for the whole reply; a client that leaves meanwhile takes a stateless reply down with it (a
    conversation's reply runs on: see ``Hub``)."""

    def __init__(self, generation: Reply, services: Services) -> None:
        self.generation = generation
        self.services = services
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.services.hub
        hub.attach(self.generation)
        waiter = asyncio.ensure_future(self.generation.wait())
        watcher = asyncio.ensure_future(_client_gone(receive))
        try:
            await asyncio.wait((waiter, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            hub.detach(self.generation, interrupt_now=True)
        if not waiter.done():
            await asyncio.gather(waiter, return_exceptions=True)
            return
        await _reply_response(self.generation)(scope, receive, send)


async def _client_gone(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _reply_response(generation: Reply) -> Response:
    outcome = generation.outcome
    assert outcome is not None
    if outcome.open_error is not None:
        return error_response(outcome.open_error)
    if outcome.status is ReplyStatus.FAILED:
        error = outcome.error
        return error_response(
            UpstreamError(error.message if error else "the reply failed", code=error.code if error else None)
        )
    start = generation.start_event
    reply = ChatReply(
        replyId=generation.id,
        text=outcome.text,
        reasoning=outcome.reasoning or None,
        reasoningSeconds=outcome.reasoning_seconds,
        model=start.model,
        status=outcome.status.value,
        finishReason=outcome.reason.value,
        usage=WireUsage(
            inputTokens=outcome.usage.input_tokens,
            outputTokens=outcome.usage.output_tokens,
            reasoningTokens=outcome.usage.reasoning_tokens,
        )
        if outcome.usage
        else None,
        conversationId=start.conversation_id,
        userMessageId=start.user_message_id,
        assistantMessageId=start.assistant_message_id,
    )
    return Response(reply.model_dump_json(), media_type="application/json")
