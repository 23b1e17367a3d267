"""Models found by themselves: ask each ``models = "auto"`` upstream's ``GET /v1/models``, in the background.

At start-up and every ``models_refresh_seconds`` after, each such upstream is asked on its own task with a
short timeout (``models_timeout_seconds``), so a slow or dead one never holds up start-up or the others.
An upstream that fails keeps the last list it gave and is marked unavailable, with the reason, until it
answers again.

Listings differ by server; what is read from them:

- every server: ``data[].id`` (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio, OpenRouter);
- context length: vLLM's ``max_model_len``, OpenRouter's ``context_length``, LM Studio's
  ``max_context_length``. llama.cpp's ``meta.n_ctx_train`` is the length the model was trained with, not
  what the server was started with (``-c``), so it is not reported;
- reasoning: OpenRouter's ``supported_parameters`` containing ``reasoning``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx2
import openai
import orjson

from rillchat.providers._openai_errors import map_openai_error
from rillchat.providers.capabilities import matches_any

if TYPE_CHECKING:
    from rillchat.providers._openai_base import OpenAIWireProvider

__all__ = ["ListedModel", "ModelDiscovery", "UpstreamStatus", "parse_listing"]

logger = logging.getLogger("rillchat.discovery")


@dataclass(frozen=True, slots=True)
class ListedModel:
    id: str
    context_length: int | None = None
    reasoning: bool | None = None


@dataclass(slots=True)
class UpstreamStatus:
    """How an upstream answered the last time it was asked for its models (``available`` None: not yet)."""

    name: str
    kind: str
    discovers: bool
    available: bool | None = None
    reason: str | None = None
    checked_at: datetime | None = None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_listing(payload: Any) -> list[ListedModel]:
    """The models of a ``GET /v1/models`` answer, whichever server gave it; ValueError if it is not one."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        raise ValueError("the answer has no list of models (data)")
    models: list[ListedModel] = []
    seen: set[str] = set()
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            continue
        model_id: str = item["id"]
        if model_id in seen:
            continue
        seen.add(model_id)
        context = _int(item.get("max_model_len")) or _int(item.get("context_length"))
        context = context or _int(item.get("max_context_length"))
        parameters = item.get("supported_parameters")
        reasoning = ("reasoning" in parameters) or None if isinstance(parameters, list) else None
        models.append(ListedModel(model_id, context, reasoning))
    return models


def _filtered(models: list[ListedModel], include: list[str], exclude: list[str]) -> list[ListedModel]:
    return [
        m
        for m in models
        if (not include or matches_any(m.id, include)) and not (exclude and matches_any(m.id, exclude))
    ]


class ModelDiscovery:
    """One refresh task per discovering upstream; ``on_change`` runs whenever a model list changed."""

    def __init__(self, providers: Sequence[OpenAIWireProvider], on_change: Callable[[], None]) -> None:
        self.providers = list(providers)
        self.on_change = on_change
        self.status: dict[str, UpstreamStatus] = {
            p.name: UpstreamStatus(p.name, p.kind, p.config.discovers_models) for p in providers
        }
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        for provider in self.providers:
            if provider.config.discovers_models:
                task = asyncio.create_task(self._keep_fresh(provider), name=f"models-{provider.name}")
                self._tasks.append(task)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def _keep_fresh(self, provider: OpenAIWireProvider) -> None:
        while True:
            await self.refresh(provider)
            await asyncio.sleep(provider.config.models_refresh_seconds)

    async def refresh(self, provider: OpenAIWireProvider) -> None:
        status = self.status[provider.name]
        config = provider.config
        try:
            async with asyncio.timeout(config.models_timeout_seconds):
                listed = await self._list(provider)
        except TimeoutError:
            self._failed(provider, f"no answer from {provider.name} within {config.models_timeout_seconds:g}s")
            return
        except openai.APIError as exc:
            self._failed(provider, map_openai_error(exc, provider.name).message)
            return
        except ValueError as exc:
            self._failed(provider, f"{provider.name} did not answer with a model list: {exc}")
            return
        models = _filtered(listed, config.include, config.exclude)
        changed = provider.listing != models
        provider.set_listing(models)
        status.available, status.reason, status.checked_at = True, None, datetime.now(UTC)
        if changed:
            logger.info("%s serves %d models", provider.name, len(models))
            self.on_change()

    async def _list(self, provider: OpenAIWireProvider) -> list[ListedModel]:
        response = await provider.client.get(
            "/models",
            cast_to=httpx2.Response,
            options={"max_retries": 0, "timeout": provider.config.models_timeout_seconds},
        )
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ValueError("the answer is not JSON") from None
        return parse_listing(payload)

    def _failed(self, provider: OpenAIWireProvider, reason: str) -> None:
        status = self.status[provider.name]
        if status.available is not False or status.reason != reason:
            logger.warning("listing the models of %s failed: %s", provider.name, reason)
        status.available, status.reason, status.checked_at = False, reason, datetime.now(UTC)
