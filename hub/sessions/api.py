"""HTTP routes of the counter for staff screens (registered by :mod:`hub.app`).

- ``GET /api/catalog`` (any staff) → purposes, skills and priorities with their Japanese and
  English names (:func:`hub.sessions.router.staff_catalog`).
- ``GET /api/branch/terminals`` → the terminals of the caller's branch (branch staff), or of
  ``?branch=`` (supervisor, admin), with their devices and sessions; 400 ``no_branch``, 403
  ``not_allowed`` for other roles.
"""

from __future__ import annotations

import time
from typing import Final

from aiohttp import web

from hub.errors import BadRequest
from hub.sessions.router import staff_catalog
from hub.sessions.store import STORE
from hub.web import RULES, require_account

ONLINE_GRACE_S: Final = 15.0
"""A terminal seen by presence within this long is shown online."""


async def catalog(request: web.Request) -> web.Response:
    """Purposes, skills and priorities with their names, for staff screens. Staff only."""
    await require_account(request)
    return web.json_response(staff_catalog(request.app[RULES]))


async def branch_terminals(request: web.Request) -> web.Response:
    """The terminals of the caller's branch (branch staff), or of ``?branch=`` (supervisor,
    admin), with their devices and sessions."""
    account = await require_account(
        request,
        "branch_staff",
        "supervisor",
        "admin",
        refusal="for branch staff and supervisors",
    )
    if account.role == "branch_staff":
        branch = account.branch_id
    else:
        branch = request.query.get("branch", "")
    if not branch:
        raise BadRequest("no_branch", "which branch?")
    terminals = await request.app[STORE].branch_terminals(branch, time.time(), ONLINE_GRACE_S)
    return web.json_response({"branch_id": branch, "terminals": terminals})
