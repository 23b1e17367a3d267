"""``GET /api/models``: every model of every upstream, what it can do, and which upstreams answer."""

from __future__ import annotations

from fastapi import APIRouter, Request

from rillchat.api.schemas import Limits, ModelCapabilities, ModelList, ModelOut, UpstreamOut
from rillchat.api.services import Services
from rillchat.errors import UnknownModel

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    services: Services = request.app.state.services
    registry = services.registry
    models = registry.models()
    try:
        default = registry.resolve(None).id
    except UnknownModel:  # e.g. an upstream that will list it has not answered yet
        default = registry.default_model
    return ModelList(
        data=[
            ModelOut(
                id=m.id,
                provider=m.provider,
                upstream=m.upstream,
                upstreamModel=m.upstream_model,
                default=m.id == default,
                aliases=m.aliases,
                available=m.available,
                capabilities=ModelCapabilities(
                    reasoning=m.traits.reasoning,
                    reasoningEffort=m.traits.reasoning_effort,
                    contextLength=m.traits.context_length,
                ),
            )
            for m in models
        ],
        default=default,
        limits=Limits(
            maxTextChars=services.settings.max_text_chars,
            maxOutputTokens=services.settings.max_output_tokens_limit,
        ),
        upstreams=[
            UpstreamOut(
                name=u.name,
                kind=u.kind,
                discovered=u.discovers,
                available=u.available,
                reason=u.reason,
                checkedAt=u.checked_at,
            )
            for u in registry.upstreams()
        ],
    )
