"""Starting a reply: the one place that wires request -> provider -> event log -> generation -> hub.

Idempotency: a ``clientRequestId`` seen before attaches to its reply (live, or replayed from storage),
never a second generation. History comes from the client (the guide's stateless protocol) or, with a
``conversationId``, from storage; only conversation replies are stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rillchat.config import Settings
from rillchat.errors import Conflict, InvalidField, UnknownModel
from rillchat.events import ErrorEvent, FinishReason, ReplyStatus, Start, Usage
from rillchat.providers import ChatMessage, GenerationRequest, ProviderRegistry, ResolvedModel
from rillchat.storage import MessageRecord, Repository
from rillchat.storage.repository import new_id
from rillchat.streams.eventlog import EventLog, MemoryEventLog
from rillchat.streams.generation import Generation, Outcome
from rillchat.streams.hub import Hub
from rillchat.streams.quotas import Quotas
from rillchat.streams.reply import Reply
from rillchat.streams.request import ReplyRequest
from rillchat.streams.stored import StoredReply

if TYPE_CHECKING:
    from rillchat.streams.cluster import Cluster

__all__ = ["ReplyService", "stored_outcome"]

logger = logging.getLogger("rillchat.replies")

# How long a reply seen in storage or claimed by a request id may take to register before we give up on it.
REGISTRATION_WAIT_SECONDS = 2.0
CLAIM_WAIT_SECONDS = 5.0


def stored_outcome(message: MessageRecord) -> Outcome:
    error = ErrorEvent(message.error_code, message.error_message or "") if message.error_code else None
    usage = (
        Usage(message.input_tokens, message.output_tokens, message.reasoning_tokens)
        if message.input_tokens is not None or message.output_tokens is not None
        else None
    )
    # A reply still marked streaming that no one here is generating was cut off (a crash, a dead replica).
    status = ReplyStatus.INTERRUPTED if message.status == "streaming" else ReplyStatus(message.status)
    return Outcome(
        status,
        FinishReason(message.finish_reason or "stop"),
        message.content,
        usage,
        error,
        reasoning=message.reasoning or "",
        reasoning_seconds=message.reasoning_seconds,
    )


class ReplyService:
    def __init__(
        self,
        settings: Settings,
        registry: ProviderRegistry,
        hub: Hub,
        repository: Repository,
        log_factory: Callable[[str], EventLog] | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.hub = hub
        self.repository = repository
        self.cluster = cluster
        self.log_factory = log_factory or (cluster.log_for if cluster else lambda _reply_id: MemoryEventLog())
        self.quotas = Quotas(
            settings.rate_limit_per_minute, settings.max_concurrent_replies, settings.max_queued_local_replies
        )

    def check_limits(self, body: ReplyRequest) -> None:
        limit = self.settings.max_text_chars
        self._check_turn_kind(body)
        if len(body.user_input) > limit:
            raise InvalidField("userInput", f"at most {limit} characters")
        if body.instructions is not None and len(body.instructions) > limit:
            raise InvalidField("instructions", f"at most {limit} characters")
        if len(body.messages) > self.settings.max_messages:
            raise InvalidField("messages", f"at most {self.settings.max_messages} messages")
        for i, message in enumerate(body.messages):
            if len(message.content) > limit:
                raise InvalidField(f"messages.{i}.content", f"at most {limit} characters")
        cap = self.settings.max_output_tokens_limit
        if body.max_output_tokens is not None and body.max_output_tokens > cap:
            raise InvalidField("maxOutputTokens", f"at most {cap}")

    @staticmethod
    def _check_turn_kind(body: ReplyRequest) -> None:
        chosen = [
            name
            for name, value in (
                ("replaceFromMessageId", body.replace_from_message_id),
                ("regenerateMessageId", body.regenerate_message_id),
                ("continueMessageId", body.continue_message_id),
            )
            if value is not None
        ]
        if len(chosen) > 1:
            raise InvalidField(chosen[1], f"cannot be combined with {chosen[0]}")
        if chosen and not body.conversation_id:
            raise InvalidField("conversationId", f"required with {chosen[0]}")
        reuses_user_message = body.regenerate_message_id is not None or body.continue_message_id is not None
        if not body.user_input and not reuses_user_message:
            raise InvalidField("userInput", "must not be empty")

    async def start(self, body: ReplyRequest, owner: str | None = None, client: str = "local") -> Reply:
        """Start a reply, or attach to the one this ``clientRequestId`` already started."""
        if body.client_request_id:
            existing = await self._existing(body.client_request_id, owner)
            if existing is not None:
                return existing
        body = await self._with_conversation_settings(body, owner)
        self.check_limits(body)
        model = self.registry.resolve(body.model)
        ticket = self.quotas.admit(client, local=model.provider.kind == "local")
        try:
            reply, started = await self._start(body, owner, model)
        except BaseException:
            self.quotas.release(ticket)
            raise
        if started is None:  # an idempotent retry that raced its first try: that one holds the ticket
            self.quotas.release(ticket)
        else:
            started.add_done_callback(lambda _: self.quotas.release(ticket))
        return reply

    async def _with_conversation_settings(self, body: ReplyRequest, owner: str | None) -> ReplyRequest:
        """What the request leaves out (model, instructions, temperature) comes from its conversation's settings."""
        if not body.conversation_id or None not in (body.model, body.instructions, body.temperature):
            return body
        conversation = await self.repository.conversation_header(body.conversation_id, owner)
        fill: dict[str, Any] = {}
        if body.model is None and conversation.model is not None:
            try:
                fill["model"] = self.registry.resolve(conversation.model).id
            except UnknownModel:
                # Imported from elsewhere, or a model this server no longer offers: the default answers.
                logger.info("conversation %s remembers unknown model %r", conversation.id, conversation.model)
        if body.instructions is None and conversation.instructions is not None:
            fill["instructions"] = conversation.instructions
        if body.temperature is None and conversation.temperature is not None:
            fill["temperature"] = conversation.temperature
        return dataclasses.replace(body, **fill) if fill else body

    async def _start(
        self, body: ReplyRequest, owner: str | None, model: ResolvedModel
    ) -> tuple[Reply, asyncio.Task[None] | None]:
        """The reply, and the task generating it when it was started by this call (not found, claimed)."""
        reply_id = new_id("rep")
        if self.cluster is not None and body.client_request_id:
            claimed_by = await self.cluster.claim_request(owner, body.client_request_id, reply_id)
            if claimed_by is not None:  # another request took this id a moment ago, here or elsewhere
                return await self._claimed(claimed_by, owner), None
        messages = [*body.messages, ChatMessage("user", body.user_input)]
        start = Start(reply_id=reply_id, model=model.id)
        on_finish = None
        if body.conversation_id:
            try:
                turn = await self.repository.begin_turn(
                    conversation_id=body.conversation_id,
                    owner=owner,
                    user_text=body.user_input,
                    model=model.id,
                    reply_id=reply_id,
                    client_request_id=body.client_request_id,
                    replace_from_message_id=body.replace_from_message_id,
                    regenerate_message_id=body.regenerate_message_id,
                    continue_message_id=body.continue_message_id,
                )
            except Conflict as exc:
                if exc.code in ("duplicate_request", "conversation_busy") and body.client_request_id:
                    # A retry raced its first try between our look-up and our claim.
                    existing = await self._existing(body.client_request_id, owner)
                    if existing is not None:
                        return existing, None
                raise
            messages = [
                ChatMessage(t.role, t.content, t.reasoning)  # type: ignore[arg-type]
                for t in turn.history
            ]
            messages.append(ChatMessage("user", turn.user_text))
            if turn.prefix:
                # The model carries its own cut-off reply on (providers send it as a trailing assistant turn).
                messages.append(ChatMessage("assistant", turn.prefix))
            start = Start(
                reply_id,
                model.id,
                turn.conversation_id,
                turn.user_message_id,
                turn.assistant_message_id,
                turn.prefix,
            )
            on_finish = self._outcome_writer(turn.prefix_output_tokens, turn.prefix_reasoning)
        request = GenerationRequest(
            model=model.upstream_model,
            messages=messages,
            instructions=body.instructions if body.instructions is not None else self.settings.default_instructions,
            temperature=body.temperature if body.temperature is not None else self.settings.default_temperature,
            max_output_tokens=body.max_output_tokens or self.settings.default_max_output_tokens,
            reasoning_effort=body.reasoning_effort,
        )
        generation = Generation(
            start,
            model.provider,
            request,
            self.log_factory(reply_id),
            on_finish,
            owner,
            stall_timeout=self.settings.stall_timeout_seconds,
            total_timeout=self.settings.reply_timeout_seconds,
        )
        if self.cluster is not None:
            await self.cluster.register(reply_id, owner)
        self.hub.add(generation, body.client_request_id)
        return generation, generation.task

    async def find(self, reply_id: str, owner: str | None) -> Reply | None:
        """A reply by id: generated here, generated by another replica, or finished and stored."""
        live = self.hub.get(reply_id)
        if live is not None:
            return live if live.owner == owner else None
        if self.cluster is not None:
            remote = await self.cluster.remote_reply(reply_id, owner)
            if remote is not None:
                return remote
        stored = await self.repository.find_reply(reply_id=reply_id)
        if stored is None:
            return None
        if stored.status == "streaming" and self.cluster is not None:
            # Written by a replica that is starting it right now; its registration is a moment away.
            registered = await self._registered(reply_id, owner, REGISTRATION_WAIT_SECONDS)
            if registered is not None:
                return registered
        return await self.replay(stored, owner)

    async def _claimed(self, reply_id: str, owner: str | None) -> Reply:
        """The reply that won a ``clientRequestId`` race; it may take a moment to become visible."""
        found = await self.find(reply_id, owner)
        if found is None:
            found = await self._registered(reply_id, owner, CLAIM_WAIT_SECONDS)
        if found is None:
            found = await self.find(reply_id, owner)  # the winner may have failed and left only its row
        if found is None:
            raise Conflict("this clientRequestId is taken by a reply that could not be found", code="duplicate_request")
        return found

    async def _registered(self, reply_id: str, owner: str | None, within_seconds: float) -> Reply | None:
        """The reply once it registers, here (the hub) or on another replica (announced through Redis),
        waiting at most ``within_seconds``; None if it does not, or belongs to someone else."""
        with contextlib.ExitStack() as waiting:
            added = waiting.enter_context(self.hub.added(reply_id))
            waiters: list[asyncio.Future[None]] = [added]
            if self.cluster is not None:
                waiters.append(waiting.enter_context(self.cluster.registered(reply_id)))
            found = await self._live_or_remote(reply_id, owner)
            if found is not None:
                return found
            await asyncio.wait(waiters, timeout=within_seconds, return_when=asyncio.FIRST_COMPLETED)
        return await self._live_or_remote(reply_id, owner)

    async def _live_or_remote(self, reply_id: str, owner: str | None) -> Reply | None:
        live = self.hub.get(reply_id)
        if live is not None:
            return live if live.owner == owner else None
        if self.cluster is not None:
            return await self.cluster.remote_reply(reply_id, owner)
        return None

    async def _existing(self, client_request_id: str, owner: str | None) -> Reply | None:
        live = self.hub.get_by_request(owner, client_request_id)
        if live is not None:
            return live
        if self.cluster is not None:
            claimed_by = await self.cluster.request_reply(owner, client_request_id)
            if claimed_by is not None and (found := await self.find(claimed_by, owner)) is not None:
                return found
        stored = await self.repository.find_reply(client_request_id=client_request_id, owner=owner)
        if stored is None or stored.reply_id is None:
            return None
        return await self.find(stored.reply_id, owner)

    async def replay(self, stored: MessageRecord, owner: str | None) -> Reply | None:
        """A stored reply to read: the live one if it still runs here, else from storage."""
        if stored.reply_id and (live := self.hub.get(stored.reply_id)) is not None:
            return live if live.owner == owner else None
        if await self.repository.conversation_owner(stored.conversation_id) != owner:
            return None
        start = Start(stored.reply_id or stored.id, stored.model or "", stored.conversation_id, None, stored.id)
        return StoredReply(start, stored_outcome(stored), owner)

    def _outcome_writer(
        self, earlier_output_tokens: int | None, earlier_reasoning: str
    ) -> Callable[[Generation, Outcome], Awaitable[None]]:
        async def store(generation: Generation, outcome: Outcome) -> None:
            await self._store_outcome(generation, outcome, earlier_output_tokens, earlier_reasoning)

        return store

    async def _store_outcome(
        self, generation: Generation, outcome: Outcome, earlier_output_tokens: int | None, earlier_reasoning: str
    ) -> None:
        start = generation.start_event
        if start.assistant_message_id is None:
            return
        output_tokens = outcome.usage.output_tokens if outcome.usage else None
        if output_tokens is not None and earlier_output_tokens:
            output_tokens += earlier_output_tokens  # a Continue: the message's tokens, all replies together
        await self.repository.finish_reply(
            start.assistant_message_id,
            content=start.prefix + outcome.text,
            reasoning=earlier_reasoning + outcome.reasoning,
            reasoning_seconds=outcome.reasoning_seconds,
            reasoning_tokens=outcome.usage.reasoning_tokens if outcome.usage else None,
            status=outcome.status.value,
            finish_reason=outcome.reason.value,
            input_tokens=outcome.usage.input_tokens if outcome.usage else None,
            output_tokens=output_tokens,
            error_code=outcome.error.code if outcome.error else None,
            error_message=outcome.error.message if outcome.error else None,
        )
