"""HTTP routes of accounts and terminals' enrollment (registered by :mod:`hub.app`).

- ``POST /api/login {"username", "password"}`` → the account (``username``, ``role``,
  ``display_name``) and the login cookie (HttpOnly, SameSite=Strict, Secure behind TLS, for the
  login TTL); 400 ``bad_request``; 401 ``bad_credentials`` (a wrong username and a wrong password
  look alike).
- ``POST /api/logout`` → ``{"ok": true}``; the login ends and the cookie is cleared.
- ``GET /api/me`` → the logged-in account; 401 ``unauthenticated``.
- ``POST /api/terminals/enroll {"code"}`` → ``{"terminal_id", "token"}``: a terminal redeems
  its one-time code (:mod:`hub.accounts.enrollment`); 400 ``bad_request``, 403 ``bad_code``,
  429 ``too_many_attempts`` with ``Retry-After``. Called by a terminal, not a browser: exempt
  from the Origin check, authenticated by the code.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from aiohttp import web

from hub.accounts.enrollment import EnrollmentError, count_attempt, redeem_enrollment_code
from hub.accounts.store import MAX_PASSWORD, close_login, open_login, verify_password
from hub.errors import BadRequest, HubError, Unauthenticated
from hub.web import CONFIG, LOGIN_COOKIE, REDIS, read_json, require_account

log = logging.getLogger(__name__)

ENROLL_PATH: Final = "/api/terminals/enroll"
MAX_ENROLL_BODY: Final = 1024


async def login(request: web.Request) -> web.Response:
    body = await read_json(request)
    username, password = body.get("username"), body.get("password")
    if (
        not isinstance(username, str)
        or not isinstance(password, str)
        or len(password) > MAX_PASSWORD
    ):
        raise BadRequest("bad_request", "username and password are strings")
    redis = request.app[REDIS]
    account = await verify_password(redis, username, password)
    if account is None:
        log.info("login refused for a username of %d characters", len(username))
        raise Unauthenticated("bad_credentials", "wrong username or password")
    config = request.app[CONFIG]
    token = await open_login(redis, account.username, config.login_ttl_s)
    response = web.json_response(
        {"username": account.username, "role": account.role, "display_name": account.display_name}
    )
    response.set_cookie(
        LOGIN_COOKIE,
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
    token = request.cookies.get(LOGIN_COOKIE)
    if token:
        await close_login(request.app[REDIS], token)
    response = web.json_response({"ok": True})
    response.del_cookie(LOGIN_COOKIE, path="/")
    return response


async def me(request: web.Request) -> web.Response:
    account = await require_account(request)
    return web.json_response(
        {"username": account.username, "role": account.role, "display_name": account.display_name}
    )


def client_address(request: web.Request) -> str:
    """The address enrollment attempts are counted against: the TCP peer. Behind a reverse proxy
    that is the proxy, so all terminals behind it share one count."""
    return request.remote or "unknown"


async def enroll(request: web.Request) -> web.Response:
    """``POST /api/terminals/enroll {"code"}`` → ``{"terminal_id", "token"}``."""
    redis = request.app[REDIS]
    try:
        data: dict[str, Any] | None = await read_json(request, MAX_ENROLL_BODY)
    except HubError:  # too large, or not a JSON object: not a code
        data = None
    code = data.get("code") if data is not None else None
    if not isinstance(code, str):
        # Counted too: a malformed attempt is still an attempt.
        await count_attempt(redis, client_address(request))
        raise EnrollmentError("bad_request", 'expected a JSON object {"code": "ABCD-EFGH"}')
    terminal_id, token = await redeem_enrollment_code(redis, code, client=client_address(request))
    response = web.json_response({"terminal_id": terminal_id, "token": token})
    response.headers["Cache-Control"] = "no-store"
    return response
