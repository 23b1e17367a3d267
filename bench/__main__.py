"""``make bench`` = ``python -m bench``: relay, embedded, resume, replicas, soak, checkpoint, browser (and with
--profile py-spy) benchmarks.

Prints tables and writes everything measured to ``bench/results/<timestamp>.json``. Every process it
starts is stopped when it ends, however it ends (Ctrl+C included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import procs as procs_module
from bench.browser import BrowserConfig, run_browser
from bench.checkpoint import CheckpointConfig, run_checkpoint
from bench.embedded import EmbeddedConfig, run_embedded
from bench.launch import raise_fd_limit
from bench.procs import CORE_LOAD, ROOT, Processes, start_fake
from bench.profile import ProfileConfig, run_profile
from bench.relay import RelayConfig, run_relay
from bench.replicas import ReplicasConfig, run_replicas
from bench.report import evaluate_targets, print_report
from bench.resume import ResumeConfig, run_resume
from bench.soak import SoakConfig, run_soak

PARTS = ("relay", "embedded", "resume", "replicas", "soak", "checkpoint", "browser", "profile")
DEFAULT_PARTS = ("relay", "embedded", "resume", "replicas", "soak", "checkpoint", "browser")
RESULTS = Path(__file__).resolve().parent / "results"


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--parts", default=",".join(DEFAULT_PARTS), help=f"comma-separated, of {','.join(PARTS)}")
    p.add_argument("--profile", action="store_true", help="also run the py-spy profile (part 4)")
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in about 2 minutes")
    p.add_argument("--concurrency", type=_ints, help="Responses API concurrency levels (default 1,100,500,1000,2000)")
    p.add_argument("--chat-concurrency", type=_ints, help="Chat Completions levels (default 1,1000,2000)")
    p.add_argument("--tokens", type=int, help="tokens per relay stream (default 150)")
    p.add_argument("--rate", type=float, help="tokens/s per relay stream (default 20)")
    p.add_argument("--ramp", type=float, help="seconds over which the streams start (default 1)")
    p.add_argument("--embedded-runs", type=int, help="measured runs per side (default 3)")
    p.add_argument("--resume-repeats", type=int, help="re-attachments measured (default 20)")
    p.add_argument("--replica-streams", type=_ints, help="streams of the replicas runs (default 100,500)")
    p.add_argument(
        "--checkpoint-streams", type=_ints, help="conversation streams of the checkpoint runs (default 1000)"
    )
    p.add_argument("--browser-runs", type=int, help="Chromium runs of the 500 tokens/s reply (default 3)")
    p.add_argument("--profile-streams", type=int, help="streams during the profile (default 1000)")
    p.add_argument("--profile-duration", type=int, help="py-spy seconds (default 20)")
    p.add_argument("--budget", type=float, help="seconds for the relay part; later runs are skipped (default 720)")
    p.add_argument("--soak-streams", type=int, help="concurrent streams of the soak (default 500)")
    p.add_argument("--soak-duration", type=float, help="seconds of the soak (default 600)")
    p.add_argument(
        "--soak-ttl", type=float, help="RILLCHAT_EVENT_LOG_TTL_SECONDS during the soak (default 300; --quick: 20)"
    )
    p.add_argument(
        "--baseline",
        metavar="REF",
        help="also measure git revision REF (e.g. main, HEAD~3) in the relay, replicas and soak parts, each of its"
        " runs alternating with ours, and print before/after tables",
    )
    p.add_argument(
        "--nice", type=int, default=0, help="priority of the processes started, e.g. -10 on a busy shared machine"
    )
    p.add_argument("--out", type=Path, default=RESULTS, help="where the JSON (and profile) go")
    args = p.parse_args(argv)
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if args.profile and "profile" not in parts:
        parts.append("profile")
    unknown = set(parts) - set(PARTS)
    if unknown:
        p.error(f"unknown parts {sorted(unknown)}; choose from {PARTS}")
    args.parts = parts
    return args


def configs(
    args: argparse.Namespace,
) -> tuple[RelayConfig, EmbeddedConfig, ResumeConfig, ProfileConfig, ReplicasConfig, SoakConfig]:
    relay, embedded, resume, profile = RelayConfig(), EmbeddedConfig(), ResumeConfig(), ProfileConfig()
    replicas, soak = ReplicasConfig(), SoakConfig()
    if args.quick:
        relay = RelayConfig(concurrency=[1, 100, 500], chat_concurrency=[1, 100], tokens=60, probe=10)
        embedded = EmbeddedConfig(runs=1, max_output_tokens=100)
        resume = ResumeConfig(repeats=5, memory_replies=10, held_replies=50)
        profile = ProfileConfig(streams=300, duration=5)
        replicas = ReplicasConfig(streams=[50])
        soak = SoakConfig(streams=200, duration=60, ttl=20, window=10)
    for name, target, attr in (
        ("concurrency", relay, "concurrency"),
        ("chat_concurrency", relay, "chat_concurrency"),
        ("tokens", relay, "tokens"),
        ("rate", relay, "rate"),
        ("ramp", relay, "ramp"),
        ("budget", relay, "budget"),
        ("embedded_runs", embedded, "runs"),
        ("resume_repeats", resume, "repeats"),
        ("replica_streams", replicas, "streams"),
        ("profile_streams", profile, "streams"),
        ("profile_duration", profile, "duration"),
        ("soak_streams", soak, "streams"),
        ("soak_duration", soak, "duration"),
        ("soak_ttl", soak, "ttl"),
    ):
        value = getattr(args, name)
        if value is not None:
            setattr(target, attr, value)
    profile.tokens_per_s = relay.rate
    # The replicas runs read the fake upstream's default streams, which the relay settings define.
    replicas.tokens, replicas.rate, replicas.ramp = relay.tokens, relay.rate, relay.ramp
    if soak.duration < soak.ttl * 2 and args.soak_ttl is None:
        soak.ttl = max(5.0, soak.duration / 3)  # a short soak must still see replies expire
    soak.window = min(soak.window, max(5.0, soak.duration / 10))
    return relay, embedded, resume, profile, replicas, soak


def checkpoint_config(args: argparse.Namespace, relay: RelayConfig) -> CheckpointConfig:
    """The checkpoint runs read the fake upstream's default streams, which the relay settings define."""
    cfg = CheckpointConfig(tokens=relay.tokens, rate=relay.rate, ramp=relay.ramp)
    if args.quick:
        cfg.streams = [100]
    if args.checkpoint_streams:
        cfg.streams = args.checkpoint_streams
    return cfg


def environment() -> dict[str, Any]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True).stdout)
    except OSError:
        commit, dirty = "", False
    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "commit": commit,
        "src_dirty": dirty,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "load_average": os.getloadavg(),
        "argv": sys.argv[1:],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    relay_cfg, embedded_cfg, resume_cfg, profile_cfg, replicas_cfg, soak_cfg = configs(args)
    checkpoint_cfg = checkpoint_config(args, relay_cfg)
    browser_cfg = BrowserConfig(runs=args.browser_runs or (1 if args.quick else BrowserConfig.runs))
    console = Console(width=None if Console().is_terminal else 220)
    raise_fd_limit()
    procs_module.NICE = args.nice
    if args.nice:
        os.nice(args.nice)
    os.sched_setaffinity(0, {CORE_LOAD})  # this process shares the load core with the fake and the client
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    started = time.monotonic()
    results: dict[str, Any] = {"started": stamp, "environment": environment(), "parts": args.parts}
    results["config"] = {
        "relay": vars(relay_cfg),
        "embedded": vars(embedded_cfg),
        "resume": vars(resume_cfg),
        "profile": vars(profile_cfg),
        "replicas": vars(replicas_cfg),
        "soak": vars(soak_cfg),
        "checkpoint": vars(checkpoint_cfg),
        "browser": vars(browser_cfg),
    }
    log = console.print
    code = 0
    try:
        with Processes(baseline=args.baseline) as procs:
            sys.path.insert(0, str(procs.src))  # in-process measurements import the same snapshot
            results["environment"]["src_fingerprint"] = procs.src_fingerprint
            commit = results["environment"]["commit"][:8]
            log(f"rillchat runs from a snapshot of src/ (fingerprint {procs.src_fingerprint}, commit {commit})")
            results["variants"] = list(procs.variants)
            if args.baseline:
                results["environment"]["baseline_commit"] = procs.baseline_commit
                log(f"baseline ({args.baseline}): commit {procs.baseline_commit[:8]}, its runs alternate with ours")
            soak_cfg.variants = list(procs.variants)
            fake = None
            if {"relay", "resume", "replicas", "checkpoint", "soak", "profile"} & set(args.parts):
                fake = start_fake(procs, tokens=relay_cfg.tokens, rate=relay_cfg.rate)
                log(f"fake upstream on :{fake.port} (core {CORE_LOAD}), logs in {procs.logdir}")
            for part in args.parts:
                t = time.monotonic()
                log(f"[bold]{part}[/] ...")
                try:
                    if part == "relay":
                        assert fake is not None
                        results["relay"] = []
                        run_relay(procs, fake, relay_cfg, log=log, rows=results["relay"])
                    elif part == "embedded":
                        results["embedded"] = run_embedded(procs, embedded_cfg)
                    elif part == "resume":
                        assert fake is not None
                        results["resume"] = run_resume(procs, fake, resume_cfg)
                    elif part == "replicas":
                        assert fake is not None
                        results["replicas"] = run_replicas(procs, fake, replicas_cfg, log=log)
                    elif part == "soak":
                        assert fake is not None
                        results["soak"] = run_soak(procs, fake, relay_cfg, soak_cfg, log=log)
                    elif part == "checkpoint":
                        assert fake is not None
                        results["checkpoint"] = run_checkpoint(procs, fake, checkpoint_cfg, log=log)
                    elif part == "browser":
                        results["browser"] = run_browser(procs, browser_cfg)
                    elif part == "profile":
                        assert fake is not None
                        results["profile"] = run_profile(procs, fake, profile_cfg, args.out, stamp)
                except Exception as exc:  # one part failing must not lose the others
                    code = 1
                    procs.keep_logs = True
                    traceback.print_exc()
                    results[part if part != "relay" else "relay_error"] = (
                        {"error": f"{type(exc).__name__}: {exc}"} if part != "relay" else f"{exc}"
                    )
                log(f"  {part} took {time.monotonic() - t:.0f} s")
    except KeyboardInterrupt:
        console.print("[red]interrupted[/]: every started process was stopped; partial results follow")
        code = 130
    finally:
        results["wall_s"] = time.monotonic() - started
        results["targets"] = evaluate_targets(results)
        path = args.out / f"{stamp}.json"
        results["json_path"] = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
        path.write_text(json.dumps(results, indent=1, default=str))
        print_report(results, console)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
