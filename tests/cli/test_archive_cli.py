"""``rillchat conversations search|export|import`` as people run them: real processes against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.archive.corpus import conversation, export_file

COMMAND = [sys.executable, "-m", "rillchat.cli.main", "conversations"]
CHATGPT_SAMPLE = Path(__file__).resolve().parent.parent / "archive" / "chatgpt_conversations.json"


@pytest.fixture
def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("RILLCHAT_")}
    values.update(COLUMNS="200", NO_COLOR="1")
    return values


def run(*args: str, env: dict[str, str], input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, *args], input=input, capture_output=True, env=env, timeout=60)


def test_import_search_and_export_from_the_command_line(server_with_fake, env, tmp_path):
    server = server_with_fake()
    exported_file = tmp_path / "mine.json"
    exported_file.write_text(json.dumps(export_file([conversation("Garden", "When to plant tulips?", "In autumn.")])))

    imported = run("import", str(exported_file), "--url", server, env=env)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.decode().startswith("imported 1 conversation\n")
    from_chatgpt = run("import", "-", "--url", server, env=env, input=CHATGPT_SAMPLE.read_bytes())
    assert from_chatgpt.returncode == 0 and b"imported 2 conversations" in from_chatgpt.stdout
    assert b"Sourdough starter troubles" in from_chatgpt.stdout

    found = run("search", "tulip", "--url", server, env=env)
    assert found.returncode == 0, found.stderr
    out = found.stdout.decode()
    assert "Garden" in out and "tulips" in out and "Sourdough" not in out
    missing = run("search", "kumquat", "--url", server, env=env)
    assert missing.returncode == 1 and b"no conversation matches" in missing.stderr

    everything = tmp_path / "all.json"
    done = run("export", "-o", str(everything), "--url", server, env=env)
    assert done.returncode == 0 and f"to {everything}".encode() in done.stderr
    titles = [c["title"] for c in json.loads(everything.read_text())["conversations"]]
    assert sorted(titles) == ["Convert Celsius in Python", "Garden", "Sourdough starter troubles"]

    garden_id = next(line.split()[0] for line in imported.stdout.decode().splitlines()[1:])
    markdown = run("export", garden_id, "--format", "markdown", "--url", server, env=env)
    assert markdown.returncode == 0 and markdown.stdout.decode().startswith("# Garden\n")


def test_a_broken_file_is_refused_with_the_servers_reason_and_nothing_imported(server_with_fake, env, tmp_path):
    server = server_with_fake()
    broken = tmp_path / "broken.json"
    broken.write_bytes(CHATGPT_SAMPLE.read_bytes()[:-300])
    result = run("import", str(broken), "--url", server, env=env)
    assert result.returncode == 1
    assert b"not valid JSON" in result.stderr and b"cut short" in result.stderr
    assert httpx.get(f"{server}/api/conversations").json()["data"] == []
    absent = run("import", str(tmp_path / "absent.json"), "--url", server, env=env)
    assert absent.returncode == 1 and b"cannot read" in absent.stderr
    gone = run("export", "conv_nope", "-o", str(tmp_path / "x.json"), "--url", server, env=env)
    assert gone.returncode == 1 and b"not found" in gone.stderr and not (tmp_path / "x.json").exists()
