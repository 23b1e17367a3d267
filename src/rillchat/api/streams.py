"""``GET /api/streams/{id}`` (follow or resume a reply, SSE) and ``POST /api/streams/{id}/stop``."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from rillchat.api.chat import ERROR_RESPONSES, owner_of
from rillchat.api.incoming import parse_last_event_id
from rillchat.api.services import Services
from rillchat.api.streaming import ReplyStreamResponse
from rillchat.errors import InvalidField, NotFound, RequestError, UpstreamUnavailable, clip
from rillchat.streams.reply import Reply

__all__ = ["StreamGone", "find_generation", "follow_response", "router"]

router = APIRouter(prefix="/api/streams", tags=["streams"])


class StopResult(BaseModel):
    replyId: str
    status: str


class StreamGone(RequestError):
    status_code = 410
    code = "stream_expired"


async def find_generation(services: Services, reply_id: str, owner: str | None) -> Reply:
    found = await services.replies.find(reply_id, owner)
    if found is None:
        raise NotFound(f"reply {clip(reply_id)} not found")
    return found


@router.get(
    "/{reply_id}",
    responses={200: {"content": {"text/event-stream": {}}}, **ERROR_RESPONSES},
    response_class=Response,
    status_code=200,
)
async def follow_stream(
    reply_id: str,
    lastEventId: str | None = Query(default=None, description="Same as the Last-Event-ID header."),
) -> Response:
    """The reply's events as SSE: from the start, or after ``Last-Event-ID``, then live until it ends.

    Served by ``rillchat.api.fastpath``; this declaration documents it.
    """
    raise UpstreamUnavailable("the server is starting or stopping; try again", retry_after=1)


async def follow_response(
    services: Services, reply_id: str, owner: str | None, last_event_id: str | None
) -> ReplyStreamResponse:
    after = parse_last_event_id(last_event_id)
    generation = await find_generation(services, reply_id, owner)
    if generation.from_storage and after > 0:
        raise StreamGone(f"the live events of reply {clip(reply_id)} expired; read the stored message instead")
    last = generation.log.last_seq
    if after > last and generation.log.closed:
        raise InvalidField("Last-Event-ID", f"{after} is beyond this stream's last event ({last})", status_code=400)
    return ReplyStreamResponse(
        generation,
        services.hub,
        sse=True,
        after=after,
        keepalive=services.settings.keepalive_seconds,
        wait_opened=False,
    )


@router.post("/{reply_id}/stop", response_model=StopResult, responses=ERROR_RESPONSES)
async def stop_stream(reply_id: str, request: Request) -> StopResult:
    """Stop the model. Every follower gets the terminal event; the partial text is kept as ``stopped``."""
    services: Services = request.app.state.services
    generation = await find_generation(services, reply_id, owner_of(request))
    generation.stop()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(generation.wait(), timeout=10)
    status = generation.outcome.status.value if generation.outcome else "stopping"
    return StopResult(replyId=reply_id, status=status)
