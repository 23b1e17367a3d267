"""Models found by themselves: upstreams with ``models = "auto"`` listed in the background, each server's
dialect read, filters applied, a dead or silent upstream shown unavailable without holding up anything."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from rillchat.config import UpstreamConfig
from tests.fakes.openai_server import Scenario
from tests.helpers import sse_events, text_of, wait_until


def auto_upstream(name: str, base_url: str, **extra: Any) -> UpstreamConfig:
    values: dict[str, Any] = {"name": name, "kind": "openai-chat", "base_url": base_url, "max_retries": 0}
    values.update(extra)
    return UpstreamConfig(**values)  # no models: "auto"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections (the kernel does) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port nobody listens on: connections are refused at once."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    sock.close()


def models(client: httpx.Client, server: str) -> dict[str, Any]:
    response = client.get(f"{server}/api/models")
    assert response.status_code == 200
    return response.json()


def upstream_of(listing: dict[str, Any], name: str) -> dict[str, Any]:
    return next(u for u in listing["upstreams"] if u["name"] == name)


def wait_for_models(client, server, upstream: str, count: int) -> dict[str, Any]:
    found: dict[str, Any] = {}

    def listed() -> bool:
        nonlocal found
        found = models(client, server)
        return sum(m["upstream"] == upstream for m in found["data"]) >= count

    wait_until(listed, timeout=15, what=f"{count} models of {upstream} listed")
    return found


DIALECT_MODELS = ["qwen3:8b", "deepseek-r1:14b", "llama3.2:3b", "nomic-embed-text"]


@pytest.mark.parametrize("dialect", ["openai", "vllm", "ollama", "llamacpp", "lmstudio", "openrouter"])
def test_each_servers_listing_is_read(dialect, fake_openai, make_settings, start_server, client):
    fake_openai.listing = dialect
    fake_openai.models = tuple(DIALECT_MODELS)
    settings = make_settings(local_model_enabled=False, upstreams=[auto_upstream("local", fake_openai.base_url)])
    server = start_server(settings)
    listing = wait_for_models(client, server, "local", len(DIALECT_MODELS))
    by_id = {m["id"]: m for m in listing["data"]}
    assert set(by_id) == set(DIALECT_MODELS)
    assert upstream_of(listing, "local") | {"checkedAt": None} == {
        "name": "local",
        "kind": "openai-chat",
        "discovered": True,
        "available": True,
        "reason": None,
        "checkedAt": None,
    }
    qwen, llama = by_id["qwen3:8b"], by_id["llama3.2:3b"]
    assert qwen["available"] and qwen["upstreamModel"] == "qwen3:8b"
    assert qwen["capabilities"]["reasoning"] is True  # a family known to reason
    assert by_id["deepseek-r1:14b"]["capabilities"]["reasoning"] is True
    expected_context = 32768 if dialect in ("vllm", "openrouter") else None
    assert qwen["capabilities"]["contextLength"] == expected_context
    # Unknown unless the listing says: OpenRouter lists which models take "reasoning".
    assert llama["capabilities"]["reasoning"] is None
    assert llama["capabilities"]["reasoningEffort"] is False

    # A discovered model is a model like any other.
    fake_openai.scenario = Scenario(tokens=3, reasoning=2)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json={"userInput": "hi", "model": "llama3.2:3b"})
    assert text_of(events) == "tok0 tok1 tok2 "
    assert fake_openai.requests[-1].json["model"] == "llama3.2:3b"


def test_include_and_exclude_filters(fake_openai, make_settings, start_server, client):
    fake_openai.models = ("qwen3:8b", "qwen3:32b", "qwen2.5-coder", "text-embedding-3-small", "whisper-1")
    upstream = auto_upstream("many", fake_openai.base_url, include=["qwen*", "*embedding*"], exclude=["*32b"])
    server = start_server(make_settings(local_model_enabled=False, upstreams=[upstream]))
    listing = wait_for_models(client, server, "many", 3)
    assert sorted(m["id"] for m in listing["data"]) == ["qwen2.5-coder", "qwen3:8b", "text-embedding-3-small"]


def test_a_silent_upstream_neither_holds_up_start_up_nor_the_others(
    fake_openai, make_settings, start_server, client, silent_url, refused_url
):
    fake_openai.models = ("gpt-5-mini", "gpt-4.1")
    settings = make_settings(
        local_model_enabled=False,
        upstreams=[
            auto_upstream("silent", silent_url, models_timeout_seconds=600),
            auto_upstream("gone", refused_url),
            auto_upstream("good", fake_openai.base_url, kind="openai-responses"),
        ],
    )
    server = start_server(settings)  # returns once rillchat serves: it did not wait for "silent"
    listing = wait_for_models(client, server, "good", 2)
    assert upstream_of(listing, "silent")["available"] is None, "still being asked, in the background"
    fake_openai.scenario = Scenario(tokens=2)
    events = sse_events(client, "POST", f"{server}/api/chat/stream", json={"userInput": "hi", "model": "gpt-4.1"})
    assert text_of(events) == "tok0 tok1 "

    wait_until(lambda: upstream_of(models(client, server), "gone")["available"] is False, what="gone marked")
    gone = upstream_of(models(client, server), "gone")
    assert "could not connect" in gone["reason"]
    assert gone["checkedAt"] is not None


def test_an_upstream_that_times_out_is_unavailable_with_the_reason(
    fake_openai, make_settings, start_server, client, silent_url
):
    upstream = auto_upstream("slow", silent_url, models_timeout_seconds=0.2)
    server = start_server(make_settings(upstreams=[upstream]))
    wait_until(lambda: upstream_of(models(client, server), "slow")["available"] is False, what="slow marked")
    assert upstream_of(models(client, server), "slow")["reason"] == "no answer from slow within 0.2s"
    # The embedded model is unaffected.
    assert any(m["upstream"] == "local" and m["available"] for m in models(client, server)["data"])


def test_a_failing_upstream_keeps_its_last_list_shown_unavailable_until_it_answers_again(
    fake_openai, make_settings, start_server, client
):
    fake_openai.models = ("qwen3:8b", "llama3.2:3b")
    upstream = auto_upstream("flaky", fake_openai.base_url, models_refresh_seconds=0.1)
    server = start_server(make_settings(local_model_enabled=False, upstreams=[upstream]))
    wait_for_models(client, server, "flaky", 2)

    fake_openai.listing_status = 503
    wait_until(lambda: upstream_of(models(client, server), "flaky")["available"] is False, what="flaky marked")
    listing = models(client, server)
    assert "503" in upstream_of(listing, "flaky")["reason"]
    assert sorted(m["id"] for m in listing["data"]) == ["llama3.2:3b", "qwen3:8b"], "the last known list stays"
    assert not any(m["available"] for m in listing["data"])

    fake_openai.listing_status = None
    fake_openai.models = ("qwen3:8b", "gpt-oss-20b")
    wait_until(
        lambda: sorted(m["id"] for m in models(client, server)["data"]) == ["gpt-oss-20b", "qwen3:8b"],
        what="the new list",
    )
    listing = models(client, server)
    assert upstream_of(listing, "flaky")["available"] is True
    oss = next(m for m in listing["data"] if m["id"] == "gpt-oss-20b")
    assert oss["available"] and oss["capabilities"]["reasoningEffort"] is True


def test_the_same_model_on_two_upstreams_is_listed_once_per_upstream(fake_openai, make_settings, start_server, client):
    fake_openai.models = ("qwen3:8b",)
    upstreams = [auto_upstream("a", fake_openai.base_url), auto_upstream("b", fake_openai.base_url)]
    server = start_server(make_settings(local_model_enabled=False, upstreams=upstreams))
    wait_until(lambda: len(models(client, server)["data"]) == 2, what="both listed")
    listing = models(client, server)
    assert sorted((m["id"], m["upstream"]) for m in listing["data"]) == [("b/qwen3:8b", "b"), ("qwen3:8b", "a")]


def test_fixed_model_lists_are_not_asked_for(fake_openai, make_settings, start_server, client):
    upstream = UpstreamConfig(name="fixed", kind="openai-chat", base_url=fake_openai.base_url, models=["m1"])
    server = start_server(make_settings(local_model_enabled=False, upstreams=[upstream]))
    listing = models(client, server)
    assert [m["id"] for m in listing["data"]] == ["m1"]
    assert upstream_of(listing, "fixed")["discovered"] is False
    assert not [r for r in fake_openai.requests if r.path == "/v1/models"]


def test_an_empty_model_list_is_refused_in_the_configuration():
    with pytest.raises(ValueError, match="at least one model"):
        UpstreamConfig(name="x", kind="openai-chat", models=[])
