"""``create_app``: the whole server on one screen."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from rillchat._version import __version__
from rillchat.api import aisdk, archive, chat, conversations, models, observability, streams
from rillchat.api.edge import Edge
from rillchat.api.errors import install_error_handlers
from rillchat.api.fastpath import ReplyRoutes
from rillchat.api.incoming import Gate
from rillchat.api.observability import Metrics
from rillchat.api.runtime import YoungCollections, settle_heap
from rillchat.api.services import Services
from rillchat.api.streaming import ReplyAborted
from rillchat.config import Settings
from rillchat.extras import check_extras
from rillchat.providers import ProviderRegistry, build_registry
from rillchat.storage import Database, Repository
from rillchat.streams.checkpoint import Checkpointer
from rillchat.streams.hub import Hub
from rillchat.streams.replies import ReplyService

__all__ = ["create_app"]

logger = logging.getLogger("rillchat")

STATIC_DIR = Path(__file__).resolve().parent.parent / "web" / "static"


class _DropExpectedAborts(logging.Filter):
    """A failed plain-text reply is ended by dropping the connection on purpose; that is not a crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ReplyAborted))


def _quiet_expected_aborts() -> None:
    uvicorn_error = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropExpectedAborts) for f in uvicorn_error.filters):
        uvicorn_error.addFilter(_DropExpectedAborts())


class RillchatApp(FastAPI):
    """FastAPI behind rillchat's edge: every request enters through ``edge`` (then CORS, when configured,
    is the only layer above it), and the reply routes never enter the framework's middleware stack."""

    edge: Edge
    entry: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.entry(scope, receive, send)

    async def framework(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def create_app(settings: Settings | None = None, registry: ProviderRegistry | None = None) -> RillchatApp:
    settings = settings or Settings()
    check_extras(settings)  # a missing optional part is named now, before anything listens

    @asynccontextmanager
    async def lifespan(app: RillchatApp) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        await database.migrate()
        repository = Repository(database.sessions)
        cluster = None
        if settings.redis_url:
            from rillchat.streams.cluster import Cluster  # the redis extra

            cluster = Cluster(
                settings.redis_url,
                repository,
                log_ttl_seconds=settings.event_log_ttl_seconds,
                reply_timeout_seconds=settings.reply_timeout_seconds,
            )
        hub = Hub(
            grace_seconds=settings.stream_grace_seconds,
            ttl_seconds=settings.event_log_ttl_seconds,
            elsewhere=cluster.followers if cluster is not None else None,
        )
        if cluster is not None:
            # Other replicas may be generating right now: their dead are found by the sweeper instead.
            await cluster.start(hub)
        else:
            interrupted = await repository.interrupt_streaming()
            if interrupted:
                logger.info("marked %d replies left streaming by the last run as interrupted", interrupted)
        checkpointer = Checkpointer(hub, repository.checkpoint, interval_seconds=settings.checkpoint_interval_seconds)
        checkpointer.start()
        reg = registry or build_registry(settings)
        discovery = reg.start_discovery()  # in the background: a slow upstream never holds up start-up
        preload = _preload_local_model(reg) if settings.local_model_preload else None
        replies = ReplyService(settings, reg, hub, repository, cluster=cluster)
        metrics = Metrics(hub, _local_queue_length(reg), log_content=settings.log_content, checkpointer=checkpointer)
        hub.observers.append(metrics.reply_started)
        app.state.metrics = metrics
        app.state.checkpointer = checkpointer
        app.state.services = Services(settings, reg, database, repository, hub, replies)
        app.state.shutting_down = False
        app.edge.routes = ReplyRoutes(app.state.services)
        metrics.loop_lag_monitor.start()
        metrics.gc_pause_monitor.start()
        young_collections = YoungCollections() if settings.tune_gc else None
        if young_collections is not None:
            settle_heap()
            young_collections.start()
        try:
            yield
        finally:
            await metrics.loop_lag_monitor.stop()
            if young_collections is not None:
                await young_collections.stop()
            metrics.gc_pause_monitor.stop()
            app.state.shutting_down = True
            if preload is not None:
                await asyncio.gather(preload, return_exceptions=True)
            await hub.shutdown(deadline_seconds=settings.shutdown_grace_seconds)
            await checkpointer.stop()
            if cluster is not None:
                await cluster.stop()
            await discovery.aclose()
            if registry is None:
                await reg.aclose()
            await database.aclose()

    _quiet_expected_aborts()
    app = RillchatApp(title="rillchat", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    app.include_router(chat.router)
    app.include_router(streams.router)
    app.include_router(archive.router)  # before conversations: /export and /import are not conversation ids
    app.include_router(conversations.router)
    app.include_router(aisdk.router)
    app.include_router(models.router)
    if settings.metrics_enabled:
        app.include_router(observability.router)
    if (STATIC_DIR / "index.html").is_file():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="web")
    gate = Gate(
        api_keys=settings.api_keys,
        allowed_hosts=settings.allowed_hosts,
        public_metrics=settings.public_metrics,
        public_docs=settings.public_docs,
    )
    app.edge = Edge(
        app.framework, gate, settings.max_body_bytes, larger={archive.IMPORT_PATH: settings.max_import_bytes}
    )
    app.entry = app.edge
    if settings.cors_origins:
        # CORS answers preflights and decorates even a 401 from the edge; it wraps ``send`` only for
        # requests that carry an Origin. Credentials (the Authorization header) are allowed only toward
        # listed origins, never "*".
        wildcard = "*" in settings.cors_origins
        app.entry = CORSMiddleware(
            app.edge,
            allow_origins=settings.cors_origins,
            allow_credentials=not wildcard,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["authorization", "content-type", "last-event-id", "x-request-id"],
            expose_headers=["x-request-id", "x-rillchat-reply-id", "retry-after"],
            max_age=600,
        )
    return app


def _preload_local_model(registry: ProviderRegistry) -> asyncio.Task[object] | None:
    """Load the embedded model in the background at start-up, so the first reply does not wait for it."""
    for provider in registry.providers:
        load = getattr(provider, "load", None)
        if load is not None:
            return asyncio.create_task(load(), name="preload-local-model")
    return None


def _local_queue_length(registry: ProviderRegistry) -> Callable[[], int] | None:
    for provider in registry.providers:
        queue = getattr(provider, "queue", None)
        if queue is not None:
            return queue.__len__  # type: ignore[no-any-return]
    return None
