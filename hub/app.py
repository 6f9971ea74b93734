"""The hub's aiohttp application: the composition root.

Theory of operation. This module is the only one that knows every part: it makes the services
(each from its capability's package) when the app starts, keeps them in the typed application
state (the infrastructure keys of :mod:`hub.web`, each service's key next to its class), and
registers every route, from one table, :data:`ROUTES`. Handlers live with their capability
(``hub/<capability>/api.py`` and a few modules that are mostly HTTP); nothing below this module
imports it.

The lifetime of the connections is :data:`LIFETIMES`, aiohttp ``cleanup_ctx`` entries in start
order (and stopped in reverse): Redis and the services first, then the per-process background
work, the intake, the documents' retention and the supervisor's push.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis.asyncio as aioredis
from aiohttp import WSCloseCode, web
from redis.exceptions import RedisError

from hub.accounts import api as accounts_api
from hub.catalog.procedures import load_catalog
from hub.config import ConfigError, HubConfig
from hub.documents import api as documents_api
from hub.documents.store import DOCUMENTS, Documents, retention
from hub.forms.drafts import DRAFTS, Drafts
from hub.intake import api as intake_api
from hub.personal.card_data import PERSONAL, PersonalData
from hub.personal.vault import DataKey, Vault, load_or_create_key_file
from hub.realtime import endpoint
from hub.realtime.relay import RELAY, Relay
from hub.sessions import api as sessions_api
from hub.sessions.background import background
from hub.sessions.dispatch import DISPATCH, Dispatch
from hub.sessions.router import load_rules
from hub.sessions.service import SESSIONS, Sessions
from hub.sessions.store import STORE, Store
from hub.supervision import board, live, metrics
from hub.web import (
    CONFIG,
    LOCAL_PEERS,
    MAX_JSON_BODY,
    REDIS,
    RULES,
    SOCKETS,
    Handler,
    errors_and_headers,
)
from staff_console import STATIC_DIR

log = logging.getLogger(__name__)


# -- the hub's own pages ---------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[REDIS].ping()
    except (RedisError, OSError):
        return web.json_response({"status": "degraded", "redis": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "redis": "ok", "hub_id": request.app[CONFIG].hub_id})


async def console_index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


# -- every route -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler


@dataclass(frozen=True)
class Static:
    """Files under ``directory`` served at ``prefix``."""

    prefix: str
    directory: Path


ROUTES: Final[tuple[Route | Static, ...]] = (
    # the hub itself
    Route("GET", "/", root),
    Route("GET", "/healthz", healthz),
    Route("GET", "/console/", console_index),
    Static("/static/", STATIC_DIR),
    # accounts and terminals (hub/accounts)
    Route("POST", "/api/login", accounts_api.login),
    Route("POST", "/api/logout", accounts_api.logout),
    Route("GET", "/api/me", accounts_api.me),
    Route("POST", accounts_api.ENROLL_PATH, accounts_api.enroll),
    # the counter (hub/sessions, hub/realtime)
    Route("GET", "/api/catalog", sessions_api.catalog),
    Route("GET", "/api/branch/terminals", sessions_api.branch_terminals),
    Route("GET", "/ws", endpoint.handle),
    # the procedure catalog and the central intake (hub/intake)
    Route("GET", "/api/intake/catalog", intake_api.catalog),
    Route("POST", "/api/intake/sessions/{session_id}/submit", intake_api.submit_draft),
    Route("POST", "/api/intake/validate", intake_api.validate),
    Route("POST", "/api/intake/applications", intake_api.submit),
    Route("GET", "/api/intake/applications", intake_api.list_applications),
    Route("GET", "/api/intake/applications/{application_id}", intake_api.get_application),
    Route("GET", "/api/intake/applications/{application_id}/pdf", intake_api.get_pdf),
    Route("POST", "/api/intake/claim", intake_api.claim),
    Route("GET", "/api/intake/returned", intake_api.returned_to_me),
    Route("POST", "/api/intake/applications/{application_id}/done", intake_api.done),
    Route("POST", "/api/intake/applications/{application_id}/return", intake_api.return_),
    Route("GET", "/api/intake/sessions/{session_id}", intake_api.session_applications),
    # documents (hub/documents)
    Route(
        "PUT",
        documents_api.UPLOAD_PREFIX + "{session_id}/{group}/{page}/{variant}",
        documents_api.upload,
    ),
    Route("GET", documents_api.UPLOAD_PREFIX + "{document_id}/{variant}", documents_api.download),
    Route("GET", "/api/sessions/{session_id}/documents", documents_api.list_documents),
    # supervision (hub/supervision)
    Route("GET", "/api/supervisor/snapshot", live.snapshot_handler),
    Route("GET", "/metrics", metrics.metrics_handler),
    Route("GET", "/board/{branch_id}", board.board_page),
    Route("GET", "/api/board/{branch_id}", board.board_json),
)


def origin_exempt(request: web.Request) -> bool:
    """Requests authenticated by what they carry, never by a cookie, so not open to CSRF: a
    terminal redeeming its enrollment code, a terminal uploading a page with its device token."""
    return request.path == accounts_api.ENROLL_PATH or documents_api.is_terminal_upload(request)


def add_routes(app: web.Application, routes: tuple[Route | Static, ...] = ROUTES) -> None:
    for route in routes:
        match route:
            case Static(prefix=prefix, directory=directory):
                app.router.add_static(prefix, directory)
            case Route(method="GET", path=path, handler=handler):
                app.router.add_get(path, handler)  # and HEAD
            case Route(method=method, path=path, handler=handler):
                app.router.add_route(method, path, handler)


# -- lifetime ----------------------------------------------------------------------------------


async def _connections(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    # A blocking pool: when a burst of reconnecting terminals wants more connections than the
    # pool holds, requests wait for one (up to 10 s) instead of failing at once.
    pool = aioredis.BlockingConnectionPool.from_url(
        config.redis_url,
        decode_responses=True,
        health_check_interval=10,
        socket_connect_timeout=5,
        max_connections=config.redis_connections,
        timeout=10,
    )
    redis = aioredis.Redis(connection_pool=pool)
    relay = Relay(redis, config.hub_id)
    rules = load_rules(config.routing_file) if config.routing_file else load_rules()
    store = Store(redis)
    dispatch = Dispatch(redis, rules)
    app[REDIS] = redis
    app[STORE] = store
    app[RELAY] = relay
    app[RULES] = rules
    app[DISPATCH] = dispatch
    sessions = Sessions(store, dispatch, relay, rules, config.session_retention_s)
    app[SESSIONS] = sessions
    vault, catalog = Vault(data_key(config)), load_catalog()
    drafts = Drafts(redis, store, sessions, vault, catalog, config.session_retention_s)
    app[DRAFTS] = drafts
    app[PERSONAL] = PersonalData(
        redis, store, sessions, vault, catalog, config.session_retention_s, drafts
    )
    app[DOCUMENTS] = Documents(redis, store, sessions, config.data_dir, config.session_retention_s)
    await relay.start()
    log.info("hub %s ready on redis %s", config.hub_id, _redacted(config.redis_url))
    yield
    await relay.stop()
    await redis.aclose()
    await pool.aclose()


LIFETIMES: Final[tuple[Callable[[web.Application], AsyncIterator[None]], ...]] = (
    _connections,
    background,
    intake_api.lifetime,
    retention,
    live.lifetime,
)


async def _close_sockets(app: web.Application) -> None:
    sockets = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"hub shutting down")


def data_key(config: HubConfig) -> DataKey:
    if config.data_key:
        try:
            return DataKey.from_text(config.data_key)
        except ValueError as exc:
            raise ConfigError(f"Config 'MADOGUCHI_DATA_KEY' is malformed: {exc}.") from None
    return load_or_create_key_file(config.data_dir / "data.key")


def _redacted(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://**********@{rest.split('@', 1)[1]}"


def create_app(config: HubConfig) -> web.Application:
    app = web.Application(
        middlewares=[errors_and_headers(origin_exempt)], client_max_size=MAX_JSON_BODY
    )
    app[CONFIG] = config
    app[SOCKETS] = weakref.WeakSet[web.WebSocketResponse]()
    app[LOCAL_PEERS] = {}
    # Read now, so that a malformed thresholds file stops the hub before it starts.
    app[live.THRESHOLDS] = live.thresholds(config)
    app[board.BOARD_CACHE] = {}
    app.cleanup_ctx.extend(LIFETIMES)
    app.on_shutdown.append(_close_sockets)
    add_routes(app)
    return app
