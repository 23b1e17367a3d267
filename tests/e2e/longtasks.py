"""Issue 4's scenario, shared by the browser test (tests/e2e/test_longtasks_ui.py) and the benchmark
(``python -m bench --parts browser``): a reply with code blocks streamed at 500 tokens/s into Chromium while
the page records main-thread long tasks and frame times. Measures only; the callers decide what to assert.
"""

from __future__ import annotations

import math
import time
from typing import Any

from playwright.sync_api import Page

from tests.e2e.ui import assistant, open_chat, send, wait_finished
from tests.fakes.openai_server import Scenario

RATE = 500
CYCLES = 60

# One cycle of the reply, as deltas of a few words: a heading, a paragraph, a ```js block, a list, a
# paragraph with inline markup. Cycled CYCLES times (every cycle closes its code block).
CYCLE = [
    "\n## Step ",
    "n\n\n",
    "The river ",
    "carries ",
    "sediment ",
    "downstream, ",
    "and the ",
    "`delta` ",
    "grows ",
    "where the ",
    "current ",
    "slows.\n\n",
    "```js\n",
    "function ",
    "settle(",
    "load, ",
    "speed) {\n",
    "  const ",
    "rate = ",
    "load / ",
    "Math.max(",
    "speed, 1);\n",
    "  // ",
    "heavier ",
    "grains ",
    "drop first\n",
    "  return ",
    "{ rate, ",
    'kind: "sand" ',
    "};\n",
    "}\n",
    "console.",
    'log(settle(3, 0.5), "ok");\n',
    "```\n\n",
    "- **load**: ",
    "what the ",
    "water carries\n",
    "- *speed*: ",
    "metres ",
    "per second\n\n",
    "So the ",
    "[delta](https://example.com/delta) ",
    "is built ",
    "layer by ",
    "layer.\n",
]

INIT_JS = """
window.__perf = { longtasks: [], frames: [], recording: false };
try {
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__perf.longtasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
    window.__perf.supported = true;
} catch (e) {
    window.__perf.supported = false;
}
let last = 0;
const tick = (t) => {
    if (window.__perf.recording) {
        if (last) window.__perf.frames.push(t - last);
        last = t;
    } else {
        last = 0;
    }
    requestAnimationFrame(tick);
};
requestAnimationFrame(tick);
"""


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)]


# Targets of issue 4, checked by the benchmark (never by the test: timing goals are benchmarks).
LONGTASK_TARGET_MS = 500.0
FRAME_P95_TARGET_MS = 50.0


def scenario() -> Scenario:
    return Scenario(tokens=len(CYCLE) * CYCLES, token_text=CYCLE, rate=RATE)


def measure_stream(page: Page, app: str, tokens: int) -> tuple[dict[str, Any], float]:
    """Streams the reply (the fake upstream must already serve ``scenario()``) into ``page`` opened on
    ``app`` and returns the measurements and ``performance.now()`` when the stream ended (for
    ``calibrate``). The page's final content is in ``report["content"]``."""
    page.add_init_script(INIT_JS)
    open_chat(page, app)
    if not page.evaluate("window.__perf.supported"):
        raise RuntimeError("Chromium does not support PerformanceObserver('longtask')")

    page.evaluate("window.__perf.recording = true; window.__perf.t0 = performance.now()")
    send(page, "Explain deltas, with code")
    reply = assistant(page)
    page.wait_for_function("() => window.__rillchat.state.messages.at(-1)?.content.length > 0")
    first_delta_at = page.evaluate("performance.now()")

    # While it streams the page answers script: evaluate round trips, sampled on DOM progress.
    roundtrips_ms: list[float] = []
    for chars in (2_000, 8_000, 16_000, 24_000):
        page.wait_for_function(
            "(n) => window.__rillchat.state.messages.at(-1).content.length >= n || !window.__rillchat.state.active",
            arg=chars,
        )
        started = time.perf_counter()
        if page.evaluate("1+1") != 2:
            raise RuntimeError("the page did not evaluate script while streaming")
        roundtrips_ms.append((time.perf_counter() - started) * 1000)

    wait_finished(reply, timeout=60_000)
    perf = page.evaluate("window.__perf.recording = false; ({...window.__perf, t1: performance.now()})")
    content = page.evaluate("window.__rillchat.state.messages.at(-1).content")

    seconds = (perf["t1"] - first_delta_at) / 1000
    tasks = [t for t in perf["longtasks"] if t["start"] >= perf["t0"]]
    durations = [t["duration"] for t in tasks]
    frames = perf["frames"]
    report = {
        "browser": page.context.browser.version if page.context.browser else None,
        "tokens": tokens,
        "chars": len(content),
        "code_blocks": CYCLES,
        "rate_requested_tokens_per_s": RATE,
        "stream_seconds": round(seconds, 3),
        "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
        "longtasks": {
            "count": len(durations),
            "total_ms": round(sum(durations), 1),
            "max_ms": round(max(durations, default=0.0), 1),
            # when each started, in seconds from the first delta (negative: before it, e.g. sending)
            "entries": [
                {"at_s": round((t["start"] - first_delta_at) / 1000, 3), "ms": round(t["duration"], 1)}
                for t in tasks[:50]
            ],
        },
        "frames": {
            "count": len(frames),
            "p50_ms": round(percentile(frames, 50), 1),
            "p95_ms": round(percentile(frames, 95), 1),
            "max_ms": round(max(frames, default=0.0), 1),
            "over_50ms": sum(1 for f in frames if f > 50),
        },
        "evaluate_roundtrip_ms_max": round(max(roundtrips_ms), 1),
        "content": content,
    }
    return report, float(perf["t1"])


def calibrate(page: Page, since: float) -> None:
    """A deliberate 120 ms task must be seen as a long task, or "no long tasks" would mean nothing."""
    page.evaluate("setTimeout(() => { const end = performance.now() + 120; while (performance.now() < end); }, 0)")
    page.wait_for_function("(t1) => window.__perf.longtasks.some((t) => t.start >= t1 && t.duration >= 100)", arg=since)
