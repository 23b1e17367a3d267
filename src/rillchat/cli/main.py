"""The ``rillchat`` command."""

from __future__ import annotations

from typing import Annotated

import typer

from rillchat.cli import admin
from rillchat.cli.chat import chat

__all__ = ["app", "main"]

app = typer.Typer(no_args_is_help=True, add_completion=False, help="rillchat: stream LLM replies token by token.")


@app.callback()
def _root() -> None:
    """Keeps ``rillchat serve`` a subcommand while it is the only one."""


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    model: Annotated[str | None, typer.Option(help="Default model id.")] = None,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "info",
    workers: Annotated[int, typer.Option(help="Worker processes (more than 1 needs RILLCHAT_REDIS_URL).")] = 1,
) -> None:
    """Serve the API and the browser UI."""
    import os

    from rillchat.api.app import create_app
    from rillchat.config import Settings
    from rillchat.extras import MissingExtra, check_extras
    from rillchat.logs import configure_logging
    from rillchat.server import run, server_config

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if model is not None:
        overrides["default_model"] = model
    settings = Settings(**overrides)  # type: ignore[arg-type]
    try:
        check_extras(settings)
    except MissingExtra as exc:
        typer.echo(f"rillchat: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(log_level, settings.log_format)
    if workers > 1:
        if not settings.redis_url:
            # Each worker has its own memory: without Redis a resume or stop could reach the wrong one.
            raise typer.BadParameter("--workers above 1 needs RILLCHAT_REDIS_URL", param_hint="--workers")
        if model is not None:
            os.environ["RILLCHAT_DEFAULT_MODEL"] = model  # workers build their own settings
    config = server_config(
        "rillchat.api.app:create_app" if workers > 1 else create_app(settings),
        settings,
        factory=workers > 1,
        workers=workers,
        host=settings.host,
        port=settings.port,
        log_config=None,
        log_level=log_level,
        loop="uvloop",
        backlog=4096,
        # On SIGTERM uvicorn stops accepting, then lets open replies finish up to this deadline;
        # the app's shutdown then stores whatever still runs as interrupted.
        timeout_graceful_shutdown=int(max(1, settings.shutdown_grace_seconds)),
    )
    run(config)


@app.command("hash-key")
def hash_key(key: Annotated[str, typer.Argument(help="The API key to hash.")]) -> None:
    """Print the hash to put in RILLCHAT_API_KEYS for a key (the key itself is never stored)."""
    from rillchat.api.edge import hash_api_key

    typer.echo(hash_api_key(key))


app.command()(chat)
app.command()(admin.models)
app.add_typer(admin.conversations_app, name="conversations")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
