"""``rillchat chat``: a terminal chat on rillchat.client.

Interactive (a terminal): the reply streams in place as markdown (rich ``Live``, at most 15 frames a
second), with a spinner ("queued (position N)", "waiting for first token") until the first token. A
reasoning model's thoughts stream dimmed above the answer, then stay as "Thought for N s" and the dimmed
text (``--hide-reasoning`` or ``/reasoning off`` keep just that one line). Ctrl+C
during a reply stops it and comes back to the prompt; Ctrl+C twice at the prompt, ``/exit`` or Ctrl+D
leave. The session is a server-side conversation (created with the first message), so history lives on
the server; ``-c`` goes on with the most recent one.

Not interactive: ``rillchat chat "a question"`` answers once; ``rillchat chat -`` (or anything piped in)
sends the whole of stdin as one message. Then, and whenever stdout is not a terminal, the reply is plain
text written to stdout as it arrives (reasoning goes to stderr, dimmed on a terminal, so stdout holds only
the answer); a reply that fails exits 1 with the error on stderr.
"""

from __future__ import annotations

import contextlib
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Literal

import typer
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.markdown import Markdown
from rich.markup import escape
from rich.segment import Segment
from rich.spinner import Spinner
from rich.text import Text

from rillchat.client import (
    DEFAULT_BASE_URL,
    Client,
    Delta,
    ModelInfo,
    Queued,
    Reasoning,
    Reply,
    ReplyStatus,
    RillchatClientError,
)

__all__ = ["ApiKeyOption", "UrlOption", "chat", "embedded_server"]

UrlOption = Annotated[
    str, typer.Option("--url", envvar="RILLCHAT_URL", help="The rillchat server to talk to.", show_default=True)
]
ApiKeyOption = Annotated[
    str | None, typer.Option("--api-key", envvar="RILLCHAT_API_KEY", help="Sent as 'Authorization: Bearer'.")
]

FRAME_SECONDS = 1 / 15  # the reply is redrawn at most 15 times a second
PROMPT = "[bold cyan]you> [/]"

HELP = """\
[bold]Commands[/]
  /new            start a new conversation
  /model [NAME]   switch model (without NAME: list the models)
  /system [TEXT]  set the system prompt (without TEXT: back to the server's default)
  /reasoning on|off  show or hide a reasoning model's thoughts
  /continue       carry the last reply on, if it was cut short (length, stop, interruption)
  /help           this help
  /exit           leave (also Ctrl+D, or Ctrl+C twice at the prompt)
Ctrl+C while a reply streams stops it."""


Effort = Literal["minimal", "low", "medium", "high"]


@dataclass
class Session:
    client: Client
    model: str | None
    system: str | None
    conversation_id: str | None = None
    show_reasoning: bool = True
    effort: str | None = None


# --------------------------------------------------------------------------------------------------
# The command


def chat(
    prompt: Annotated[
        str | None, typer.Argument(help="Ask this once and exit; '-' reads the message from stdin.")
    ] = None,
    model: Annotated[str | None, typer.Option("-m", "--model", help="Model id (default: the server's).")] = None,
    system: Annotated[str | None, typer.Option("-s", "--system", help="System prompt.")] = None,
    continue_: Annotated[
        bool, typer.Option("-c", "--continue", help="Go on with the most recent conversation.")
    ] = False,
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
    embedded: Annotated[
        bool, typer.Option("--embedded", help="Start rillchat in-process (embedded model) and talk to it.")
    ] = False,
    hide_reasoning: Annotated[
        bool, typer.Option("--hide-reasoning", help="Do not show what a reasoning model thinks.")
    ] = False,
    effort: Annotated[
        Effort | None, typer.Option("--effort", help="Reasoning effort, for models that take one.")
    ] = None,
) -> None:
    """Chat in the terminal: replies stream in as markdown; Ctrl+C stops one."""
    piped = prompt == "-" or (prompt is None and not sys.stdin.isatty())
    if piped:
        prompt = sys.stdin.read().rstrip()  # `echo` and heredocs end with a newline that is not the message
        if not prompt:
            _fail("nothing to send: stdin was empty", code=2)
    with contextlib.ExitStack() as stack:
        if embedded:
            try:
                url = stack.enter_context(embedded_server())
            except RuntimeError as exc:
                _fail(str(exc))
        client = stack.enter_context(Client(url, api_key=api_key))
        session = Session(client, model, system, show_reasoning=not hide_reasoning, effort=effort)
        if prompt is not None:
            raise typer.Exit(_once(session, prompt, continue_, plain=piped or not sys.stdout.isatty()))
        raise typer.Exit(_interactive(session, continue_))


def _fail(message: str, code: int = 1) -> None:
    print(f"rillchat: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _conversation(session: Session, continue_: bool) -> tuple[str, bool]:
    """The conversation to write into: the latest one with ``-c`` (if any), else a new one (True)."""
    if continue_:
        latest = session.client.conversations.list(limit=1)
        if latest.conversations:
            return latest.conversations[0].id, False
    return session.client.conversations.create().id, True


# --------------------------------------------------------------------------------------------------
# Once: a positional prompt or stdin


def _once(session: Session, text: str, continue_: bool, *, plain: bool) -> int:
    created = False
    reply: Reply | None = None
    try:
        session.conversation_id, created = _conversation(session, continue_)
        reply = _start(session, text)
        if plain:
            return _plain_reply(reply, session.show_reasoning)
        _rich_reply(Console(highlight=False), reply, session.show_reasoning)
        return 0 if reply.status in (ReplyStatus.COMPLETED, ReplyStatus.INCOMPLETE) else 1
    except RillchatClientError as exc:
        print(f"rillchat: {exc.message}", file=sys.stderr)
        return 1
    finally:
        if created and session.conversation_id and (reply is None or reply.reply_id is None):
            # Refused before it started (a typo in the model name, say): leave no empty conversation behind.
            with contextlib.suppress(RillchatClientError):
                session.client.conversations.delete(session.conversation_id)


def _plain_reply(reply: Reply, show_reasoning: bool = True) -> int:
    """The reply's text to stdout as it arrives, nothing else; reasoning (dimmed on a terminal) and
    problems to stderr."""
    out, err = sys.stdout, sys.stderr
    dim, undim = ("\x1b[2m", "\x1b[0m") if err.isatty() else ("", "")
    last = ""
    thinking = False
    try:
        with reply:
            for event in reply:
                if type(event) is Reasoning:
                    if show_reasoning:
                        err.write(f"{dim}{event.text}{undim}")
                        err.flush()
                        thinking = True
                    continue
                if type(event) is not Delta:
                    continue
                if thinking:
                    err.write("\n")
                    thinking = False
                out.write(event.text)
                out.flush()
                last = event.text
    except KeyboardInterrupt:
        with contextlib.suppress(RillchatClientError):
            reply.stop()
        print("\nrillchat: stopped", file=sys.stderr)
        return 130
    if out.isatty() and last and not last.endswith("\n"):
        out.write("\n")
    status = reply.status
    if status is ReplyStatus.FAILED:
        error = reply.error
        print(f"rillchat: the reply failed: {error.message if error else 'unknown error'}", file=sys.stderr)
        return 1
    if status is ReplyStatus.INCOMPLETE and reply.finish is not None:
        print(f"rillchat: the reply was cut short ({reply.finish.reason.value})", file=sys.stderr)
        return 0
    if status is not ReplyStatus.COMPLETED:
        print(f"rillchat: the reply ended {status.value if status else 'unfinished'}", file=sys.stderr)
        return 1
    return 0


def _start(session: Session, text: str) -> Reply:
    return session.client.stream(
        text,
        model=session.model,
        instructions=session.system,
        conversation_id=session.conversation_id,
        reasoning_effort=session.effort,
    )


# --------------------------------------------------------------------------------------------------
# Interactive


def _interactive(session: Session, continue_: bool) -> int:
    console = Console(highlight=False)
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    try:
        models = session.client.models()
        if session.model is not None and _find_model(models, session.model) is None:
            console.print(f"[red]unknown model {escape(session.model)!r}[/]; models: {_names(models)}")
            return 2
        if continue_:
            _resume_conversation(console, session)
    except RillchatClientError as exc:
        console.print(f"[red]rillchat: {escape(exc.message)}[/]")
        return 1
    current = session.model or next((m.id for m in models if m.default), "the default model")
    console.print(f"[bold]rillchat[/] · {escape(current)} · {escape(session.client.base_url)} · [dim]/help[/]")
    armed = False  # one Ctrl+C at the prompt warns, a second one leaves
    while True:
        try:
            line = console.input(PROMPT)
        except KeyboardInterrupt:
            if armed:
                console.print()
                return 0
            armed = True
            console.print("\n[dim](Ctrl+C again, /exit or Ctrl+D to leave)[/]")
            continue
        except EOFError:
            console.print()
            return 0
        armed = False
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if _command(console, session, line):
                return 0
            continue
        try:
            if session.conversation_id is None:
                session.conversation_id = session.client.conversations.create().id
            _rich_reply(console, _start(session, line), session.show_reasoning)
        except RillchatClientError as exc:
            console.print(f"[red]error: {escape(exc.message)}[/]")


def _resume_conversation(console: Console, session: Session) -> None:
    latest = session.client.conversations.list(limit=1)
    if not latest.conversations:
        console.print("[dim](no conversation to continue: starting a new one)[/]")
        return
    conversation = session.client.conversations.get(latest.conversations[0].id)
    session.conversation_id = conversation.id
    messages = conversation.messages or ()
    console.print(f"[dim]continuing “{escape(conversation.title)}” ({len(messages)} messages)[/]")
    for message in messages[-2:]:
        if message.role == "user":
            console.print(f"{PROMPT}{escape(message.content)}")
        else:
            _print_reasoning(console, message.reasoning or "", message.reasoning_seconds, session.show_reasoning)
            console.print(Markdown(message.content))


def _command(console: Console, session: Session, line: str) -> bool:
    """Run a slash command; True to leave."""
    name, _, arg = line.partition(" ")
    arg = arg.strip()
    if name in ("/exit", "/quit"):
        return True
    if name == "/help":
        console.print(HELP)
    elif name == "/new":
        session.conversation_id = None
        console.print("[dim](new conversation)[/]")
    elif name == "/model":
        try:
            models = session.client.models()
        except RillchatClientError as exc:
            console.print(f"[red]error: {escape(exc.message)}[/]")
            return False
        if not arg:
            for m in models:
                mark = "*" if m.id == session.model or (session.model is None and m.default) else " "
                console.print(f" {mark} {escape(m.id)} [dim]{escape(m.provider)}[/]")
        elif (found := _find_model(models, arg)) is None:
            console.print(f"[red]unknown model {escape(arg)!r}[/]; models: {_names(models)}")
        else:
            session.model = found.id
            console.print(f"[dim](model: {escape(found.id)})[/]")
    elif name == "/reasoning":
        if arg not in ("on", "off"):
            console.print("[red]/reasoning on|off[/]")
        else:
            session.show_reasoning = arg == "on"
            console.print(f"[dim](reasoning: {'shown' if session.show_reasoning else 'hidden'})[/]")
    elif name == "/continue":
        _continue_last_reply(console, session)
    elif name == "/system":
        session.system = arg or None
        console.print(f"[dim](system prompt: {escape(arg) if arg else 'the server default'})[/]")
    else:
        console.print(f"[red]unknown command {escape(name)}[/] (/help lists them)")
    return False


def _continue_last_reply(console: Console, session: Session) -> None:
    """Carry on the conversation's last reply in the same message, when it ended early."""
    try:
        messages = session.client.conversations.get(session.conversation_id).messages if session.conversation_id else ()
        last = messages[-1] if messages else None
        if last is None or not last.continuable:
            console.print("[dim](nothing to continue: the last reply is complete)[/]")
            return
        reply = session.client.stream(
            model=session.model,
            instructions=session.system,
            conversation_id=session.conversation_id,
            continue_message_id=last.id,
        )
        _rich_reply(console, reply, session.show_reasoning)
    except RillchatClientError as exc:
        console.print(f"[red]error: {escape(exc.message)}[/]")


def _find_model(models: list[ModelInfo], name: str) -> ModelInfo | None:
    return next((m for m in models if name == m.id or name in m.aliases), None)


def _names(models: list[ModelInfo]) -> str:
    return ", ".join(escape(m.id) for m in models)


# --------------------------------------------------------------------------------------------------
# One reply, live


class _Tail:
    """The last lines of a renderable that fit the screen: a growing reply stays in view while it streams."""

    def __init__(self, renderable: RenderableType) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        lines = console.render_lines(self.renderable, options.update(height=None), pad=False)
        for line in lines[-max(1, console.height - 2) :]:
            yield from line
            yield Segment.line()


_DONE = object()


def _thought_for(seconds: float | None) -> str:
    return f"Thought for {seconds:g} s" if seconds is not None else "Thought"


def _print_reasoning(console: Console, thoughts: str, seconds: float | None, show: bool) -> None:
    if not thoughts.strip():
        return
    console.print(Text(_thought_for(seconds), style="dim bold"))
    if show:
        console.print(Text(thoughts.strip(), style="dim italic"))


def _live_view(reply: Reply, spinner: Spinner, show_reasoning: bool) -> RenderableType:
    """What a frame shows: the spinner until there is something, then the thoughts (dimmed) and the answer."""
    thoughts, answer = reply.reasoning, _message_so_far(reply)
    if thoughts and not answer:
        spinner.update(text="thinking…")
    parts: list[RenderableType] = []
    if thoughts.strip() and show_reasoning:
        parts.append(Text("Thinking…" if not answer else "Thought", style="dim bold"))
        parts.append(Text(thoughts.strip(), style="dim italic"))
    if answer:
        parts.append(Markdown(answer))
    return _Tail(Group(*parts)) if parts else spinner


def _rich_reply(console: Console, reply: Reply, show_reasoning: bool = True) -> None:
    """Stream one reply in place. A worker thread reads the reply; this one draws and watches for Ctrl+C,
    which only counts (no KeyboardInterrupt in the middle of drawing): the first stops the reply, whose
    stream then ends with its ``finish``; a second one stops waiting for that."""
    events: queue.Queue[object] = queue.Queue()

    def read() -> None:
        try:
            with reply:
                for event in reply:
                    events.put(event)
        except Exception as exc:
            events.put(exc)
        finally:
            events.put(_DONE)

    interrupts = 0

    def on_interrupt(_signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1

    spinner = Spinner("dots", text="waiting for first token", style="cyan")
    error: Exception | None = None
    previous_handler = signal.signal(signal.SIGINT, on_interrupt)
    try:
        _in_background(read, name="rillchat-reply")
        with Live(spinner, console=console, auto_refresh=False, transient=True) as live:
            last_frame = 0.0
            done = False
            while not done and interrupts < 2:
                with contextlib.suppress(queue.Empty):
                    item: object = events.get(timeout=FRAME_SECONDS)
                    while True:  # everything there already, then one frame
                        if item is _DONE:
                            done = True
                            break
                        if isinstance(item, Exception):
                            error = item
                        elif type(item) is Queued:
                            spinner.update(text=f"queued (position {item.position})")
                        item = events.get_nowait()
                if interrupts and spinner.text != "stopping":
                    spinner.update(text="stopping")
                    _in_background(lambda: _stop_quietly(reply), name="rillchat-stop")
                now = time.monotonic()
                if not done and now - last_frame >= FRAME_SECONDS:
                    live.update(_live_view(reply, spinner, show_reasoning), refresh=True)
                    last_frame = now
        _print_reasoning(console, reply.reasoning, reply.reasoning_seconds, show_reasoning)
        if whole := _message_so_far(reply):
            console.print(Markdown(whole))
        _print_outcome(console, reply, error, stopping=interrupts > 0)
    finally:
        signal.signal(signal.SIGINT, previous_handler)


def _in_background(work: Callable[[], None], name: str) -> None:
    """A daemon thread that Ctrl+C never goes to. The kernel hands SIGINT to any thread that does not block
    it, and one that lands on a worker does not wake the main thread out of readline's wait at the prompt:
    the Ctrl+C was lost until the next key. A thread starts with its parent's signal mask, so SIGINT is
    blocked here for the moment of the start (one that comes meanwhile waits, and is delivered after)."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _message_so_far(reply: Reply) -> str:
    """The message's text: for a Continue, what it had before (``start.prefix``) and what came since."""
    return (reply.start.prefix if reply.start else "") + reply.text_so_far


def _stop_quietly(reply: Reply) -> None:
    with contextlib.suppress(RillchatClientError):
        reply.stop()


def _print_outcome(console: Console, reply: Reply, error: Exception | None, *, stopping: bool) -> None:
    finish = reply.finish
    if error is not None:
        message = error.message if isinstance(error, RillchatClientError) else f"{type(error).__name__}: {error}"
        console.print(f"[red]error: {escape(message)}[/]")
    elif finish is None:
        console.print("[dim](stopped waiting)[/]" if stopping else "[red](the reply did not finish)[/]")
    elif finish.status is ReplyStatus.FAILED:
        message = reply.error.message if reply.error else "unknown error"
        console.print(f"[red]error: {escape(message)}[/]")
    elif finish.status is ReplyStatus.INCOMPLETE:
        console.print(f"[yellow](cut short: {finish.reason.value}; /continue goes on)[/]")
    elif finish.status is not ReplyStatus.COMPLETED:
        console.print(f"[dim]({finish.status.value}; /continue goes on)[/]")


# --------------------------------------------------------------------------------------------------
# --embedded


@contextlib.contextmanager
def embedded_server() -> Iterator[str]:
    """rillchat in this process, on a free loopback port (uvicorn in a thread); yields its URL."""
    from rillchat.api.app import create_app
    from rillchat.api.threaded import serve_in_thread
    from rillchat.config import Settings

    with serve_in_thread(create_app(Settings()), name="rillchat-embedded") as url:
        yield url
