"""The Vercel AI SDK's ``useChat`` against rillchat: ``DefaultChatTransport({ api: "/api/ai-sdk/chat" })``.

- ``POST /api/ai-sdk/chat``: start a reply in the chat's conversation (made on first use, per API key) and
  stream it as a UI message stream (``encoders/uimessage.py``), through the shared reply service.
- ``GET /api/ai-sdk/chat/{chatId}/stream``: what ``useChat({ resume: true })`` calls on mount. 204 when the
  chat has no reply running; else the running reply from its ``start`` (the client rebuilds the message from
  scratch), then live. Any replica answers (the log is in Redis when there are several).
- ``GET /api/ai-sdk/chat/{chatId}/messages``: the stored chat as UIMessages, for ``useChat({ messages })``.

Leaving: without ``resumable: true`` in the body, a client that aborts (``stop()``) stops the model, as with
the plain-text protocol; with it, the reply goes on for a resume and is stopped with its ``replyId`` (sent in
the ``start`` chunk's ``messageMetadata``) at ``POST /api/streams/{replyId}/stop``.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from rillchat.api.aisdk_chats import CHAT_ID_PATTERN, UIChatHistory, UIChatRequest, plan_turn, ui_messages
from rillchat.api.chat import ERROR_RESPONSES, client_of, owner_of
from rillchat.api.services import Services
from rillchat.api.streaming import ReplyStreamResponse
from rillchat.encoders.uimessage import UI_MESSAGE_STREAM_HEADERS, UIMessageStreamEncoder
from rillchat.errors import InvalidField
from rillchat.streams.reply import Reply
from rillchat.streams.request import ReplyRequest

__all__ = ["resume_chat_reply", "router", "start_chat_reply"]

router = APIRouter(prefix="/api/ai-sdk/chat", tags=["ai-sdk"])

_STREAM_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The reply as a UI message stream (`x-vercel-ai-ui-message-stream: v1`): SSE `data:` "
        "lines of JSON chunks, ending with `data: [DONE]`.",
        "content": {"text/event-stream": {}},
    }
}

_CHAT_ID = re.compile(CHAT_ID_PATTERN)

ChatId = Path(pattern=CHAT_ID_PATTERN, description="The chat's id, as useChat's `id`.")


def _ui_stream(services: Services, generation: Reply, *, leaving_stops: bool) -> ReplyStreamResponse:
    return ReplyStreamResponse(
        generation,
        services.hub,
        sse=True,
        keepalive=services.settings.keepalive_seconds,
        wait_opened=False,  # an upstream that fails to open is an ``error`` chunk, which useChat shows
        frames=(UIMessageStreamEncoder(), UI_MESSAGE_STREAM_HEADERS),
        leaving_stops=leaving_stops,
    )


async def start_chat_reply(services: Services, body: UIChatRequest, owner: str | None, client: str) -> Response:
    """``submit-message`` or ``regenerate-message`` in the chat's conversation, as a UI message stream."""
    conversation = await services.repository.chat_conversation(owner, body.id, create=True)
    assert conversation is not None
    plan = plan_turn(body, conversation.messages or [], services.settings.max_text_chars)
    if plan.seed:
        await services.repository.seed_messages(conversation.id, owner, plan.seed)
    reply_request = ReplyRequest(
        user_input=plan.user_text,
        instructions=plan.instructions,
        model=body.model,
        temperature=body.temperature,
        max_output_tokens=body.maxOutputTokens,
        conversation_id=conversation.id,
        client_request_id=body.clientRequestId,
        replace_from_message_id=plan.replace_from_message_id,
        regenerate_message_id=plan.regenerate_message_id,
    )
    generation = await services.replies.start(reply_request, owner, client)
    return _ui_stream(services, generation, leaving_stops=not body.resumable)


async def resume_chat_reply(services: Services, chat_id: str, owner: str | None) -> Response:
    """The chat's running reply from its ``start``, then live; 204 when none runs."""
    if not _CHAT_ID.fullmatch(chat_id):
        raise InvalidField("chatId", "not a chat id: letters, digits and _.:~- only, at most 200, no leading dot")
    conversation = await services.repository.chat_conversation(owner, chat_id, create=False)
    messages = conversation.messages or [] if conversation is not None else []
    reply_id = next((m.reply_id for m in reversed(messages) if m.status == "streaming" and m.reply_id), None)
    if reply_id is None:
        return Response(status_code=204)
    generation = await services.replies.find(reply_id, owner)
    if generation is None or generation.done or generation.log.closed:
        return Response(status_code=204)  # it ended since: the stored message has it whole
    return _ui_stream(services, generation, leaving_stops=False)


# The two streaming routes are served raw by ``fastpath`` (see ``edge``); these declarations document them.


@router.post("", responses={**_STREAM_RESPONSE, **ERROR_RESPONSES}, response_class=Response)
async def ai_sdk_chat(body: UIChatRequest, request: Request) -> Response:
    """Answer ``useChat``'s ``submit-message`` or ``regenerate-message``, streamed."""
    return await start_chat_reply(request.app.state.services, body, owner_of(request), client_of(request))


@router.get(
    "/{chat_id}/stream",
    responses={**_STREAM_RESPONSE, 204: {"description": "No reply is running in this chat."}, **ERROR_RESPONSES},
    response_class=Response,
)
async def resume_ai_sdk_chat(request: Request, chat_id: str = ChatId) -> Response:
    """Resume: the chat's running reply from its start, then live; 204 when none runs."""
    return await resume_chat_reply(request.app.state.services, chat_id, owner_of(request))


@router.get("/{chat_id}/messages", response_model=UIChatHistory, responses=ERROR_RESPONSES)
async def ai_sdk_chat_messages(request: Request, chat_id: str = ChatId) -> UIChatHistory:
    """The stored chat as UIMessages (an unknown chat is empty); a reply still running is left to resume."""
    services: Services = request.app.state.services
    conversation = await services.repository.chat_conversation(owner_of(request), chat_id, create=False)
    return UIChatHistory(messages=ui_messages(conversation.messages or []) if conversation else [])
