"""The hub's aiohttp application: routes, middlewares, and the lifetime of its connections."""

from __future__ import annotations

import json
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from aiohttp import WSCloseCode, web
from redis.exceptions import RedisError

from hub import keys
from hub.accounts.enrollment import enrollment_handler
from hub.accounts.store import account_for_login, close_login, open_login, verify_password
from hub.catalog.procedures import load_catalog
from hub.config import ConfigError, HubConfig
from hub.documents.store import Documents, is_terminal_upload
from hub.documents.store import add_routes as add_document_routes
from hub.forms.drafts import Drafts
from hub.intake.api import add_routes as add_intake_routes
from hub.personal.card_data import PersonalData
from hub.personal.vault import DataKey, Vault, load_or_create_key_file
from hub.realtime import endpoint as signaling_ws
from hub.realtime.relay import Relay
from hub.sessions.background import background
from hub.sessions.dispatch import Dispatch
from hub.sessions.router import load_rules, staff_catalog
from hub.sessions.service import Sessions
from hub.sessions.store import Store
from hub.supervision.board import add_routes as add_board_routes
from hub.supervision.live import add_routes as add_supervisor_routes
from hub.supervision.metrics import add_routes as add_metrics_routes
from staff_console import STATIC_DIR

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Called by terminals, not browsers, and authenticated by what they send, not by a cookie.
_ORIGIN_EXEMPT_PATHS = frozenset({"/api/terminals/enroll"})
MAX_JSON_BODY = 16 * 1024


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


@web.middleware
async def errors_and_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The one place exceptions become responses; and the headers every response carries."""
    try:
        if (
            request.method in _UNSAFE_METHODS
            and request.path not in _ORIGIN_EXEMPT_PATHS
            and not is_terminal_upload(request)
            and not _same_origin(request)
        ):
            return json_error(403, "cross_origin", "request from another origin refused")
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        return json_error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
    except RedisError as exc:
        log.error("redis unavailable on %s %s: %s", request.method, request.path, exc)
        return json_error(503, "store_unavailable", "the hub's store is unavailable; try again")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "internal error")
    if not isinstance(response, web.WebSocketResponse):
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


def _same_origin(request: web.Request) -> bool:
    """CSRF guard: a state-changing request must come from a page of this hub."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return False
    return origin.split("://", 1)[-1] == request.host


async def _read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_JSON_BODY:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_JSON_BODY, actual_size=request.content_length
        )
    try:
        body = json.loads(await request.content.read(MAX_JSON_BODY + 1) or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error":"bad_json","message":"a JSON object, please"}',
            content_type="application/json",
        )
    return body


# -- routes ------------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    try:
        await request.app[keys.REDIS].ping()
    except (RedisError, OSError):
        return web.json_response({"status": "degraded", "redis": "unreachable"}, status=503)
    return web.json_response(
        {"status": "ok", "redis": "ok", "hub_id": request.app[keys.CONFIG].hub_id}
    )


async def login(request: web.Request) -> web.Response:
    body = await _read_json(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or len(password) > 256:
        return json_error(400, "bad_request", "username and password are strings")
    redis = request.app[keys.REDIS]
    account = await verify_password(redis, username, password)
    if account is None:
        log.info("login refused for a username of %d characters", len(username))
        return json_error(401, "bad_credentials", "wrong username or password")
    config = request.app[keys.CONFIG]
    token = await open_login(redis, account.username, config.login_ttl_s)
    response = web.json_response(
        {"username": account.username, "role": account.role, "display_name": account.display_name}
    )
    response.set_cookie(
        keys.LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=config.cookie_secure,
        path="/",
        max_age=config.login_ttl_s,
    )
    log.info("login %s (%s)", account.username, account.role)
    return response


async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(keys.LOGIN_COOKIE)
    if token:
        await close_login(request.app[keys.REDIS], token)
    response = web.json_response({"ok": True})
    response.del_cookie(keys.LOGIN_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    config = request.app[keys.CONFIG]
    account = await account_for_login(
        request.app[keys.REDIS], request.cookies.get(keys.LOGIN_COOKIE, ""), config.login_ttl_s
    )
    if account is None:
        return json_error(401, "unauthenticated", "please log in")
    return web.json_response(
        {"username": account.username, "role": account.role, "display_name": account.display_name}
    )


async def catalog(request: web.Request) -> web.Response:
    """Purposes, skills and priorities with their names, for staff screens. Staff only."""
    config = request.app[keys.CONFIG]
    token = request.cookies.get(keys.LOGIN_COOKIE, "")
    if await account_for_login(request.app[keys.REDIS], token, config.login_ttl_s) is None:
        return json_error(401, "unauthenticated", "please log in")
    return web.json_response(staff_catalog(request.app[keys.RULES]))


async def branch_terminals(request: web.Request) -> web.Response:
    """The terminals of the caller's branch (branch staff), or of ``?branch=`` (supervisor,
    admin), with their devices and sessions."""
    config = request.app[keys.CONFIG]
    token = request.cookies.get(keys.LOGIN_COOKIE, "")
    account = await account_for_login(request.app[keys.REDIS], token, config.login_ttl_s)
    if account is None:
        return json_error(401, "unauthenticated", "please log in")
    if account.role == "branch_staff":
        branch = account.branch_id
    elif account.role in ("supervisor", "admin"):
        branch = request.query.get("branch", "")
    else:
        return json_error(403, "not_allowed", "for branch staff and supervisors")
    if not branch:
        return json_error(400, "no_branch", "which branch?")
    terminals = await request.app[keys.STORE].branch_terminals(branch, time.time(), 15.0)
    return web.json_response({"branch_id": branch, "terminals": terminals})


async def console_index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


# -- lifetime ----------------------------------------------------------------------------------


async def _connections(app: web.Application) -> AsyncIterator[None]:
    config = app[keys.CONFIG]
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
    app[keys.REDIS] = redis
    app[keys.STORE] = store
    app[keys.RELAY] = relay
    app[keys.RULES] = rules
    app[keys.DISPATCH] = dispatch
    sessions = Sessions(store, dispatch, relay, rules, config.session_retention_s)
    app[keys.SESSIONS] = sessions
    vault, catalog = Vault(data_key(config)), load_catalog()
    drafts = Drafts(redis, store, sessions, vault, catalog, config.session_retention_s)
    app[keys.DRAFTS] = drafts
    app[keys.PERSONAL] = PersonalData(
        redis, store, sessions, vault, catalog, config.session_retention_s, drafts
    )
    app[keys.DOCUMENTS] = Documents(
        redis, store, sessions, config.data_dir, config.session_retention_s
    )
    await relay.start()
    log.info("hub %s ready on redis %s", config.hub_id, _redacted(config.redis_url))
    yield
    await relay.stop()
    await redis.aclose()
    await pool.aclose()


async def _close_sockets(app: web.Application) -> None:
    sockets = app[keys.SOCKETS]
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
    app = web.Application(middlewares=[errors_and_headers], client_max_size=MAX_JSON_BODY)
    app[keys.CONFIG] = config
    app[keys.SOCKETS] = weakref.WeakSet[web.WebSocketResponse]()
    app[keys.LOCAL_PEERS] = {}
    app.cleanup_ctx.append(_connections)
    app.cleanup_ctx.append(background)
    app.on_shutdown.append(_close_sockets)
    app.router.add_get("/", root)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/login", login)
    app.router.add_post("/api/logout", logout)
    app.router.add_get("/api/me", me)
    app.router.add_get("/api/catalog", catalog)
    app.router.add_get("/api/branch/terminals", branch_terminals)
    app.router.add_post("/api/terminals/enroll", enrollment_handler)
    app.router.add_get("/ws", signaling_ws.handle)
    app.router.add_get("/console/", console_index)
    app.router.add_static("/static/", STATIC_DIR)
    add_intake_routes(app)
    add_document_routes(app)
    add_supervisor_routes(app)
    add_metrics_routes(app)
    add_board_routes(app)
    return app
