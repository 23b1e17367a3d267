"""The ``rillchat`` command."""

from __future__ import annotations

from typing import Annotated

import typer

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
) -> None:
    """Serve the API and the browser UI."""
    import uvicorn

    from rillchat.api.app import create_app
    from rillchat.config import Settings

    overrides: dict[str, object] = {}
    if host is not None:
        overrides["host"] = host
    if port is not None:
        overrides["port"] = port
    if model is not None:
        overrides["default_model"] = model
    settings = Settings(**overrides)  # type: ignore[arg-type]
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=15,
    )


def main() -> None:
    app()


if __name__ == "__main__":
    main()
