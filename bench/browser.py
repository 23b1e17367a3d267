"""The browser part: issue 4's 500 tokens/s reply with code blocks streamed into Chromium (Playwright),
main-thread long tasks and frame times measured against their targets. The page-driving code is the browser
test's (``tests/e2e/longtasks.py``): the test asserts correctness, this part the timing goals.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.procs import Processes, start_rillchat, upstreams_json

if TYPE_CHECKING:
    from tests.fakes.openai_server import Scenario


@dataclass
class BrowserConfig:
    runs: int = 3  # a fresh page per run; the worst run is held against the targets


def run_browser(procs: Processes, cfg: BrowserConfig) -> dict[str, Any]:
    # Imported here: only this part needs Playwright.
    from tests.e2e.longtasks import FRAME_P95_TARGET_MS, LONGTASK_TARGET_MS, scenario
    from tests.e2e.ui import skip_reason
    from tests.fakes.openai_server import FakeOpenAI

    if reason := skip_reason():
        raise RuntimeError(reason)
    streamed = scenario()
    with FakeOpenAI(streamed) as fake:  # in this process, on the load core like the other parts' fakes
        env = {
            "RILLCHAT_UPSTREAMS": upstreams_json(fake.port),
            "RILLCHAT_LOCAL_MODEL_ENABLED": "false",
            "RILLCHAT_DEFAULT_MODEL": "fake-responses",
            # The UI sends no maxOutputTokens: the server's default cap must exceed the reply.
            "RILLCHAT_DEFAULT_MAX_OUTPUT_TOKENS": str(streamed.tokens + 100),
        }
        server = start_rillchat(procs, env=env, name="rillchat-browser")
        try:
            runs = _measure_runs(cfg, server.url, streamed)
        finally:
            procs.stop(server.popen)
    return {
        "config": {"runs": cfg.runs, "tokens": streamed.tokens, "rate": streamed.rate},
        "runs": runs,
        "longtask_max_ms": max(r["longtasks"]["max_ms"] for r in runs),
        "longtask_count_max": max(r["longtasks"]["count"] for r in runs),
        "frame_p50_ms": statistics.median(r["frames"]["p50_ms"] for r in runs),
        "frame_p95_ms": max(r["frames"]["p95_ms"] for r in runs),
        "frame_max_ms": max(r["frames"]["max_ms"] for r in runs),
        "evaluate_roundtrip_ms_max": max(r["evaluate_roundtrip_ms_max"] for r in runs),
        "tokens_per_s": statistics.median(r["tokens_per_s"] or 0.0 for r in runs),
        "same_text": all(r["same_text"] for r in runs),
        "targets_ms": {"longtask_max": LONGTASK_TARGET_MS, "frame_p95": FRAME_P95_TARGET_MS},
    }


def _measure_runs(cfg: BrowserConfig, url: str, streamed: Scenario) -> list[dict[str, Any]]:
    from playwright.sync_api import sync_playwright
    from tests.e2e.longtasks import measure_stream
    from tests.e2e.ui import CHROMIUM, CHROMIUM_ARGS
    from tests.fakes.openai_server import expected_text

    runs: list[dict[str, Any]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for _ in range(cfg.runs):
                context = browser.new_context(viewport={"width": 1100, "height": 800}, color_scheme="light")
                context.set_default_timeout(60_000)
                try:
                    report, _ended_at = measure_stream(context.new_page(), url, streamed.tokens)
                finally:
                    context.close()
                report["same_text"] = report.pop("content") == expected_text(streamed)
                del report["longtasks"]["entries"]
                runs.append(report)
        finally:
            browser.close()
    return runs
