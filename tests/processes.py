"""rillchat as a real process (``rillchat serve``), for crash, shutdown, multi-replica and install tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.servers import loopback_socket


@contextmanager
def rillchat_process(
    env: Mapping[str, str | None], python: str = sys.executable, cwd: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m rillchat.cli.main serve`` on a free port, ready when ``/api/models`` answers.

    ``env`` is laid over this process's environment; a ``None`` value removes a variable (``PYTHONPATH``,
    to run an installed rillchat rather than this checkout's).
    """
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    merged = {"RILLCHAT_LOCAL_MODEL_PRELOAD": "false", **os.environ, **env}
    process = subprocess.Popen(
        [python, "-m", "rillchat.cli.main", "serve", "--port", str(port), "--log-level", "warning"],
        env={name: value for name, value in merged.items() if value is not None},
        cwd=cwd,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a loaded CI machine can take long to import everything
        while True:
            try:
                httpx.get(f"{base}/api/models", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("rillchat did not start") from None
                time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
