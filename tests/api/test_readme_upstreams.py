"""The README's upstream examples (Ollama, vLLM, llama.cpp server, OpenAI), loaded from the README itself
and run against the fake OpenAI server speaking each server's dialect: its model listing and the form its
reasoning takes. If the README's configuration stops working, this fails."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rillchat.config import UpstreamConfig
from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text
from tests.helpers import sse_events, text_of, wait_until

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_examples() -> dict[str, dict[str, Any]]:
    """``# example: NAME`` TOML blocks of the README -> their one upstream."""
    examples = {}
    for block in re.findall(r"```toml\n(.*?)```", README.read_text(), re.S):
        first = block.splitlines()[0]
        if match := re.match(r"# example: (\w+)", first):
            examples[match.group(1)] = tomllib.loads(block)["upstreams"][0]
    return examples


@dataclass
class Dialect:
    listing: str
    reasoning_form: str
    served: tuple[str, ...]
    listed: list[str]  # what rillchat should offer, after the example's filters
    model: str  # the one to chat with
    context_length: int | None = None


DIALECTS = {
    "ollama": Dialect(
        "ollama",
        "reasoning",
        ("qwen3:8b", "llama3.2:3b", "nomic-embed-text:latest"),
        ["llama3.2:3b", "qwen3:8b"],
        "qwen3:8b",
    ),
    "vllm": Dialect("vllm", "both", ("Qwen/Qwen3-8B",), ["Qwen/Qwen3-8B"], "Qwen/Qwen3-8B", 32768),
    "llamacpp": Dialect(
        "llamacpp", "think_tags", ("Qwen3-8B-Q4_K_M.gguf",), ["Qwen3-8B-Q4_K_M.gguf"], "Qwen3-8B-Q4_K_M.gguf"
    ),
    "openai": Dialect(
        "openai",
        "summary",
        ("gpt-5-mini", "gpt-4.1", "o4-mini", "text-embedding-3-small", "dall-e-3", "whisper-1"),
        ["gpt-4.1", "gpt-5-mini", "o4-mini"],
        "gpt-5-mini",
    ),
}


def test_the_readme_has_the_four_examples():
    assert set(readme_examples()) == set(DIALECTS)


@pytest.mark.parametrize("name", sorted(DIALECTS))
def test_a_readme_example_finds_its_models_and_streams_reasoning(
    name, fake_openai, make_settings, start_server, client, monkeypatch
):
    dialect = DIALECTS[name]
    config = dict(readme_examples()[name])
    config["base_url"] = fake_openai.base_url  # the only change: where the server is
    if "api_key_env" in config:
        monkeypatch.setenv(config["api_key_env"], "sk-test")
    fake_openai.listing = dialect.listing
    fake_openai.models = dialect.served
    server = start_server(make_settings(local_model_enabled=False, upstreams=[UpstreamConfig(**config)]))

    def listed() -> list[str]:
        return sorted(m["id"] for m in client.get(f"{server}/api/models").json()["data"])

    wait_until(lambda: listed() == dialect.listed, timeout=15, what=f"{name}'s models listed")
    model = next(m for m in client.get(f"{server}/api/models").json()["data"] if m["id"] == dialect.model)
    assert model["capabilities"]["reasoning"] is True
    assert model["capabilities"]["contextLength"] == dialect.context_length

    fake_openai.scenario = Scenario(tokens=6, reasoning=5, reasoning_form=dialect.reasoning_form)
    events = sse_events(
        client, "POST", f"{server}/api/chat/stream", json={"userInput": "Why is the sky blue?", "model": dialect.model}
    )
    api = "responses" if config["kind"] == "openai-responses" else "chat"
    assert "".join(e.data["text"] for e in events if e.event == "reasoning") == expected_reasoning(
        fake_openai.scenario, api
    )
    assert text_of(events) == expected_text(fake_openai.scenario)
    assert events[-1].data["status"] == "completed"
