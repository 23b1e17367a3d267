"""Map the openai SDK's and httpx's exceptions into rillchat's tree, in one place."""

from __future__ import annotations

import httpx2
import openai

from rillchat.errors import (
    RequestError,
    RillchatError,
    UnknownModel,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["map_openai_error"]


def _upstream_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    return exc.message


def _retry_after(response: httpx2.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def map_openai_error(exc: openai.APIError, upstream: str) -> RillchatError:
    """The most specific rillchat error for an SDK error raised before the stream started."""
    if isinstance(exc, openai.APITimeoutError):
        return UpstreamTimeout(f"{upstream} did not answer in time")
    if isinstance(exc, openai.APIConnectionError):
        return UpstreamUnavailable(f"could not connect to {upstream}")
    if isinstance(exc, openai.APIStatusError):
        message = _upstream_message(exc)
        if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            return UpstreamAuthError(f"{upstream} refused our credentials: {message}")
        if isinstance(exc, openai.RateLimitError):
            return UpstreamRateLimited(
                f"{upstream} is rate limiting: {message}", retry_after=_retry_after(exc.response)
            )
        if isinstance(exc, openai.NotFoundError):
            return UnknownModel(f"{upstream}: {message}")
        if isinstance(exc, openai.BadRequestError | openai.UnprocessableEntityError):
            return RequestError(f"{upstream} rejected the request: {message}", code="upstream_bad_request")
        if exc.status_code == 504:
            return UpstreamTimeout(f"{upstream} timed out: {message}")
        if exc.status_code >= 500:
            return UpstreamUnavailable(f"{upstream} is unavailable ({exc.status_code}): {message}")
        return UpstreamError(f"{upstream} answered {exc.status_code}: {message}")
    return UpstreamError(f"{upstream} failed: {exc.message}")
