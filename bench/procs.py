"""The processes a benchmark starts: the fake upstream, rillchat, the load generator, py-spy.

Each runs in its own session (so a Ctrl+C in the terminal reaches only the benchmark, which then stops
them in order) and is registered in :class:`Processes`, which terminates every one of them -- by its own
process group id, nothing broader -- when the block ends, however it ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psutil

__all__ = [
    "CORE_LOAD",
    "CORE_SERVER",
    "Loadgen",
    "Processes",
    "Sampler",
    "Server",
    "free_port",
    "run_loadgen",
    "start_fake",
    "start_floor",
    "start_rillchat",
]

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CORE_SERVER = 0  # rillchat
CORE_LOAD = 1  # the fake upstream, the load generator, this process, py-spy
NICE = 0  # --nice: scheduling priority of every process started (negative = ahead of other users' processes)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(core: int, argv: Sequence[str]) -> list[str]:
    nice = ["nice", "-n", str(NICE)] if NICE else []
    return [*nice, "taskset", "-c", str(core), *argv]


def launch(module: str, *args: str) -> list[str]:
    """``python -m bench.launch MODULE ARGS``: the module as __main__, with a raised open-files limit."""
    return [PYTHON, "-m", "bench.launch", module, *args]


@dataclass
class Server:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def process(self) -> psutil.Process:
        return psutil.Process(self.popen.pid)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def snapshot_src(dest: Path) -> tuple[Path, str]:
    """Copy ``src/`` to ``dest`` and fingerprint it: a run measures one version of rillchat even while the
    working tree changes under it. Returns the directory to put first on PYTHONPATH, and the fingerprint."""
    shutil.copytree(ROOT / "src", dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    digest = hashlib.sha256()
    for path in sorted(dest.rglob("*.py")):
        digest.update(str(path.relative_to(dest)).encode() + b"\0" + path.read_bytes() + b"\0")
    return dest, digest.hexdigest()[:12]


def snapshot_ref(ref: str, dest: Path) -> tuple[Path, str]:
    """``src/`` of git revision ``ref`` (for ``--baseline``): the directory to put on PYTHONPATH, the commit."""
    commit = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src", commit


class Processes:
    """Every child process of the benchmark; ``stop_all`` (also on exit and on SIGTERM) ends them.

    Children import rillchat from a snapshot of ``src/`` taken when this was created (see ``snapshot_src``).
    """

    def __init__(self, baseline: str | None = None) -> None:
        self._popens: list[subprocess.Popen[bytes]] = []
        self._lock = threading.Lock()
        self.logdir = Path(tempfile.mkdtemp(prefix="rillchat-bench-"))
        self.keep_logs = False
        """Set when something failed: the logs (and SQLite files) then stay for a look."""
        self.src, self.src_fingerprint = snapshot_src(self.logdir / "src")
        self.pythonpath = self._path(self.src)
        self.variants: dict[str, str] = {"after": self.pythonpath}
        """The versions of rillchat measured: ``after`` (this tree) and, with ``--baseline REF``, ``before``."""
        self.baseline_commit = ""
        if baseline:
            base_src, self.baseline_commit = snapshot_ref(baseline, self.logdir / "baseline")
            self.variants = {"before": self._path(base_src), "after": self.pythonpath}

    @staticmethod
    def _path(src: Path) -> str:
        return os.pathsep.join(p for p in (str(src), os.environ.get("PYTHONPATH", "")) if p)

    def __enter__(self) -> Processes:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.stop_all()
        if exc_type is None and not self.keep_logs:
            shutil.rmtree(self.logdir, ignore_errors=True)

    def spawn(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdout: IO[bytes] | int | None = None,
        stdin: int | None = subprocess.DEVNULL,
        stderr: IO[bytes] | int | None = None,
        variant: str = "after",
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own session; output is discarded unless ``stdout`` says where it goes
        (``stderr`` then follows it unless given too)."""
        if stderr is None:
            stderr = subprocess.STDOUT if stdout is not None else subprocess.DEVNULL
        with self._lock:
            popen = subprocess.Popen(
                list(argv),
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": self.variants[variant], **(env or {})},
                stdin=stdin,
                stdout=stdout if stdout is not None else subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
            self._popens.append(popen)
        return popen

    def stop(self, popen: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        if popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGTERM)
            try:
                popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(5)
        else:
            # The leader is gone; anything it left in its group goes too.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGKILL)
        with self._lock:
            if popen in self._popens:
                self._popens.remove(popen)

    def stop_all(self) -> None:
        for popen in reversed(list(self._popens)):
            self.stop(popen, grace=3.0)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


# --------------------------------------------------------------------------------------------------
# Servers


def start_fake(procs: Processes, *, tokens: int, rate: float) -> Server:
    log = procs.logdir / "fake.log"
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it
    argv = launch(
        "tests.fakes.openai_server",
        "--port",
        "0",
        "--tokens",
        str(tokens),
        "--rate",
        str(rate),
        "--embed-timestamp",
        "--backlog",
        "8192",
    )
    popen = procs.spawn(pinned(CORE_LOAD, argv), stdout=out)
    out.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "fake openai listening on" in text:
            port = int(text.split("fake openai listening on http://127.0.0.1:")[1].split("/")[0])
            return Server("fake", popen, port, log)
        if popen.poll() is not None:
            break
        time.sleep(0.05)
    procs.stop(popen)
    raise RuntimeError(f"the fake upstream did not start:\n{log.read_text(errors='replace')[-2000:]}")


def upstreams_json(fake_port: int) -> str:
    base = f"http://127.0.0.1:{fake_port}/v1"
    return json.dumps(
        [
            {
                "name": "fake",
                "kind": "openai-responses",
                "base_url": base,
                "api_key": "x",
                "models": ["fake-responses"],
            },
            {"name": "fakechat", "kind": "openai-chat", "base_url": base, "api_key": "x", "models": ["fake-chat"]},
        ]
    )


def start_rillchat(
    procs: Processes, *, env: dict[str, str], name: str = "rillchat", timeout: float = 60.0, variant: str = "after"
) -> Server:
    """``rillchat serve`` pinned to CORE_SERVER, with its own SQLite file; returns once it answers."""
    port = free_port()
    db = procs.logdir / f"{name}-{port}.db"
    log = procs.logdir / f"{name}-{port}.log"
    full_env = {
        "RILLCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "RILLCHAT_SHUTDOWN_GRACE_SECONDS": "1",
        **env,
    }
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it
    argv = launch("rillchat.cli.main", "serve", "--port", str(port), "--log-level", "warning")
    popen = procs.spawn(pinned(CORE_SERVER, argv), env=full_env, stdout=out, variant=variant)
    out.close()
    server = Server(name, popen, port, log)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if popen.poll() is not None:
                break
            try:
                client.get(f"{server.url}/api/models")  # any answer: it serves
                return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
    procs.stop(popen)
    raise RuntimeError(f"rillchat did not start:\n{server.log_tail(40)}")


def start_floor(procs: Processes, fake: Server, timeout: float = 60.0) -> Server:
    """``bench.floor_relay`` (the bare relay rillchat is compared with) pinned to CORE_SERVER, like rillchat."""
    port = free_port()
    log = procs.logdir / f"floor-{port}.log"
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it
    argv = launch("bench.floor_relay", "--port", str(port), "--upstream", f"{fake.url}/v1")
    popen = procs.spawn(pinned(CORE_SERVER, argv), stdout=out)
    out.close()
    server = Server("floor", popen, port, log)
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as client:
        while time.monotonic() < deadline and popen.poll() is None:
            try:
                client.get(f"{server.url}/")  # any answer: it serves
                return server
            except httpx.HTTPError:
                time.sleep(0.1)
    procs.stop(popen)
    raise RuntimeError(f"the floor relay did not start:\n{server.log_tail(40)}")


# --------------------------------------------------------------------------------------------------
# Load generator


class Loadgen:
    """A running ``bench.loadgen`` process, pinned to CORE_LOAD."""

    def __init__(self, procs: Processes, spec: dict[str, Any]) -> None:
        self.procs = procs
        stamp = f"{time.monotonic_ns()}"
        self.spec_path = procs.logdir / f"spec-{stamp}.json"
        self.result_path = procs.logdir / f"result-{stamp}.json"
        self.log = procs.logdir / f"loadgen-{stamp}.log"
        self.spec_path.write_text(json.dumps(spec))
        with open(self.log, "wb") as out:
            argv = [PYTHON, "-m", "bench.loadgen", str(self.spec_path), str(self.result_path)]
            self.popen = procs.spawn(pinned(CORE_LOAD, argv), stdout=out)

    def wait(self, timeout: float) -> dict[str, Any]:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.procs.stop(self.popen)
            raise RuntimeError(f"the load generator did not finish in {timeout:.0f}s") from None
        self.procs.stop(self.popen)
        if code != 0 or not self.result_path.exists():
            raise RuntimeError(f"the load generator failed ({code}):\n{self.log.read_text(errors='replace')[-3000:]}")
        result: dict[str, Any] = json.loads(self.result_path.read_text())
        noise = self.log.read_text(errors="replace").strip()
        if noise:
            result["stderr"] = noise[-2000:]
        return result


def run_loadgen(procs: Processes, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ``bench.loadgen`` pinned to CORE_LOAD and return its result."""
    return Loadgen(procs, spec).wait(timeout)


# --------------------------------------------------------------------------------------------------
# Sampling


@dataclass
class Sampler:
    """Samples a process's RSS (and the machine's CPU) every ``interval`` seconds in a thread."""

    process: psutil.Process | None
    interval: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.process is not None:
                with contextlib.suppress(psutil.Error):
                    self.samples.append((time.time(), self.process.memory_info().rss))
            self._stop.wait(self.interval)


def cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    try:
        times = process.cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def sched_seconds(process: psutil.Process | None) -> tuple[float, float]:
    """(on-CPU, waiting-to-run) seconds of every thread of ``process`` so far, from /proc/*/schedstat.

    The second is the evidence of CPU contention: time the process was runnable but another task had its core.
    """
    if process is None:
        return 0.0, 0.0
    run = wait = 0
    try:
        for task in Path(f"/proc/{process.pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (task / "schedstat").read_text().split()
                run += int(fields[0])
                wait += int(fields[1])
    except OSError:
        pass
    return run / 1e9, wait / 1e9


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent so far (every core)."""
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq)
