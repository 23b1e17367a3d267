"""Part 2, EMBEDDED MODEL: tokens/s and time to first token through rillchat vs llama-cpp-python in process.

Both sides run pinned to core 0 with the same settings (``Settings()`` defaults: context, threads), the same
model file, prompt, chat formatting, sampling and budget: the direct side calls rillchat's own
``LocalModel``, ``_fit_messages`` and ``_generate`` (the worker-thread loop) with no server around them, in
a worker process (``python -m bench.embedded worker``) that generates each time it is asked to.

The two sides alternate (rillchat, direct, direct, rillchat, ...) after one warm-up each, so that whatever
else the machine runs meanwhile weighs on both alike; each run also records how long its process waited
for the core (``/proc/*/schedstat``) and the CPU time it used, which no neighbour changes much.

Decode rate, both sides: ``(output tokens - 1) / (last delta - first delta)``. TTFT: request sent (direct:
call made) to the first delta.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import orjson
import psutil

from bench.loadgen import build_request, fetch
from bench.procs import CORE_SERVER, PYTHON, Processes, Server, cpu_seconds, pinned, sched_seconds, start_rillchat

__all__ = ["EmbeddedConfig", "run_embedded"]

PROMPT = "Write a short story about a lighthouse keeper."


@dataclass
class EmbeddedConfig:
    runs: int = 3
    max_output_tokens: int = 200
    prompt: str = PROMPT
    temperature: float = 0.0


def _measure(t0: float, deltas: list[float], tokens: int, text: str, **extra: Any) -> dict[str, Any]:
    span = deltas[-1] - deltas[0] if len(deltas) > 1 else 0.0
    return {
        "ttft_ms": (deltas[0] - t0) * 1000 if deltas else None,
        "tokens": tokens,
        "deltas": len(deltas),
        "tokens_per_s": (tokens - 1) / span if span > 0 else None,
        "total_s": (deltas[-1] - t0) if deltas else None,
        "text": text,
        **extra,
    }


def _usage(cpu_s: float, wait_s: float, total_s: float | None, tokens: int) -> dict[str, Any]:
    return {
        "cpu_s": cpu_s,
        "wait_pct": 100.0 * wait_s / total_s if total_s else None,
        "tokens_per_cpu_s": tokens / cpu_s if cpu_s > 0 else None,
    }


# --------------------------------------------------------------------------------------------------
# Through rillchat


async def _one_sse(server: Server, cfg: EmbeddedConfig) -> dict[str, Any]:
    body = {
        "userInput": cfg.prompt,
        "model": "smollm2",
        "temperature": cfg.temperature,
        "maxOutputTokens": cfg.max_output_tokens,
    }
    request = build_request(server.port, "/api/chat/stream", body, {"Accept": "text/event-stream"})
    got = await fetch(server.port, request, limit=300)
    if got.status != 200 or not got.complete:
        raise RuntimeError(f"embedded request failed: {got.status} {got.body[:300]!r}\n{server.log_tail()}")
    deltas = got.arrivals(b"event: delta\n")
    text, usage = "", None
    for frame in got.body.split(b"\n\n"):
        if b"event: delta\n" in frame:
            text += orjson.loads(frame.split(b"data: ", 1)[1])["text"]
        elif b"event: finish\n" in frame:
            usage = orjson.loads(frame.split(b"data: ", 1)[1]).get("usage")
    tokens = int((usage or {}).get("outputTokens") or len(deltas))
    return _measure(got.t_sent, deltas, tokens, text, headers_ms=((got.t_head or got.t_sent) - got.t_sent) * 1000)


def _rillchat_once(server: Server, process: psutil.Process, cfg: EmbeddedConfig) -> dict[str, Any]:
    cpu0, (_, wait0) = cpu_seconds(process), sched_seconds(process)
    run = asyncio.run(_one_sse(server, cfg))
    cpu1, (_, wait1) = cpu_seconds(process), sched_seconds(process)
    return {**run, **_usage(cpu1 - cpu0, wait1 - wait0, run["total_s"], run["tokens"])}


# --------------------------------------------------------------------------------------------------
# Direct: this module as a worker process, pinned like rillchat


def _worker(cfg: EmbeddedConfig) -> None:
    """Generate once per "run" line on stdin; one JSON line on stdout each time."""
    from rillchat.config import Settings
    from rillchat.events import Delta, Finish
    from rillchat.providers.base import ChatMessage, GenerationRequest
    from rillchat.providers.llamacpp import LocalModel, _fit_messages, _generate, bundled_model_path

    settings = Settings()
    path = settings.local_model_path or bundled_model_path()
    model = LocalModel(path, settings.local_context_tokens, settings.local_threads)
    request = GenerationRequest(
        model="smollm2",
        messages=[ChatMessage("user", cfg.prompt)],
        instructions=settings.default_instructions,
        temperature=cfg.temperature,
        max_output_tokens=cfg.max_output_tokens,
    )
    me = psutil.Process()

    def once() -> dict[str, Any]:
        deltas: list[float] = []
        parts: list[str] = []
        usage: list[int] = []

        def emit(item: Any) -> None:
            if type(item) is Delta:
                deltas.append(time.time())
                parts.append(item.text)
            elif type(item) is Finish and item.usage is not None:
                usage.append(item.usage.output_tokens or 0)

        cpu0, (_, wait0) = cpu_seconds(me), sched_seconds(me)
        t0 = time.time()
        prompt, budget = _fit_messages(model, request)
        _generate(model, prompt, budget, request.temperature, threading.Event(), emit, lambda _: None)
        run = _measure(t0, deltas, usage[0] if usage else len(deltas), "".join(parts))
        cpu1, (_, wait1) = cpu_seconds(me), sched_seconds(me)
        return {**run, **_usage(cpu1 - cpu0, wait1 - wait0, run["total_s"], run["tokens"])}

    for line in sys.stdin:
        if line.strip() == "run":
            sys.stdout.write(json.dumps(once()) + "\n")
            sys.stdout.flush()


class _Direct:
    def __init__(self, procs: Processes, cfg: EmbeddedConfig) -> None:
        self.procs = procs
        self.log = procs.logdir / "embedded-direct.log"
        argv = [PYTHON, "-m", "bench.embedded", "worker", "--max-output-tokens", str(cfg.max_output_tokens)]
        argv += ["--prompt", cfg.prompt]
        with open(self.log, "wb") as err:
            self.popen = procs.spawn(
                pinned(CORE_SERVER, argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
            )

    def run(self) -> dict[str, Any]:
        assert self.popen.stdin is not None and self.popen.stdout is not None
        self.popen.stdin.write(b"run\n")
        self.popen.stdin.flush()
        line = self.popen.stdout.readline()
        if not line:
            raise RuntimeError(f"the direct model worker died:\n{self.log.read_text(errors='replace')[-3000:]}")
        result: dict[str, Any] = json.loads(line)
        return result

    def close(self) -> None:
        self.procs.stop(self.popen)


# --------------------------------------------------------------------------------------------------


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def _side(runs: list[dict[str, Any]], *keys: str) -> dict[str, float | None]:
    return {key: _median(runs, key) for key in keys}


def run_embedded(procs: Processes, cfg: EmbeddedConfig) -> dict[str, Any]:
    env = {
        "RILLCHAT_LOCAL_MODEL_ENABLED": "true",
        "RILLCHAT_UPSTREAMS": "[]",
        "RILLCHAT_DEFAULT_MODEL": "smollm2",
        "RILLCHAT_RATE_LIMIT_PER_MINUTE": "0",
        "RILLCHAT_MAX_CONCURRENT_REPLIES": "0",
        "RILLCHAT_MAX_QUEUED_LOCAL_REPLIES": "0",
    }
    server = start_rillchat(procs, env=env, name="rillchat-embedded", timeout=120)
    direct = _Direct(procs, cfg)
    rill_runs: list[dict[str, Any]] = []
    direct_runs: list[dict[str, Any]] = []
    try:
        process = server.process()
        _rillchat_once(server, process, cfg)  # warm-up: loads the model
        direct.run()  # warm-up
        for i in range(cfg.runs):
            order = ("rillchat", "direct") if i % 2 == 0 else ("direct", "rillchat")
            for side in order:
                if side == "rillchat":
                    rill_runs.append(_rillchat_once(server, process, cfg))
                else:
                    direct_runs.append(direct.run())
    finally:
        direct.close()
        procs.stop(server.popen)
    keys = ("tokens_per_s", "ttft_ms", "tokens", "tokens_per_cpu_s", "wait_pct")
    summary: dict[str, Any] = {
        "config": {"runs": cfg.runs, "max_output_tokens": cfg.max_output_tokens, "prompt": cfg.prompt},
        "rillchat": _side(rill_runs, *keys, "headers_ms"),
        "direct": _side(direct_runs, *keys),
        "same_text": len({r["text"] for r in rill_runs + direct_runs}) == 1,
        "runs": {"rillchat": rill_runs, "direct": direct_runs},
    }
    for key, name in (("tokens_per_s", "ratio_pct"), ("tokens_per_cpu_s", "cpu_ratio_pct")):
        r, d = summary["rillchat"][key], summary["direct"][key]
        summary[name] = 100.0 * r / d if r and d else None
    return summary


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.embedded")
    parser.add_argument("what", choices=["worker"])
    parser.add_argument("--max-output-tokens", type=int, default=200)
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args(argv)
    _worker(EmbeddedConfig(max_output_tokens=args.max_output_tokens, prompt=args.prompt))


if __name__ == "__main__":
    main(sys.argv[1:])
