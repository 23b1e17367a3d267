"""``rillchat models`` and ``rillchat conversations list|show|search|export|import|delete``: a server's state."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rillchat.cli.chat import ApiKeyOption, UrlOption
from rillchat.client import DEFAULT_BASE_URL, Client, RillchatClientError

__all__ = ["conversations_app", "models"]

conversations_app = typer.Typer(no_args_is_help=True, help="Server-side conversations.")


@contextmanager
def _client(url: str, api_key: str | None) -> Iterator[Client]:
    """A client whose errors end the command with the server's message on stderr (exit 1)."""
    try:
        with Client(url, api_key=api_key) as client:
            yield client
    except RillchatClientError as exc:
        print(f"rillchat: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from None


def models(url: UrlOption = DEFAULT_BASE_URL, api_key: ApiKeyOption = None) -> None:
    """List the models the server offers."""
    with _client(url, api_key) as client:
        found = client.models()
    table = Table("model", "provider", "upstream model", "default", "aliases", "notes", box=None, header_style="bold")
    for m in found:
        notes = [text for text, on in (("unavailable", not m.available), ("reasons", m.reasoning)) if on]
        if m.context_length:
            notes.append(f"{m.context_length:,} tokens of context")
        table.add_row(
            escape(m.id),
            m.provider,
            escape(m.upstream_model),
            "*" if m.default else "",
            ", ".join(m.aliases),
            ", ".join(notes),
        )
    Console().print(table)


@conversations_app.command("list")
def list_conversations(
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=200, help="How many, newest first.")] = 20,
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """The most recent conversations."""
    with _client(url, api_key) as client:
        page = client.conversations.list(limit=limit)
    table = Table("id", "title", "updated", box=None, header_style="bold")
    for c in page:
        table.add_row(c.id, escape(c.title), c.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"))
    Console().print(table)


@conversations_app.command("show")
def show_conversation(
    conversation_id: Annotated[str, typer.Argument(help="The conversation's id.")],
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """A conversation's messages."""
    with _client(url, api_key) as client:
        conversation = client.conversations.get(conversation_id)
    console = Console(highlight=False)
    console.print(f"[bold]{escape(conversation.title)}[/] [dim]{conversation.id}[/]")
    for message in conversation.messages or ():
        if message.role == "user":
            console.print(f"\n[bold cyan]you>[/] {escape(message.content)}")
            continue
        note = f"{message.model or message.role}"
        if message.status != "completed":
            note += f", {message.status}"
        console.print(f"\n[dim]{escape(note)}[/]")
        console.print(Markdown(message.content))
        if message.error is not None:
            console.print(f"[red]error: {escape(message.error.message)}[/]")


@conversations_app.command("delete")
def delete_conversation(
    conversation_id: Annotated[str, typer.Argument(help="The conversation's id.")],
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Delete a conversation (a reply still running in it is stopped first)."""
    with _client(url, api_key) as client:
        client.conversations.delete(conversation_id)
    print(f"deleted {conversation_id}")


@conversations_app.command("search")
def search_conversations(
    query: Annotated[str, typer.Argument(help="Words to find in titles and messages (the last one as a prefix).")],
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=100, help="How many, best first.")] = 20,
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Find conversations by what was said in them."""
    with _client(url, api_key) as client:
        page = client.conversations.search(query, limit=limit)
    if not page.results:
        print(f"no conversation matches {query!r}", file=sys.stderr)
        raise typer.Exit(1)
    table = Table("id", "title", "where", box=None, header_style="bold")
    for r in page:
        title = _highlighted(r.title_match) if r.title_match else Text(r.title)
        where = _highlighted(r.snippet) if r.snippet else Text("(title)", style="dim")
        table.add_row(r.id, title, where)
    Console().print(table)


def _highlighted(parts: tuple[tuple[str, bool], ...]) -> Text:
    text = Text()
    for part, matched in parts:
        text.append(" ".join(part.split()) if not matched else part, style="bold yellow" if matched else None)
    return text


class ExportFormat(StrEnum):
    json = "json"
    markdown = "markdown"


@conversations_app.command("export")
def export_conversations(
    conversation_id: Annotated[str | None, typer.Argument(help="One conversation's id (default: all of them).")] = None,
    format: Annotated[ExportFormat, typer.Option("-f", "--format", help="json (re-importable) or markdown.")] = (
        ExportFormat.json
    ),
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write to this file (default: stdout).")] = None,
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Export one conversation or all of them, streamed to a file or stdout."""
    written = 0
    with _client(url, api_key) as client:
        target = output.open("wb") if output else sys.stdout.buffer
        try:
            for chunk in client.conversations.export(conversation_id, format=format.value):
                target.write(chunk)
                written += len(chunk)
        except BaseException:
            if output:
                target.close()
                output.unlink(missing_ok=True)  # no half-written file left looking like an export
            raise
        if output:
            target.close()
            print(f"wrote {written} bytes to {output}", file=sys.stderr)
        else:
            target.flush()


@conversations_app.command("import")
def import_conversations(
    file: Annotated[Path, typer.Argument(help="A rillchat export, or ChatGPT's conversations.json ('-': stdin).")],
    url: UrlOption = DEFAULT_BASE_URL,
    api_key: ApiKeyOption = None,
) -> None:
    """Import conversations as new ones: all of the file, or nothing if any of it is wrong."""
    try:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    except OSError as exc:
        print(f"rillchat: cannot read {file}: {exc.strerror}", file=sys.stderr)
        raise typer.Exit(1) from None
    with _client(url, api_key) as client:
        result = client.conversations.import_file(data)
    print(f"imported {result.imported} conversation{'s' if result.imported != 1 else ''}")
    for conversation_id, title in result.conversations:
        print(f"{conversation_id}  {title}")
