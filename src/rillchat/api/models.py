"""``GET /api/models``."""

from __future__ import annotations

from fastapi import APIRouter, Request

from rillchat.api.schemas import Limits, ModelList, ModelOut
from rillchat.api.services import Services

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(request: Request) -> ModelList:
    services: Services = request.app.state.services
    registry = services.registry
    default = registry.resolve(None).id if registry.models() else registry.default_model
    return ModelList(
        data=[
            ModelOut(
                id=m.id,
                provider=m.provider,
                upstream=m.upstream,
                upstreamModel=m.upstream_model,
                default=m.id == default,
                aliases=m.aliases,
            )
            for m in registry.models()
        ],
        default=default,
        limits=Limits(
            maxTextChars=services.settings.max_text_chars,
            maxOutputTokens=services.settings.max_output_tokens_limit,
        ),
    )
