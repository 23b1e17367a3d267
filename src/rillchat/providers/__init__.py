"""Model -> events. Providers register under the model ids they serve; requests find them by model id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rillchat.config import Settings, UpstreamConfig
from rillchat.errors import UnknownModel, clip
from rillchat.providers.base import ChatMessage, GenerationRequest, ModelInfo, Provider, ProviderStream

__all__ = [
    "PROVIDER_KINDS",
    "ChatMessage",
    "GenerationRequest",
    "ModelInfo",
    "Provider",
    "ProviderRegistry",
    "ProviderStream",
    "ResolvedModel",
    "build_registry",
]


def _openai_responses(config: UpstreamConfig) -> Provider:
    from rillchat.providers.openai_responses import OpenAIResponsesProvider

    return OpenAIResponsesProvider(config)


def _openai_chat(config: UpstreamConfig) -> Provider:
    from rillchat.providers.openai_chat import OpenAIChatProvider

    return OpenAIChatProvider(config)


# Upstream kinds that a config file can name. Extensions add theirs here the same way.
PROVIDER_KINDS: dict[str, Callable[[UpstreamConfig], Provider]] = {
    "openai-responses": _openai_responses,
    "openai-chat": _openai_chat,
}


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    id: str
    provider: Provider
    upstream_model: str


class ProviderRegistry:
    """Model ids -> providers. A model is reachable by its name and by ``upstream/name``."""

    def __init__(self, default_model: str, aliases: dict[str, str] | None = None) -> None:
        self.default_model = default_model
        self.aliases = dict(aliases or {})
        self._models: dict[str, ResolvedModel] = {}
        self._qualified: dict[str, ResolvedModel] = {}
        self._providers: list[Provider] = []

    def register(self, provider: Provider) -> None:
        self._providers.append(provider)
        for name in provider.model_names():
            model = ResolvedModel(name, provider, name)
            # The first upstream to claim a bare name keeps it; the others stay reachable qualified.
            self._models.setdefault(name, model)
            self._qualified[f"{provider.name}/{name}"] = ResolvedModel(f"{provider.name}/{name}", provider, name)

    def unregister(self, provider: Provider) -> None:
        self._providers.remove(provider)
        self._models = {k: v for k, v in self._models.items() if v.provider is not provider}
        self._qualified = {k: v for k, v in self._qualified.items() if v.provider is not provider}

    @property
    def providers(self) -> list[Provider]:
        return list(self._providers)

    def resolve(self, model_id: str | None) -> ResolvedModel:
        wanted = model_id or self.default_model
        wanted = self.aliases.get(wanted, wanted)
        found = self._models.get(wanted) or self._qualified.get(wanted)
        if found is None:
            known = ", ".join(sorted(self._models)) or "none"
            raise UnknownModel(f"unknown model {clip(wanted)}; available models: {known}")
        return found

    def models(self) -> list[ModelInfo]:
        return [
            ModelInfo(
                id=m.id,
                provider=m.provider.kind,
                upstream=m.provider.name,
                upstream_model=m.upstream_model,
                aliases=sorted(a for a, target in self.aliases.items() if target == m.id),
            )
            for m in self._models.values()
        ]

    async def aclose(self) -> None:
        for provider in self._providers:
            await provider.aclose()


def build_registry(settings: Settings) -> ProviderRegistry:
    registry = ProviderRegistry(settings.default_model, settings.model_aliases)
    if settings.local_model_enabled:
        from rillchat.providers.llamacpp import LocalModelProvider

        registry.register(
            LocalModelProvider(
                path=settings.local_model_path,
                context_tokens=settings.local_context_tokens,
                threads=settings.local_threads,
            )
        )
    for upstream in settings.all_upstreams():
        registry.register(PROVIDER_KINDS[upstream.kind](upstream))
    return registry
