"""``rillchat chat`` (and ``models``, ``conversations``) as people use them: a real pseudo-terminal driven by
pexpect for the interactive chat, pipes for the plain mode; a real rillchat with the fake upstream."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pexpect
import pytest

from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text
from tests.helpers import wait_until

PROMPT = "you> "
COMMAND = [sys.executable, "-m", "rillchat.cli.main"]


@pytest.fixture
def server(server_with_fake):
    return server_with_fake()


@pytest.fixture
def env() -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("RILLCHAT_")}
    values.update(TERM="xterm-256color", PYTHONUNBUFFERED="1", COLUMNS="120", LINES="40")
    return values


def spawn(server: str, env: dict[str, str], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "rillchat.cli.main", "chat", "--url", server, *args],
        env=env,
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=60,  # a bound on each wait, generous for a loaded machine: expect() returns as soon as it matches
        # As from a terminal's shell. A test run started in the background by a shell without job control
        # ignores SIGINT, and so would the chat (Python keeps an inherited SIG_IGN): Ctrl+C did nothing.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    child.expect_exact(PROMPT)
    return child


def run(*args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    # A bound, not a goal: --embedded loads the model, and a loaded machine starts Python slowly.
    return subprocess.run([*COMMAND, *args], input=input, capture_output=True, text=True, env=env, timeout=180)


def waiting_for_a_key(child: pexpect.spawn) -> bool:
    """The CLI sits in readline's wait for a key. A Ctrl+C that comes an instant before that wait begins is
    noticed only at the next key (CPython looks for signals when the wait is interrupted, and this one
    came before it), so a test sends one only once the wait is there, as a person does."""
    with open(f"/proc/{child.pid}/wchan") as wchan:
        waiting_in = wchan.read()
    return "select" in waiting_in or "poll" in waiting_in


def stored_messages(server: str) -> list[dict]:
    with httpx.Client(base_url=server, timeout=10) as client:
        latest = client.get("/api/conversations", params={"limit": 1}).json()["data"][0]
        return client.get(f"/api/conversations/{latest['id']}").json()["messages"]


def test_the_reply_streams_in_place_and_slash_commands_work(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=40, rate=20)  # two seconds of tokens
    child = spawn(server, env, "-m", "fake-responses")
    child.sendline("hello")
    child.expect_exact("tok3 ")
    early = child.before + child.after
    assert "tok39" not in early, "the reply showed up only at the end"
    assert fake_openai.stats.deltas_sent < 30
    child.expect_exact("tok20 ")
    assert fake_openai.stats.deltas_sent < 40, "tok20 was shown before the reply ended"
    child.expect_exact("tok39")
    child.expect_exact(PROMPT)
    assert fake_openai.stats.streams_completed == 1

    # Same conversation, another model and a system prompt: the history goes along from storage.
    fake_openai.scenario = Scenario(tokens=3)
    child.sendline("/model fake-chat")
    child.expect_exact("(model: fake-chat)")
    child.sendline("/system Answer in French.")
    child.expect_exact("(system prompt: Answer in French.)")
    child.sendline("and again")
    child.expect_exact("tok2")
    child.expect_exact(PROMPT)
    second = fake_openai.requests[-1].json
    assert second["model"] == "fake-chat"
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "user"]
    assert second["messages"][0]["content"] == "Answer in French."

    child.sendline("/new")
    child.expect_exact("(new conversation)")
    child.sendline("fresh start")
    child.expect_exact("tok2")
    child.expect_exact(PROMPT)
    assert [m["role"] for m in fake_openai.requests[-1].json["messages"]] == ["system", "user"]

    child.sendline("/help")
    child.expect_exact("/system [TEXT]")
    child.sendline("/nonsense")
    child.expect_exact("unknown command")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_ctrl_c_stops_the_reply_and_ctrl_c_twice_at_the_prompt_leaves(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=5_000, rate=50)
    child = spawn(server, env, "-m", "fake-responses")
    child.sendline("talk for a long time")
    child.expect_exact("tok3 ")
    child.sendintr()
    fake_openai.wait_until(lambda: fake_openai.stats.streams_disconnected == 1)
    child.expect_exact("(stopped; /continue goes on)")
    child.expect_exact(PROMPT)
    assert stored_messages(server)[-1]["status"] == "stopped"
    wait_until(lambda: waiting_for_a_key(child), what="the prompt waits for a key")
    child.sendintr()
    child.expect_exact("Ctrl+C again")
    child.expect_exact(PROMPT)
    wait_until(lambda: waiting_for_a_key(child), what="the prompt waits for a key")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_slash_continue_carries_a_cut_short_reply_on_in_the_same_message(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=5_000, rate=50)
    child = spawn(server, env, "-m", "fake-responses")
    child.sendline("/continue")
    child.expect_exact("nothing to continue")
    child.sendline("talk for a long time")
    child.expect_exact("tok3 ")
    child.sendintr()
    child.expect_exact("(stopped; /continue goes on)")
    child.expect_exact(PROMPT)
    stopped = stored_messages(server)[-1]
    fake_openai.scenario = Scenario(tokens=3, token_text=["onwards "])
    child.sendline("/continue")
    child.expect_exact("onwards onwards onwards")
    child.expect_exact(PROMPT)
    after = stored_messages(server)
    assert len(after) == 2 and after[-1]["id"] == stopped["id"] and after[-1]["status"] == "completed"
    assert after[-1]["content"] == stopped["content"] + "onwards onwards onwards "
    assert fake_openai.requests[-1].json["input"][-1] == {"role": "assistant", "content": stopped["content"]}
    child.sendline("/continue")
    child.expect_exact("nothing to continue")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    child.close()


def test_piped_stdin_gets_exactly_the_reply_as_plain_text(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=12, split_utf8=True)
    result = run("chat", "--url", server, "-m", "fake-chat", "-", input="hi", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_text(fake_openai.scenario) and result.stderr == ""
    assert "\x1b" not in result.stdout
    assert stored_messages(server)[0]["content"] == "hi"

    # A positional prompt answers once; -c goes on with the latest conversation.
    fake_openai.scenario = Scenario(tokens=4)
    again = run("chat", "--url", server, "-m", "fake-chat", "-c", "follow up", env=env)
    assert again.returncode == 0 and again.stdout == expected_text(fake_openai.scenario)
    assert [m["role"] for m in fake_openai.requests[-1].json["messages"]] == ["system", "user", "assistant", "user"]


def test_plain_mode_failures_exit_non_zero_with_the_message_on_stderr(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=10, fail_after=4)
    failed = run("chat", "--url", server, "-m", "fake-responses", "-", input="hi", env=env)
    assert failed.returncode == 1 and failed.stdout == expected_text(fake_openai.scenario)
    assert "failed" in failed.stderr
    unknown = run("chat", "--url", server, "-m", "nope", "question", env=env)
    assert unknown.returncode == 1 and "nope" in unknown.stderr and unknown.stdout == ""
    conversations = httpx.get(f"{server}/api/conversations", timeout=10).json()["data"]
    assert len(conversations) == 1, "a request refused before its reply started leaves no empty conversation"
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        nowhere = f"http://127.0.0.1:{closed.getsockname()[1]}"
        unreachable = run("chat", "--url", nowhere, "-", input="hi", env=env)
    assert unreachable.returncode == 1 and "cannot reach rillchat" in unreachable.stderr


def test_models_and_conversations_commands(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=3)
    assert run("chat", "--url", server, "-m", "fake-chat", "remember rivers", env=env).returncode == 0
    models = run("models", "--url", server, env=env)
    assert models.returncode == 0 and "fake-responses" in models.stdout and "fake-chat" in models.stdout
    listed = run("conversations", "list", "--url", server, env=env)
    assert listed.returncode == 0 and "remember rivers" in listed.stdout
    conversation_id = stored_conversation_id(server)
    shown = run("conversations", "show", conversation_id, "--url", server, env=env)
    assert shown.returncode == 0 and "remember rivers" in shown.stdout and "tok2" in shown.stdout
    assert run("conversations", "delete", conversation_id, "--url", server, env=env).returncode == 0
    gone = run("conversations", "show", conversation_id, "--url", server, env=env)
    assert gone.returncode == 1 and "not found" in gone.stderr

    # A model seen reasoning says so.
    fake_openai.scenario = Scenario(tokens=1, reasoning=1)
    assert run("chat", "--url", server, "-m", "fake-chat", "think", env=env).returncode == 0
    thinking = run("models", "--url", server, env=env)
    assert any("fake-chat" in line and "reasons" in line for line in thinking.stdout.splitlines())


def stored_conversation_id(server: str) -> str:
    return httpx.get(f"{server}/api/conversations", timeout=10).json()["data"][0]["id"]


@pytest.mark.embedded
def test_embedded_mode_starts_rillchat_in_process_and_answers(tmp_path, env):
    env.update(
        RILLCHAT_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'rillchat.db'}",
        RILLCHAT_DEFAULT_MAX_OUTPUT_TOKENS="12",
        RILLCHAT_DEFAULT_TEMPERATURE="0",
    )
    result = run("chat", "--embedded", "-", input="Name three colors.", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() and "\x1b" not in result.stdout


def test_reasoning_streams_dimmed_and_stays_as_thought_for_n_seconds(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=30, reasoning=40, rate=20)  # two seconds of thinking
    child = spawn(server, env, "-m", "fake-chat")
    child.sendline("think first")
    child.expect_exact("Thinking…")
    child.expect_exact("think3 ")
    assert fake_openai.stats.deltas_sent == 0, "thoughts shown live, before the answer"
    child.expect(r"Thought for [\d.]+ s")  # the finished reply: the line, the thoughts, then the answer
    child.expect_exact("tok29")
    child.expect_exact(PROMPT)
    assert stored_messages(server)[-1]["reasoning"] == expected_reasoning(fake_openai.scenario, "chat")

    # Hidden: only the one line stays.
    fake_openai.scenario = Scenario(tokens=3, reasoning=3)
    child.sendline("/reasoning off")
    child.expect_exact("(reasoning: hidden)")
    child.sendline("again")
    child.expect(r"Thought for [\d.]+ s")
    child.expect_exact("tok2")
    child.expect_exact(PROMPT)
    assert "think1" not in child.before
    child.sendline("/exit")
    child.expect(pexpect.EOF)


def test_plain_mode_keeps_reasoning_off_stdout(server, fake_openai, env):
    fake_openai.scenario = Scenario(tokens=5, reasoning=4)
    result = run("chat", "--url", server, "-m", "fake-chat", "-", input="hi", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_text(fake_openai.scenario)
    assert result.stderr == expected_reasoning(fake_openai.scenario, "chat") + "\n"
    hidden = run("chat", "--url", server, "-m", "fake-chat", "--hide-reasoning", "-", input="hi", env=env)
    assert hidden.stdout == expected_text(fake_openai.scenario) and hidden.stderr == ""
