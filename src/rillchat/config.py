"""Settings, from environment variables (prefix ``RILLCHAT_``), an optional TOML file, and CLI flags."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "UpstreamConfig"]

UpstreamKind = Literal["openai-responses", "openai-chat"]


class UpstreamConfig(BaseModel):
    """One remote model server and the model names it serves."""

    name: str
    kind: UpstreamKind
    base_url: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    models: list[str] | Literal["auto"] = "auto"
    """The model names it serves, or "auto" (the default): ask its ``GET /v1/models``, now and every
    ``models_refresh_seconds``, in the background."""
    include: list[str] = Field(default_factory=list)
    """Shell-style patterns (``qwen3*``): with "auto", keep only the models that match one."""
    exclude: list[str] = Field(default_factory=list)
    """Shell-style patterns: with "auto", drop the models that match one (embeddings, whisper...)."""
    models_refresh_seconds: float = Field(default=300.0, gt=0)
    models_timeout_seconds: float = Field(default=5.0, gt=0)
    timeout_seconds: float = 60.0
    connect_timeout_seconds: float = 10.0
    max_retries: int = 2

    # Reasoning models
    reasoning_models: list[str] | None = None
    """Patterns of the models that reason; None: the well-known families (o1/o3/o4, gpt-5, gpt-oss,
    DeepSeek-R1, Qwen3, QwQ, ...). Responses upstreams ask these for reasoning summaries."""
    think_tags: Literal["auto", "on", "off"] = "auto"
    """Inline ``<think>…</think>`` in the content: split off when the reply opens with it (auto), also when
    the reply starts inside it and holds only ``</think>`` (on), or never (off)."""
    reasoning_summary: bool = True
    """Responses API: ask reasoning models for a summary of their reasoning (refused once -> never again)."""
    send_reasoning: Literal["off", "reasoning_content", "reasoning", "think_tags"] = "off"
    """Chat Completions: earlier turns' reasoning goes back upstream in this field (or inline in tags);
    "off" keeps it out of the history, which is what almost every server wants."""

    @model_validator(mode="after")
    def _models_not_empty(self) -> UpstreamConfig:
        if isinstance(self.models, list) and not self.models:
            raise ValueError('models must list at least one model, or be "auto"')
        return self

    @property
    def discovers_models(self) -> bool:
        return self.models == "auto"

    def resolved_api_key(self) -> str:
        if self.api_key is not None:
            return self.api_key.get_secret_value()
        if self.api_key_env:
            return os.environ.get(self.api_key_env, "")
        # Local OpenAI-compatible servers (vLLM, Ollama, llama.cpp) usually take any key.
        return "not-needed"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RILLCHAT_", env_nested_delimiter="__", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    config_file: Path | None = None

    # Models
    default_model: str = "smollm2"
    model_aliases: dict[str, str] = Field(default_factory=dict)
    upstreams: list[UpstreamConfig] = Field(default_factory=list)
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    openai_models: list[str] = Field(default_factory=lambda: ["gpt-4o-mini", "gpt-4.1-mini", "gpt-4.1"])
    local_model_enabled: bool = True
    local_model_path: Path | None = None
    local_model_preload: bool = True
    local_context_tokens: int = 2048
    local_threads: int | None = None

    # Request defaults and limits
    default_temperature: float | None = 0.7
    default_instructions: str = "You are a helpful assistant."
    # None: no cap of ours. The embedded model writes until its context is full (context minus prompt);
    # remote upstreams are sent no cap, so their own (usually the model's output limit) applies.
    default_max_output_tokens: int | None = None
    max_output_tokens_limit: int = 8192
    max_body_bytes: int = 1_000_000
    # The request head (request line and headers), and how long the head and the body may take (408).
    max_header_bytes: int = 65_536
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 30.0
    max_import_bytes: int = 100_000_000
    max_messages: int = 500
    max_text_chars: int = 100_000

    # Exposure: keys, origins, host names, per-client caps (0 turns a cap off)
    api_keys: dict[str, str] = Field(default_factory=dict)
    cors_origins: list[str] = Field(default_factory=list)
    # Host header values answered (DNS rebinding): names, "*.example.com", or "*" for any.
    allowed_hosts: list[str] = Field(default_factory=lambda: ["localhost", "127.0.0.1", "::1"])
    # With API keys on, /metrics and the API docs (/docs, /redoc, /openapi.json) need a key unless opened.
    public_metrics: bool = False
    public_docs: bool = False
    rate_limit_per_minute: int = 120
    max_concurrent_replies: int = 32
    max_queued_local_replies: int = 8
    stall_timeout_seconds: float = 60.0
    reply_timeout_seconds: float = 600.0
    log_format: Literal["text", "json"] = "text"
    log_content: bool = False
    metrics_enabled: bool = True
    tune_gc: bool = True

    # Streams
    keepalive_seconds: float = 15.0
    stream_grace_seconds: float = 30.0
    event_log_ttl_seconds: float = 300.0
    shutdown_grace_seconds: float = 10.0
    # How often the partial text of running conversation replies is saved (0: only when a reply ends).
    checkpoint_interval_seconds: float = 1.0

    # Storage
    database_url: str = "sqlite+aiosqlite:///data/rillchat.db"
    redis_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _merge_config_file(cls, data: Any) -> Any:
        """A TOML file (``RILLCHAT_CONFIG_FILE``) fills what the environment leaves unset."""
        if not isinstance(data, dict):
            return data
        path = data.get("config_file") or os.environ.get("RILLCHAT_CONFIG_FILE")
        if not path:
            return data
        with open(path, "rb") as fh:
            from_file = tomllib.load(fh)
        return {**from_file, **data}

    def all_upstreams(self) -> list[UpstreamConfig]:
        """Configured upstreams, plus OpenAI itself when ``OPENAI_API_KEY`` is set."""
        upstreams = list(self.upstreams)
        if self.openai_api_key is not None and not any(u.name == "openai" for u in upstreams):
            upstreams.append(
                UpstreamConfig(
                    name="openai",
                    kind="openai-responses",
                    base_url=self.openai_base_url,
                    api_key=self.openai_api_key,
                    models=self.openai_models,
                )
            )
        return upstreams
