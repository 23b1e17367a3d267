"""Part 4, PROFILE: py-spy on rillchat during a 1,000-stream SSE run; top self-time functions.

The streams are made long enough (``tokens`` at ``rate``) that py-spy's whole ``duration`` falls inside
the steady state; it starts once the ramp is over. py-spy runs pinned to the load core, ``--nonblocking``
(it reads the process's memory without stopping it, so the profile barely disturbs what it measures), and
writes collapsed stacks (``--format raw``: one ``frame;frame;... count`` line per stack, which
speedscope.app and flamegraph.pl read), aggregated here by leaf frame.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.procs import CORE_LOAD, ROOT, Loadgen, Processes, Server, pinned, start_rillchat
from bench.relay import RelayConfig, _spec, relay_env, warm_up

__all__ = ["ProfileConfig", "run_profile", "top_frames"]

# The environment's own py-spy (the one running this, e.g. a shared virtualenv), else the project's.
PY_SPY = str(Path(sys.executable).parent / "py-spy")
if not Path(PY_SPY).exists():
    PY_SPY = str(Path(__file__).resolve().parent.parent / ".venv" / "bin" / "py-spy")
_LINE = re.compile(r"^(?P<stack>.*) (?P<count>\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


@dataclass
class ProfileConfig:
    streams: int = 1000
    duration: int = 20
    rate_hz: int = 200
    tokens_per_s: float = 20.0
    ramp: float = 1.0


def _where(frame: str) -> tuple[str, str]:
    """(function with shortened file, package) of one py-spy frame ``func (path/file.py:line)``."""
    match = _FRAME.match(frame)
    if not match:
        return frame, frame
    func, path = match["func"], match["file"]
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    package = path.split("/", 1)[0] if "/" in path else path.removesuffix(".py")
    return f"{func} ({path})", package


def top_frames(raw: str, limit: int = 15) -> dict[str, Any]:
    """Self time by leaf function and by the leaf's package, and rillchat's functions' inclusive time."""
    by_func: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        match = _LINE.match(line.strip())
        if not match:
            continue
        count = int(match["count"])
        frames = [_where(frame) for frame in match["stack"].split(";")]
        func, package = frames[-1]
        by_func[func] += count
        by_package[package] += count
        for name in {name for name, package in frames if package == "rillchat" and "rillchat/cli/" not in name}:
            inclusive[name] += count
        total += count

    def rows(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [{"name": k, "samples": v, "pct": 100.0 * v / total} for k, v in counter.most_common(n)]

    return {
        "samples": total,
        "top": rows(by_func, limit),
        "packages": rows(by_package, 10),
        "rillchat_inclusive": rows(inclusive, limit),
    }


def run_profile(procs: Processes, fake: Server, cfg: ProfileConfig, out_dir: Path, stamp: str) -> dict[str, Any]:
    tokens = int((cfg.duration + cfg.ramp + 4) * cfg.tokens_per_s)
    relay = RelayConfig(tokens=tokens, rate=cfg.tokens_per_s, ramp=cfg.ramp)
    raw_path = out_dir / f"profile-{stamp}.txt"
    log = procs.logdir / "py-spy.log"
    argv = [PY_SPY, "record", "--pid", "0", "--duration", str(cfg.duration), "--rate", str(cfg.rate_hz)]
    argv += ["--nonblocking", "--format", "raw", "-o", str(raw_path)]
    server = start_rillchat(procs, env=relay_env(fake), name="rillchat-profile")
    argv[3] = str(server.pid)
    load: Loadgen | None = None
    code = -1
    try:
        warm_up(server, "responses", "sse")
        spec = _spec(server.port, "responses", "sse", relay, cfg.streams, text=f"[[fake tokens={tokens}]] profile")
        load = Loadgen(procs, spec)
        time.sleep(cfg.ramp + 1.5)  # the load generator's start-up, then the ramp
        with open(log, "wb") as fh:
            spy = procs.spawn(pinned(CORE_LOAD, argv), stdout=fh)
        try:
            code = spy.wait(cfg.duration + 30)
        except subprocess.TimeoutExpired:
            code = -1
        procs.stop(spy)
    finally:
        if load is not None:
            procs.stop(load.popen)  # the load only had to last as long as py-spy
        procs.stop(server.popen)
    if code != 0 or not raw_path.exists():
        raise RuntimeError(f"py-spy failed ({code}):\n{log.read_text(errors='replace')[-2000:]}")
    frames = top_frames(raw_path.read_text())
    expected = cfg.duration * cfg.rate_hz
    return {
        "config": {"streams": cfg.streams, "duration_s": cfg.duration, "rate_hz": cfg.rate_hz, "tokens": tokens},
        "collapsed_stacks": str(raw_path.relative_to(ROOT)) if raw_path.is_relative_to(ROOT) else str(raw_path),
        "busy_pct": 100.0 * frames["samples"] / expected,
        **frames,
    }
