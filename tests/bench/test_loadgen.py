"""The benchmark's load generator against the fake upstream: every stream it starts is counted.

A mistake in building a stream's request once left the sequential probe waiting forever with no stream
started; these runs would then hang or report zero streams.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from bench.loadgen import LoadSpec, build_request, run_load

from tests.fakes.openai_server import FakeOpenAI

PROMPT = "[[fake embed_timestamp=true tokens=4 rate=0]] hello"


def _spec(fake: FakeOpenAI, streams: int, **over: object) -> LoadSpec:
    port = urlsplit(fake.base_url).port
    assert port is not None
    body = {"model": "fake-responses", "input": [{"role": "user", "content": PROMPT}], "stream": True}
    body.update(over.pop("body", {}))  # type: ignore[call-overload]
    request = build_request(port, "/v1/responses", body, {"Authorization": "Bearer x"})
    values = {"port": port, "request": request.decode("latin-1"), "pattern": "responses", "streams": streams}
    values.update(expected_tokens=4, rate=20.0, ramp=0.2, deadline=30.0, **over)
    return LoadSpec(**values)  # type: ignore[arg-type]


def test_sequential_probe_without_a_unique_marker_runs_every_stream(fake_openai: FakeOpenAI) -> None:
    result = asyncio.run(asyncio.wait_for(run_load(_spec(fake_openai, 3, sequential=True)), 60))
    assert (result["streams"], result["ok"], result["failed"]) == (3, 3, 0)
    assert result["tokens"] == 12
    assert result["delay_ms"]["n"] == 12


def test_concurrent_streams_each_get_their_unique_value(fake_openai: FakeOpenAI) -> None:
    marker = "U" * 24
    spec = _spec(fake_openai, 5, unique=marker, body={"metadata": {"run": marker}})
    result = asyncio.run(asyncio.wait_for(run_load(spec), 60))
    assert (result["streams"], result["ok"]) == (5, 5)
    sent = [r.json["metadata"]["run"] for r in fake_openai.requests if r.path.endswith("/responses")]
    assert len(sent) == 5 and len(set(sent)) == 5
    assert all(len(value) == len(marker) and marker not in value for value in sent)
