"""The public surface is what ``__all__`` says, and every name in it exists."""

from __future__ import annotations

import importlib

import pytest

import rillchat

MODULES = [
    "rillchat",
    "rillchat.client",
    "rillchat.events",
    "rillchat.errors",
    "rillchat.config",
    "rillchat.providers",
    "rillchat.storage",
    "rillchat.archive",
    "rillchat.streams.eventlog",
    "rillchat.streams.generation",
    "rillchat.streams.hub",
]


@pytest.mark.parametrize("name", MODULES)
def test_every_name_in_all_exists(name):
    module = importlib.import_module(name)
    for member in module.__all__:
        assert getattr(module, member) is not None, f"{name}.{member}"


def test_the_top_level_surface():
    assert set(rillchat.__all__) >= {"create_app", "Client", "AsyncClient", "Delta", "Finish", "__version__"}
    assert callable(rillchat.create_app)
    public = {n for n in dir(rillchat) if not n.startswith("_")} - {
        "client",
        "events",
        "api",
        "config",
        "errors",
        "providers",
        "streams",
        "storage",
        "archive",
        "encoders",
        "cli",
        "logs",
        "extras",
        "server",
        "background",
    }
    assert public <= set(rillchat.__all__), public - set(rillchat.__all__)
