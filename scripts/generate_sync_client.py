"""Writes ``src/rillchat/client/_sync.py`` from ``_async.py`` with unasync, as httpx and redis-py do.

    python scripts/generate_sync_client.py           # rewrite _sync.py
    python scripts/generate_sync_client.py --check   # exit 1 if _sync.py is not what _async.py gives

The async client is the one written by hand; ``make check`` runs ``--check``, so a change to it that was
not regenerated fails the build. unasync drops ``async``/``await`` and renames tokens (below); ruff then
formats the result like the rest of the code.
"""

from __future__ import annotations

import argparse
import difflib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import unasync

CLIENT = Path(__file__).resolve().parent.parent / "src" / "rillchat" / "client"
SOURCE = CLIENT / "_async.py"
TARGET = CLIENT / "_sync.py"

# Beyond unasync's own (__aenter__, AsyncIterator, StopAsyncIteration, ...): names whose sync twin is not
# the name without "Async", and the asyncio/httpx/httpx-sse calls that have a blocking twin.
RENAMES = {
    "AsyncClient": "Client",
    "AsyncConversations": "Conversations",
    "AsyncReply": "Reply",
    "asyncio": "time",
    "aclose": "close",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    "aiter_sse": "iter_sse",
    "anext": "next",
}
ASYNC_DOCSTRING = '"""``AsyncClient``: rillchat over HTTP with asyncio; ``_sync.py`` is generated from it."""'
# unasync leaves strings alone; after it, "async" is left only in docstrings and comments.
IN_WORDS = {"async with ": "with ", "async for ": "for ", "AsyncClient": "Client"}
SYNC_HEADER = (
    "# Generated from _async.py by scripts/generate_sync_client.py (unasync): do not edit by hand.\n"
    '"""``Client``: rillchat over HTTP, blocking; generated from ``_async.py``, line for line."""'
)


def generated() -> str:
    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "_async.py"
        shutil.copyfile(SOURCE, source)
        unasync.unasync_files([str(source)], [unasync.Rule("_async.py", "_sync.py", RENAMES)])
        text = (Path(work) / "_sync.py").read_text()
    if not text.startswith(ASYNC_DOCSTRING):
        raise SystemExit(f"{SOURCE} must start with the docstring {ASYNC_DOCSTRING}")
    text = text[len(ASYNC_DOCSTRING) :]
    for words, sync_words in IN_WORDS.items():
        text = text.replace(words, sync_words)
    text = SYNC_HEADER + text
    ruff = [sys.executable, "-m", "ruff"]
    # Sorted imports, and `yield from` where an async generator had to loop (UP028).
    fix = ["check", "--fix-only", "--unsafe-fixes", "--select", "I,UP028", "--stdin-filename", str(TARGET), "-"]
    text = _run([*ruff, *fix], text)
    return _run([*ruff, "format", "--stdin-filename", str(TARGET), "-"], text)


def _run(command: list[str], stdin: str) -> str:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=True).stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether _sync.py is current")
    check = parser.parse_args().check
    expected = generated()
    current = TARGET.read_text()
    if not check:
        if current != expected:
            TARGET.write_text(expected)
            print(f"wrote {TARGET}")
        return 0
    if current == expected:
        return 0
    diff = difflib.unified_diff(current.splitlines(True), expected.splitlines(True), "_sync.py", "generated")
    sys.stderr.writelines(diff)
    print(f"{TARGET} is stale: run python scripts/generate_sync_client.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
