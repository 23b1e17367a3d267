"""``/healthz`` while the worst allowed request is prepared for the embedded model: ``python -m bench.fitting``.

Issue 11, finding 1: fitting a long history to the embedded model's context used to re-tokenize all of it
per dropped message, on the event loop (100 messages of 1,900 characters froze the server for 14 s). The
goal: ``/healthz`` answers within 100 ms while the largest request the limits allow (500 messages, just
under the 1 MB body limit) is being prepared. Starts ``rillchat serve`` on the embedded model, warms it,
then sends that request ``--repeats`` times (closing each once its headers arrive, which stops the model)
while another client asks ``/healthz`` back to back; prints the latencies of the health checks asked
between sending a request and receiving its headers (the preparation), and of those asked when idle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from typing import Any

import httpx

from bench.procs import Processes, start_rillchat

PROMPT = {"userInput": "Name three colors.", "temperature": 0, "maxOutputTokens": 8}


def worst_allowed_body(messages: int = 499, chars: int = 1_900) -> dict[str, Any]:
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": (f"message {i}: " + "lorem ipsum " * 200)[:chars]}
        for i in range(messages)
    ]
    return {**PROMPT, "messages": history}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.fitting", description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=5, help="worst-case requests sent, one after another")
    p.add_argument("--idle-seconds", type=float, default=3.0, help="/healthz alone first: the machine's baseline")
    p.add_argument("--settle-seconds", type=float, default=5.0, help="pause between requests")
    args = p.parse_args(argv)
    body = worst_allowed_body()
    results: dict[str, Any] = {"body_bytes": len(json.dumps(body)), "messages": len(body["messages"]) + 1}
    with Processes() as procs:
        server = start_rillchat(procs, env={"RILLCHAT_RATE_LIMIT_PER_MINUTE": "0"}, name="fitting", timeout=180)
        with httpx.Client(base_url=server.url, timeout=600) as client:
            client.post("/api/chat", json=PROMPT).raise_for_status()  # the model is loaded
            done = threading.Event()
            health: list[tuple[float, float]] = []  # (asked at, milliseconds)

            def poll() -> None:
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    while not done.is_set():
                        t0 = time.perf_counter()
                        c.get("/healthz").raise_for_status()
                        health.append((t0, (time.perf_counter() - t0) * 1000))

            poller = threading.Thread(target=poll)
            poller.start()
            time.sleep(args.idle_seconds)
            idle = sorted(ms for _, ms in health)
            windows: list[tuple[float, float]] = []
            try:
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    with client.stream("POST", "/api/chat/stream", json=body) as response:
                        response.raise_for_status()
                        windows.append((t0, time.perf_counter()))
                    # Leaving stopped the reply, but the model finishes reading the prompt first (it uses
                    # every core): that is generating, not preparing, so let it end before the next one.
                    time.sleep(args.settle_seconds)
            finally:
                done.set()
                poller.join()
    prepared = [(end - start) * 1000 for start, end in windows]
    health = sorted(ms for asked, ms in health if any(start <= asked <= end for start, end in windows))
    results["idle_healthz_ms_p50"] = round(statistics.median(idle), 2) if idle else None
    results["idle_healthz_ms_p99"] = round(idle[max(0, int(len(idle) * 0.99) - 1)], 2) if idle else None
    results["request_to_headers_ms_median"] = round(statistics.median(prepared), 1)
    results["healthz_samples"] = len(health)
    results["healthz_ms_p50"] = round(statistics.median(health), 2)
    results["healthz_ms_p99"] = round(health[max(0, int(len(health) * 0.99) - 1)], 2)
    results["healthz_ms_max"] = round(health[-1], 2)
    results["goal_max_ms"] = 100
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
