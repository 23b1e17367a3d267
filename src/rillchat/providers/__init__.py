"""Model -> events. Providers register under the model ids they serve; requests find them by model id."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rillchat.config import Settings, UpstreamConfig
from rillchat.errors import UnknownModel, clip
from rillchat.providers.base import ChatMessage, GenerationRequest, ModelInfo, Provider, ProviderStream
from rillchat.providers.capabilities import ModelTraits
from rillchat.providers.discovery import ModelDiscovery, UpstreamStatus

__all__ = [
    "PROVIDER_KINDS",
    "ChatMessage",
    "GenerationRequest",
    "ModelInfo",
    "ModelTraits",
    "Provider",
    "ProviderRegistry",
    "ProviderStream",
    "ResolvedModel",
    "UpstreamStatus",
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
        self.discovery: ModelDiscovery | None = None

    def register(self, provider: Provider) -> None:
        self._providers.append(provider)
        self._index(provider)

    def _index(self, provider: Provider) -> None:
        for name in provider.model_names():
            model = ResolvedModel(name, provider, name)
            # The first upstream to claim a bare name keeps it; the others stay reachable qualified.
            self._models.setdefault(name, model)
            self._qualified[f"{provider.name}/{name}"] = ResolvedModel(f"{provider.name}/{name}", provider, name)

    def reindex(self) -> None:
        """Model lists changed (an upstream listed its models): index them again, in registration order."""
        self._models, self._qualified = {}, {}
        for provider in self._providers:
            self._index(provider)

    def unregister(self, provider: Provider) -> None:
        self._providers.remove(provider)
        self._models = {k: v for k, v in self._models.items() if v.provider is not provider}
        self._qualified = {k: v for k, v in self._qualified.items() if v.provider is not provider}

    def start_discovery(self) -> ModelDiscovery:
        """Begin listing the models of the upstreams that find theirs by themselves (in the background)."""
        from rillchat.providers._openai_base import OpenAIWireProvider

        wire = [p for p in self._providers if isinstance(p, OpenAIWireProvider)]
        self.discovery = ModelDiscovery(wire, self.reindex)
        self.discovery.start()
        return self.discovery

    def upstreams(self) -> list[UpstreamStatus]:
        """Every provider, and how its last model listing went (always available when it lists none)."""
        statuses = self.discovery.status if self.discovery is not None else {}
        return [
            statuses.get(p.name) or UpstreamStatus(p.name, p.kind, discovers=False, available=True)
            for p in self._providers
        ]

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
        """Every model by its shortest name, plus those that share a bare name with an earlier upstream's
        (under ``upstream/name``): a picker shows each model of each upstream once."""
        available = {u.name: u.available is not False for u in self.upstreams()}
        shown = list(self._models.values())
        shown_pairs = {(m.provider.name, m.upstream_model) for m in shown}
        shown += [m for m in self._qualified.values() if (m.provider.name, m.upstream_model) not in shown_pairs]
        return [
            ModelInfo(
                id=m.id,
                provider=m.provider.kind,
                upstream=m.provider.name,
                upstream_model=m.upstream_model,
                aliases=sorted(a for a, target in self.aliases.items() if target == m.id),
                traits=_traits(m.provider, m.upstream_model),
                available=available.get(m.provider.name, True),
            )
            for m in shown
        ]

    async def aclose(self) -> None:
        if self.discovery is not None:
            await self.discovery.aclose()
        for provider in self._providers:
            await provider.aclose()


def _traits(provider: Provider, model: str) -> ModelTraits:
    traits = getattr(provider, "traits", None)
    return traits(model) if traits is not None else ModelTraits()


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
