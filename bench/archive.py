"""Search latency and export memory over many conversations: ``python -m bench.archive``.

Starts ``rillchat serve`` (SQLite by default; ``--database-url`` for PostgreSQL), imports N conversations
of M messages (varied English-like text, one rare word planted in each), then measures:

- search: latency of ``GET /api/conversations/search`` for a rare word (one hit), a common word (a hit in
  every conversation, so ranking and snippets do the most work) and a two-word prefix query;
- export: ``GET /api/conversations/export`` (JSON and Markdown) read as a stream: bytes, seconds, and the
  server's RSS before and at its peak while exporting (sampled every 20 ms). Constant memory means the
  peak does not grow with N: run it with two sizes and compare.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

import httpx

from bench.procs import Processes, Sampler, start_rillchat

WORDS = [
    "river",
    "mountain",
    "cloud",
    "garden",
    "window",
    "letter",
    "morning",
    "harbor",
    "lantern",
    "meadow",
    "silver",
    "forest",
    "station",
    "engine",
    "copper",
    "violin",
    "winter",
    "summer",
    "bridge",
    "market",
    "candle",
    "island",
    "thunder",
    "orchard",
    "pocket",
    "ribbon",
    "shadow",
    "anchor",
    "feather",
    "marble",
    "canyon",
    "glacier",
    "pepper",
    "saddle",
    "tunnel",
    "velvet",
    "walnut",
    "zephyr",
]


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def _corpus(n: int, messages: int, rng: random.Random, start: int) -> dict[str, Any]:
    conversations = []
    for i in range(start, start + n):
        texts = [_text(rng, rng.randint(8, 120)) for _ in range(messages)]
        texts[messages // 2] += f" unique{i}word"
        at = f"2026-01-01T00:00:{i % 60:02d}Z"
        conversations.append(
            {
                "title": _text(rng, 4),
                "createdAt": at,
                "updatedAt": at,
                "messages": [
                    {"role": "user" if k % 2 == 0 else "assistant", "content": t, "createdAt": at}
                    for k, t in enumerate(texts)
                ],
            }
        )
    return {"format": "rillchat-export", "version": 1, "conversations": conversations}


def _latency(client: httpx.Client, query: str, repeats: int) -> dict[str, float]:
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        response = client.get("/api/conversations/search", params={"q": query, "limit": 20})
        response.raise_for_status()
        if i:
            times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "hits": len(response.json()["data"]),
    }


def _export(client: httpx.Client, server_process: Any, fmt: str) -> dict[str, Any]:
    rss_before = server_process.memory_info().rss
    size = 0
    t0 = time.perf_counter()
    export = client.stream("GET", "/api/conversations/export", params={"format": fmt})
    with Sampler(server_process, interval=0.02) as sampler, export as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            size += len(chunk)
    peak = max([rss for _, rss in sampler.samples] or [rss_before])
    return {
        "bytes": size,
        "seconds": round(time.perf_counter() - t0, 2),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_peak_mb": round(peak / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.archive", description=__doc__.split("\n")[0])
    p.add_argument("--conversations", type=int, default=2000)
    p.add_argument("--messages", type=int, default=10, help="messages per conversation")
    p.add_argument("--repeats", type=int, default=30, help="searches measured per query")
    p.add_argument("--database-url", help="default: a fresh SQLite file")
    args = p.parse_args(argv)
    rng = random.Random(16)
    env = {"RILLCHAT_LOCAL_MODEL_ENABLED": "false", "RILLCHAT_RATE_LIMIT_PER_MINUTE": "0"}
    if args.database_url:
        env["RILLCHAT_DATABASE_URL"] = args.database_url
    results: dict[str, Any] = {"conversations": args.conversations, "messages_each": args.messages}
    with Processes() as procs:
        server = start_rillchat(procs, env=env, name="archive")
        with httpx.Client(base_url=server.url, timeout=600) as client:
            t0 = time.perf_counter()
            for start in range(0, args.conversations, 500):
                body = json.dumps(_corpus(min(500, args.conversations - start), args.messages, rng, start))
                client.post(
                    "/api/conversations/import", content=body, headers={"content-type": "application/json"}
                ).raise_for_status()
            results["import_seconds"] = round(time.perf_counter() - t0, 2)
            results["search"] = {
                "rare word": _latency(client, f"unique{args.conversations // 2}word", args.repeats),
                "common word": _latency(client, "river", args.repeats),
                "two words, prefix": _latency(client, "silver lant", args.repeats),
            }
            results["export_json"] = _export(client, server.process(), "json")
            results["export_markdown"] = _export(client, server.process(), "markdown")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
