"""The wheel as a user gets it: built from this checkout, installed without extras into a fresh virtual
environment (prebuilt wheels only: no compiler), it serves the browser UI and relays a reply; a setting
that needs a missing extra stops ``rillchat serve`` with a message naming the extra.

uv builds and installs (its cache makes a repeat run take seconds); the versions are the lock file's."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_server import Scenario, expected_text
from tests.processes import rillchat_process

ROOT = Path(__file__).resolve().parent.parent
STATIC = "rillchat/web/static/"


def _uv() -> list[str]:
    """uv as `make` found it (RILLCHAT_TEST_UV, set by the Makefile), else on PATH."""
    if command := os.environ.get("RILLCHAT_TEST_UV"):
        return shlex.split(command)
    if found := shutil.which("uv"):
        return [found]
    pytest.fail("uv not found: run the tests through `make test`, or put uv on PATH")


def _run(*args: str | Path, cwd: Path = ROOT) -> str:
    done = subprocess.run([*_uv(), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"uv {' '.join(map(str, args))} failed:\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built the way `uv build` and pip build it: the sdist first, then the wheel from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    _run("build", "--out-dir", out, ROOT)
    (built,) = out.glob("rillchat-*.whl")
    return built


@pytest.fixture(scope="module")
def relay_only(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The python of a fresh virtual environment holding ``pip install rillchat`` (no extras)."""
    work = tmp_path_factory.mktemp("relay-only")
    constraints = work / "constraints.txt"
    constraints.write_text(
        _run("export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--format", "requirements-txt")
    )
    _run("venv", "--quiet", "--python", sys.executable, work / "venv")
    python = work / "venv" / "bin" / "python"
    # --compile-bytecode: as pip does; without .pyc files every start compiles the openai SDK again (~20 s)
    _run(
        "pip",
        "install",
        "--quiet",
        "--only-binary",
        ":all:",
        "--compile-bytecode",
        "--python",
        python,
        "-c",
        constraints,
        wheel,
    )
    yield python


def test_the_wheel_carries_the_built_ui(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        index = archive.read(f"{STATIC}index.html").decode()
    assets = re.findall(r'(?:src|href)="\./([^"?#]+)', index)
    assert {"app.js", "app.css"} <= set(assets)
    assert {f"{STATIC}{asset}" for asset in assets} <= names, "the page names a file the wheel lacks"
    assert not any(name.startswith(("tests/", "web/src/")) for name in names)


def test_the_relay_only_install_has_no_extras(relay_only: Path) -> None:
    probe = "import importlib.util as u; print([m for m in ('llama_cpp', 'asyncpg', 'redis') if u.find_spec(m)])"
    done = subprocess.run([relay_only, "-c", probe], capture_output=True, text=True, check=True, env=_isolated())
    assert done.stdout.strip() == "[]"


def test_the_relay_only_install_serves_the_ui_and_relays_a_reply(relay_only, wheel, fake_openai, tmp_path):
    fake_openai.scenario = Scenario(tokens=12)
    upstream = {"name": "vllm", "kind": "openai-chat", "base_url": fake_openai.base_url, "models": ["llama"]}
    env = {
        **_relay_settings(tmp_path),
        "RILLCHAT_UPSTREAMS": json.dumps([upstream]),
        "RILLCHAT_DEFAULT_MODEL": "llama",
    }
    with zipfile.ZipFile(wheel) as archive:
        page = archive.read(f"{STATIC}index.html")
    with rillchat_process(env, python=str(relay_only), cwd=tmp_path) as (base, _), httpx.Client(timeout=30) as client:
        response = client.get(f"{base}/")
        assert response.status_code == 200 and response.content == page
        script = client.get(f"{base}/app.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        reply = client.post(f"{base}/api/chat/stream", json={"userInput": "hello"})
        assert reply.status_code == 200 and reply.text == expected_text(fake_openai.scenario)


@pytest.mark.parametrize(
    ("settings", "extra"),
    [
        ({"RILLCHAT_LOCAL_MODEL_ENABLED": "true"}, "local"),
        ({"RILLCHAT_REDIS_URL": "redis://127.0.0.1:1/0"}, "redis"),
        ({"RILLCHAT_DATABASE_URL": "postgresql+asyncpg://rillchat@127.0.0.1:1/rillchat"}, "postgres"),
    ],
    ids=["local", "redis", "postgres"],
)
def test_a_setting_that_needs_a_missing_extra_names_it(relay_only, tmp_path, settings, extra):
    env = _isolated({**_relay_settings(tmp_path), **settings})
    done = subprocess.run(
        [relay_only, "-m", "rillchat.cli.main", "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert f"pip install 'rillchat[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr


def _relay_settings(tmp_path: Path) -> dict[str, str | None]:
    return {
        "PYTHONPATH": None,  # the installed rillchat, not this checkout's
        "RILLCHAT_LOCAL_MODEL_ENABLED": "false",
        "RILLCHAT_REDIS_URL": None,
        "RILLCHAT_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'rillchat.db'}",
    }


def _isolated(overrides: dict[str, str | None] | None = None) -> dict[str, str]:
    merged = {**os.environ, "PYTHONPATH": None, **(overrides or {})}
    return {name: value for name, value in merged.items() if value is not None}
