"""rillchat as a real process (``rillchat serve``), for crash, shutdown and multi-replica tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.servers import loopback_socket


@contextmanager
def rillchat_process(env: dict[str, str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    sock = loopback_socket()
    port = sock.getsockname()[1]
    sock.close()
    process = subprocess.Popen(
        [sys.executable, "-m", "rillchat.cli.main", "serve", "--port", str(port), "--log-level", "warning"],
        env={"RILLCHAT_LOCAL_MODEL_PRELOAD": "false", **os.environ, **env},
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
