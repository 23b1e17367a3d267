"""``AsyncClient``: rillchat over HTTP with asyncio; ``_sync.py`` is generated from it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from types import TracebackType
from typing import Any

import httpx
from httpx_sse import ServerSentEvent

from rillchat._version import __version__
from rillchat.client._errors import ReplyFailedError, RillchatConnectionError, error_from_response
from rillchat.client._models import (
    NOT_GIVEN,
    ChatResult,
    Conversation,
    ConversationPage,
    ImportResult,
    MessageInput,
    ModelInfo,
    NotGiven,
    SearchPage,
    StopResult,
    chat_body,
    settings_body,
)
from rillchat.client._sse import REPLY_ID_HEADER, STREAM_ENDED, ReplyState, aiter_sse
from rillchat.events import Delta, ErrorEvent, Event, Finish, ReplyStatus, Start, Usage

__all__ = ["AsyncClient", "AsyncConversations", "AsyncReply"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class AsyncReply:
    """One reply, streamed: ``async with client.stream(...) as reply: async for event in reply: ...``.

    Entering sends the request (errors before the stream raise typed exceptions); iterating hands out
    each event exactly once, resuming by itself after a dropped connection.
    """

    def __init__(self, client: AsyncClient, body: dict[str, Any]) -> None:
        self._client = client
        self._state = ReplyState(body, client.max_resume_attempts, client.base_url)
        self._response: httpx.Response | None = None
        self._events: AsyncGenerator[ServerSentEvent] | None = None

    # ---- what has been seen so far

    @property
    def reply_id(self) -> str | None:
        """Known once the response headers (or the ``start`` event) arrived."""
        return self._state.reply_id

    @property
    def client_request_id(self) -> str:
        return self._state.client_request_id

    @property
    def start(self) -> Start | None:
        return self._state.start

    @property
    def conversation_id(self) -> str | None:
        return self._state.start.conversation_id if self._state.start else None

    @property
    def model(self) -> str | None:
        return self._state.start.model if self._state.start else None

    @property
    def text_so_far(self) -> str:
        return self._state.text

    @property
    def reasoning(self) -> str:
        """What the model has thought so far (its reasoning events, joined); "" if it does not reason."""
        return self._state.reasoning

    @property
    def reasoning_seconds(self) -> float | None:
        """How long the model thought, once the reply finished (None if it did not think)."""
        return self._state.finish.reasoning_seconds if self._state.finish else None

    @property
    def queued_position(self) -> int | None:
        """The position in the embedded model's queue while the reply waits, else None."""
        return self._state.queued_position

    @property
    def finish(self) -> Finish | None:
        """The terminal event, once it arrived."""
        return self._state.finish

    @property
    def status(self) -> ReplyStatus | None:
        return self._state.finish.status if self._state.finish else None

    @property
    def error(self) -> ErrorEvent | None:
        return self._state.error

    @property
    def usage(self) -> Usage | None:
        return self._state.finish.usage if self._state.finish else None

    @property
    def last_event_id(self) -> int:
        return self._state.last_event_id

    @property
    def resumes(self) -> int:
        """How many times this reply reconnected after a drop."""
        return self._state.resumes

    # ---- lifecycle

    async def __aenter__(self) -> AsyncReply:
        await self._connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection (the reply itself runs on: use ``stop()`` to stop it)."""
        events, response = self._events, self._response
        self._events = self._response = None
        if events is not None:
            await events.aclose()
        if response is not None:
            await response.aclose()

    async def _connect(self) -> None:
        state = self._state
        http = self._client._http
        while True:
            spec = state.next_request()
            request = http.build_request(spec.method, spec.path, headers=spec.headers, json=spec.json)
            try:
                response = await http.send(request, stream=True)
            except httpx.TransportError as exc:
                await asyncio.sleep(state.failed(exc))
                continue
            if response.is_success:
                try:
                    self._events = aiter_sse(response)
                except RillchatConnectionError:
                    await response.aclose()
                    raise
                self._response = response
                state.opened(response)
                return
            try:
                await response.aread()
            except httpx.TransportError as exc:
                await asyncio.sleep(state.failed(exc))
                continue
            finally:
                await response.aclose()
            await asyncio.sleep(state.refused(error_from_response(response)))

    # ---- events

    async def numbered(self) -> AsyncIterator[tuple[int, Event]]:
        """``(id, event)`` pairs: the ids are the stream's own, consecutive from 1. Breaking out and iterating
        again goes on where it left off (iterate it from one place at a time)."""
        state = self._state
        while not state.done:
            if self._events is None:
                await self._connect()
                assert self._events is not None
            failure: BaseException
            try:
                sse = await anext(self._events)
            except StopAsyncIteration:
                failure = STREAM_ENDED
            except httpx.TransportError as exc:
                failure = exc
            else:
                item = state.accept(sse)
                if item is not None:
                    if state.done:
                        await self.aclose()
                    yield item
                continue
            await self.aclose()
            await asyncio.sleep(state.failed(failure))

    async def _events_only(self) -> AsyncIterator[Event]:
        async for _seq, event in self.numbered():
            yield event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events_only()

    async def text(self) -> AsyncIterator[str]:
        """Only the text, delta by delta."""
        async for event in self:
            if type(event) is Delta:
                yield event.text

    async def collect(self) -> ChatResult:
        """Read to the end (whatever was not read yet) and return the whole reply."""
        if not self._state.done:
            async for _ in self:
                pass
        return self._state.result()

    async def stop(self) -> StopResult | None:
        """Stop the model; the stream then ends with ``finish`` (status ``stopped``). None if there is no reply
        to stop (the request never reached the server)."""
        reply_id = self.reply_id or await self._find_reply_id()
        if reply_id is None:
            return None
        return await self._client.stop(reply_id)

    async def _find_reply_id(self) -> str | None:
        # Stopped before the response headers came: ask for the same clientRequestId again, which attaches
        # to the reply if the server started one, and read its id from the headers.
        spec = ReplyState(self._state.body, 0, self._client.base_url).next_request()
        try:
            async with self._client._http.stream(spec.method, spec.path, headers=spec.headers, json=spec.json) as r:
                return r.headers.get(REPLY_ID_HEADER) if r.is_success else None
        except httpx.TransportError:
            return None


class AsyncConversations:
    """``client.conversations``: server-side history."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, limit: int = 50, cursor: str | None = None) -> ConversationPage:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        return ConversationPage.from_wire(await self._client._json("GET", "/api/conversations", params=params))

    async def create(
        self,
        title: str | None = None,
        *,
        model: str | NotGiven | None = NOT_GIVEN,
        instructions: str | NotGiven | None = NOT_GIVEN,
        temperature: float | NotGiven | None = NOT_GIVEN,
    ) -> Conversation:
        """A new conversation; the settings given are remembered for its replies."""
        body = settings_body(model=model, instructions=instructions, temperature=temperature)
        if title is not None:
            body["title"] = title
        return Conversation.from_wire(await self._client._json("POST", "/api/conversations", json=body))

    async def update(
        self,
        conversation_id: str,
        *,
        title: str | NotGiven = NOT_GIVEN,
        model: str | NotGiven | None = NOT_GIVEN,
        instructions: str | NotGiven | None = NOT_GIVEN,
        temperature: float | NotGiven | None = NOT_GIVEN,
    ) -> Conversation:
        """Change what is given; a setting given as ``None`` goes back to the server's default."""
        body = settings_body(title=title, model=model, instructions=instructions, temperature=temperature)
        path = f"/api/conversations/{conversation_id}"
        return Conversation.from_wire(await self._client._json("PATCH", path, json=body))

    async def get(self, conversation_id: str) -> Conversation:
        """The conversation with its messages."""
        return Conversation.from_wire(await self._client._json("GET", f"/api/conversations/{conversation_id}"))

    async def select(self, conversation_id: str, message_id: str) -> Conversation:
        """Show the versions through ``message_id`` (the newest below it); the conversation as ``get`` reads it."""
        path = f"/api/conversations/{conversation_id}/select"
        return Conversation.from_wire(await self._client._json("POST", path, json={"messageId": message_id}))

    async def rename(self, conversation_id: str, title: str) -> Conversation:
        path = f"/api/conversations/{conversation_id}"
        return Conversation.from_wire(await self._client._json("PATCH", path, json={"title": title}))

    async def delete(self, conversation_id: str) -> None:
        await self._client._send("DELETE", f"/api/conversations/{conversation_id}")

    async def search(self, query: str, *, limit: int = 20, cursor: str | None = None) -> SearchPage:
        """Conversations whose title or messages contain every word of ``query``, best first."""
        params: dict[str, Any] = {"q": query, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        return SearchPage.from_wire(await self._client._json("GET", "/api/conversations/search", params=params))

    async def export(self, conversation_id: str | None = None, *, format: str = "json") -> AsyncIterator[bytes]:
        """The export file (``json`` or ``markdown``) of one conversation or all, as it streams in."""
        path = f"/api/conversations/{conversation_id}/export" if conversation_id else "/api/conversations/export"
        try:
            async with self._client._http.stream("GET", path, params={"format": format}) as response:
                if not response.is_success:
                    await response.aread()
                    raise error_from_response(response)
                async for chunk in response.aiter_bytes():
                    yield chunk
        except httpx.TransportError as exc:
            raise RillchatConnectionError(
                f"export interrupted: {exc or type(exc).__name__}", code="unreachable"
            ) from exc

    async def import_file(self, data: bytes) -> ImportResult:
        """Import a rillchat export or ChatGPT's conversations.json: all of it as new conversations, or none."""
        headers = {"content-type": "application/json"}
        payload = await self._client._json("POST", "/api/conversations/import", content=data, headers=headers)
        return ImportResult.from_wire(payload)


class AsyncClient:
    """rillchat's HTTP API. ``async with AsyncClient(url) as client: ...``.

    ``max_resume_attempts``: how many times in a row a dropped reply may fail to reconnect before
    ``ConnectionLostError`` (each event received starts the count again).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_resume_attempts: int = 5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.max_resume_attempts = max_resume_attempts
        headers = {"user-agent": f"rillchat-client/{__version__}"}
        if api_key:
            headers["authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(timeout))
        self.conversations = AsyncConversations(self)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    def stream(
        self,
        user_input: str = "",
        *,
        messages: Sequence[MessageInput] | None = None,
        instructions: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        conversation_id: str | None = None,
        client_request_id: str | None = None,
        replace_from_message_id: str | None = None,
        reasoning_effort: str | None = None,
        regenerate_message_id: str | None = None,
        continue_message_id: str | None = None,
    ) -> AsyncReply:
        """A reply to stream: ``async with client.stream("Hello") as reply: async for text in reply.text()``.

        With a ``conversation_id``: ``replace_from_message_id`` edits that user message (``user_input`` is its new
        text) and ``regenerate_message_id`` writes a new version of that reply, both keeping the earlier version;
        ``continue_message_id`` carries a reply that ended early on in the same message (no ``user_input``; the
        ``start`` event's ``prefix`` is the text it already had).

        A ``clientRequestId`` (uuid4 unless given) goes with the request, so a retry never starts a second
        generation."""
        body = chat_body(
            user_input,
            messages=messages,
            instructions=instructions,
            model=model,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            conversation_id=conversation_id,
            client_request_id=client_request_id or str(uuid.uuid4()),
            replace_from_message_id=replace_from_message_id,
            reasoning_effort=reasoning_effort,
            regenerate_message_id=regenerate_message_id,
            continue_message_id=continue_message_id,
        )
        return AsyncReply(self, body)

    async def chat(
        self,
        user_input: str = "",
        *,
        messages: Sequence[MessageInput] | None = None,
        instructions: str | None = None,
        model: str | None = None,
        temperature: float | None = None,
        max_output_tokens: int | None = None,
        conversation_id: str | None = None,
        client_request_id: str | None = None,
        reasoning_effort: str | None = None,
        replace_from_message_id: str | None = None,
        regenerate_message_id: str | None = None,
        continue_message_id: str | None = None,
    ) -> ChatResult:
        """The whole reply at once (streamed underneath, so it survives drops). A reply that fails raises
        ``ReplyFailedError``; one that was stopped or cut short is returned with that status."""
        reply = self.stream(
            user_input,
            messages=messages,
            instructions=instructions,
            model=model,
            temperature=temperature,
            max_output_tokens=max_output_tokens,
            conversation_id=conversation_id,
            client_request_id=client_request_id,
            reasoning_effort=reasoning_effort,
            replace_from_message_id=replace_from_message_id,
            regenerate_message_id=regenerate_message_id,
            continue_message_id=continue_message_id,
        )
        async with reply:
            result = await reply.collect()
        if result.status is ReplyStatus.FAILED:
            error = reply.error
            raise ReplyFailedError(
                error.message if error else "the reply failed",
                code=error.code if error else "reply_failed",
                reply_id=result.reply_id,
                partial_text=result.text,
            )
        return result

    async def models(self) -> list[ModelInfo]:
        payload = await self._json("GET", "/api/models")
        return [ModelInfo.from_wire(m) for m in payload.get("data") or ()]

    async def stop(self, reply_id: str) -> StopResult:
        """Stop a reply (any client's); answers once it has ended. Stopping twice is harmless."""
        payload = await self._json("POST", f"/api/streams/{reply_id}/stop")
        return StopResult(str(payload.get("replyId", reply_id)), str(payload.get("status", "")))

    async def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise RillchatConnectionError(
                f"cannot reach rillchat at {self.base_url}: {exc or type(exc).__name__}", code="unreachable"
            ) from exc
        if not response.is_success:
            raise error_from_response(response)
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = await self._send(method, path, **kwargs)
        try:
            payload = response.json()
        except ValueError as exc:
            raise RillchatConnectionError(f"{method} {path}: not JSON", code="protocol_error") from exc
        if not isinstance(payload, dict):
            raise RillchatConnectionError(f"{method} {path}: unexpected answer", code="protocol_error")
        return payload
