"""The hub's HTTP spine: the middleware every request passes, the one way to require a login
and a role, the one JSON body reader, and the application's infrastructure keys.

Theory of operation. A handler reads its body with :func:`read_json`, finds out who calls with
:func:`require_account` (staff, by the login cookie) or :func:`device_terminal` (a terminal, by
its device token), and refuses by raising a :class:`hub.errors.HubError`. It never builds an
error response: :func:`errors_and_headers` — the middleware — is the one place an exception
becomes an HTTP answer:

* a ``HubError``: its status, ``{"error": code, "message": message, ...extra}``, its headers;
* one of aiohttp's HTTP exceptions (no such route, method not allowed): its status, the reason
  as code and message, ``{"error": "not_found", "message": "Not Found"}``; redirects pass;
* a ``RedisError``: 503 ``store_unavailable``; anything else: 500 ``internal`` (logged with its
  traceback; nothing of it reaches the peer).

Before the handler, the middleware is the CSRF guard: a state-changing request (POST, PUT,
PATCH, DELETE) whose ``Origin`` is not this hub is refused (403 ``cross_origin``), except those
the composition root declares authenticated by what they carry rather than by a cookie (an
enrollment code, a device token). After it, every answer but a WebSocket gets the security
headers (a strict Content-Security-Policy, ``nosniff``, no referrer).

The signaling socket maps the same errors to ``error`` frames in its own one place
(:mod:`hub.realtime.endpoint`); it looks staff up with :func:`login_account`, the lookup
:func:`require_account` uses.

Typed application state: the infrastructure keys live here (:data:`CONFIG`, :data:`REDIS`,
:data:`RULES`, :data:`SOCKETS`, :data:`LOCAL_PEERS`); each service's key lives next to its class
(``STORE`` in :mod:`hub.sessions.store`, ``DOCUMENTS`` in :mod:`hub.documents.store`, …), so that
no module imports a registry that imports it back. Only :mod:`hub.app` fills them.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.typedefs import Middleware
from redis.exceptions import RedisError

from hub.accounts.store import Account, account_for_login
from hub.config import HubConfig
from hub.errors import (
    BadRequest,
    HubError,
    NotAllowed,
    StoreUnavailable,
    TooLarge,
    Unauthenticated,
)
from hub.sessions.router import Rules
from hub.sessions.store import STORE

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

CONFIG: Final = web.AppKey("config", HubConfig)
REDIS: Final = web.AppKey("redis", aioredis.Redis)
RULES: Final = web.AppKey("rules", Rules)
"""The routing rules, loaded once at start (pure data: :mod:`hub.sessions.router` stays free of
aiohttp, so their key is here, with the config's)."""
LOCAL_PEERS: Final[web.AppKey[dict[str, int]]] = web.AppKey("local_peers")
"""``role:id`` of the peers connected to this process, with how many sockets each has."""
SOCKETS: Final[web.AppKey[weakref.WeakSet[web.WebSocketResponse]]] = web.AppKey("sockets")

LOGIN_COOKIE: Final = "mdg_login"
MAX_JSON_BODY: Final = 16 * 1024
"""The default limit of :func:`read_json`, and the application's ``client_max_size``."""
_READ_CHUNK: Final = 65536

_CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
_UNSAFE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# -- errors and headers ------------------------------------------------------------------------


def error_response(error: HubError) -> web.Response:
    """A HubError as the HTTP answer (used by the middleware only)."""
    return web.json_response(error.body(), status=error.status, headers=dict(error.headers))


def errors_and_headers(origin_exempt: Callable[[web.Request], bool]) -> Middleware:
    """The middleware: the CSRF guard (requests ``origin_exempt`` accepts are not checked), the
    one place exceptions become responses, and the headers every response carries."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        response: web.StreamResponse
        try:
            if (
                request.method in _UNSAFE_METHODS
                and not origin_exempt(request)
                and not same_origin(request)
            ):
                raise NotAllowed("cross_origin", "request from another origin refused")
            response = await handler(request)
        except HubError as exc:
            response = error_response(exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            reason = exc.reason
            response = error_response(
                HubError(reason.lower().replace(" ", "_"), reason, status=exc.status)
            )
        except RedisError as exc:
            log.error("redis unavailable on %s %s: %s", request.method, request.path, exc)
            response = error_response(StoreUnavailable())
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(HubError("internal", "internal error", status=500))
        if not isinstance(response, web.WebSocketResponse):
            response.headers.setdefault("Content-Security-Policy", _CSP)
            response.headers.setdefault("X-Content-Type-Options", "nosniff")
            response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return middleware


def from_this_hub(origin: str, request: web.Request) -> bool:
    """Whether an ``Origin`` header names this hub (scheme aside: TLS ends at the proxy)."""
    return origin.split("://", 1)[-1] == request.host


def same_origin(request: web.Request) -> bool:
    """CSRF guard: a state-changing request must come from a page of this hub."""
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return False
    return from_this_hub(origin, request)


# -- who calls ---------------------------------------------------------------------------------


async def login_account(request: web.Request) -> Account | None:
    """The account behind the request's login cookie (its expiry refreshed), or None: the one
    lookup of a login, for HTTP and the signaling socket alike."""
    app = request.app
    token = request.cookies.get(LOGIN_COOKIE, "")
    return await account_for_login(app[REDIS], token, app[CONFIG].login_ttl_s)


async def require_account(request: web.Request, *roles: str, refusal: str = "") -> Account:
    """The logged-in staff member, when their role is one of ``roles`` (any role when none is
    named). Unauthenticated (401) without a login; NotAllowed (403, ``refusal`` or "for
    <roles>") for another role."""
    account = await login_account(request)
    if account is None:
        raise Unauthenticated()
    if roles and account.role not in roles:
        raise NotAllowed("not_allowed", refusal or f"for {', '.join(sorted(set(roles)))}")
    return account


def bearer_token(request: web.Request) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, or None without one."""
    auth = request.headers.get("Authorization", "")
    return auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else None


async def device_terminal(request: web.Request) -> str | None:
    """The terminal whose device token the request carries, or None (no token, or unknown)."""
    token = bearer_token(request)
    if token is None:
        return None
    return await request.app[STORE].terminal_for_token(token)


# -- bodies ------------------------------------------------------------------------------------


async def read_json(request: web.Request, limit: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The request's body as a JSON object: TooLarge (413 ``too_large``) beyond ``limit``
    bytes — declared or streamed —, BadRequest (400 ``bad_json``) when it is not an object."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge("too_large", f"at most {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge("too_large", f"at most {limit} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks) or b"null")
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BadRequest("bad_json", "a JSON object, please")
    return body
