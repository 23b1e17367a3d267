"""``rillchat models`` and ``rillchat conversations list|show|delete``: a running server's state."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

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
    table = Table("model", "provider", "upstream model", "default", "aliases", box=None, header_style="bold")
    for m in found:
        table.add_row(
            escape(m.id), m.provider, escape(m.upstream_model), "*" if m.default else "", ", ".join(m.aliases)
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
