"""What the routes share, built once per app in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from rillchat.config import Settings
from rillchat.providers import ProviderRegistry
from rillchat.storage import Database, Repository
from rillchat.streams.hub import Hub
from rillchat.streams.replies import ReplyService

__all__ = ["Services"]


@dataclass(slots=True)
class Services:
    settings: Settings
    registry: ProviderRegistry
    database: Database
    repository: Repository
    hub: Hub
    replies: ReplyService
