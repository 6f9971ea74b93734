r"""HTTP routes of the procedure catalog and the central intake (registered by :mod:`hub.app`).

Routes (who may call them; answers):

- ``GET /api/intake/catalog`` (any staff): the catalog,
:meth:`hub.catalog.procedures.Catalog.to_json`.
- ``POST /api/intake/validate`` ``{"bundle"}`` (specialist): ``{ok, fields, entries, bundle}``,
  the bundle's layout, its field issues and its 書かない figure, without submitting; 422.
- ``POST /api/intake/applications`` ``{"application_id": uuid, "session_id", "bundle"}``
  (a specialist taking part in the session): 201 ``{application_id, entry_id, created, state,
  entries, pdf}``; 200 with the same ``entry_id`` for a repeat; 422; 409
  ``application_id_reused`` (same id, other contents); 503 ``intake_not_durable``.
- ``GET /api/intake/applications?state=&limit=`` (back office, supervisor):
  ``{applications: [status…], counts: {state: n}}``.
- ``GET /api/intake/applications/{id}`` (back office, supervisor, the submitter): status and
  ``record``; the Individual Number masked for all but the back office.
- ``GET /api/intake/applications/{id}/pdf`` (the same): the PDF record.
- ``POST /api/intake/claim`` (back office; the consumer is the username):
  ``{application: status + record | null, dead_lettered: [ids]}``.
- ``POST /api/intake/applications/{id}/done`` and ``…/return`` ``{"reason"}`` (back office):
  the status; 409 ``illegal_transition``.
- ``GET /api/intake/sessions/{session_id}`` (its specialist and branch staff, supervisor, back
  office): ``{session_id, applications: [{application_id, entry_id, state, reason, …}]}``, the
  notice a session shows.

A submission is validated with :mod:`hub.forms.validation` (422 ``invalid_bundle`` with ``fields``:
each ``{form, field, code, ja, en}``), appended to the intake once (201; the same ``application_id``
again: 200 and the same ``entry_id``), and answered only when Redis has it on disk (503
``intake_not_durable`` when the intake's Redis does not fsync every write). Its PDF record is
drawn afterwards in a worker process, under the hub's data dir; a missing one is drawn on
request.
Errors are ``{"error": code, "message": …}`` like every other route of the hub: raised here as
:class:`hub.errors.HubError`\ s (an :class:`~hub.intake.queue.IntakeError` or a
:class:`~hub.forms.validation.FormsError` is one), answered by the hub's middleware.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.process
import contextlib
import ctypes
import hashlib
import json
import logging
import multiprocessing
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from redis.exceptions import RedisError

from hub.accounts.store import Account
from hub.catalog.procedures import Catalog, load_catalog
from hub.errors import BadRequest, NotAllowed, NotFound, Unavailable, Unprocessable
from hub.forms.drafts import DRAFTS
from hub.forms.validation import (
    count_entries,
    issues_json,
    mask_my_number,
    parse_submission,
    submission_record,
    validate_submission,
)
from hub.intake.pdf import JST, pdf_path, write_record_pdf
from hub.intake.queue import INTAKE, Intake, IntakeError, State
from hub.personal import audit
from hub.personal.card_data import PERSONAL
from hub.personal.vault import Vault, VaultError
from hub.sessions.store import STORE
from hub.web import CONFIG, REDIS, read_json, require_account

log = logging.getLogger(__name__)

MAX_APPLICATION_BODY: Final = 512 * 1024
"""A bundle with its signature strokes; documents travel separately and are referenced."""
UUID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SESSION_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
PDF_BACKLOG: Final = 32
"""PDFs waiting to be drawn at most; beyond, a PDF is drawn when first asked for."""

STAFF: Final = frozenset({"specialist", "branch_staff", "supervisor", "backoffice", "admin"})
READERS: Final = frozenset({"backoffice", "supervisor"})
BACKOFFICE: Final = frozenset({"backoffice"})
SPECIALIST: Final = frozenset({"specialist"})


def _pdf_worker_started() -> None:  # pragma: no cover - runs in the worker process
    """The worker ends with the hub, even a killed one, and leaves Ctrl-C to the hub."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the hub died before we asked to die with it
        os._exit(0)


class PdfWorker:
    """Draws PDF records in a worker process: the drawing is CPU-bound Python and, in a thread,
    would hold the GIL against the hub's event loop."""

    def __init__(self, data_dir: Path, backlog: int = PDF_BACKLOG) -> None:
        self.data_dir = data_dir
        self.backlog = backlog
        self.pending = 0
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None  # made when first used
        self._waiting: set[asyncio.Future[Path]] = set()

    @staticmethod
    def _new_pool() -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_pdf_worker_started,
        )

    def _submit(self, record: Mapping[str, Any]) -> asyncio.Future[Path]:
        if self._pool is None:
            self._pool = self._new_pool()
        try:
            future = self._pool.submit(write_record_pdf, dict(record), self.data_dir)
        except concurrent.futures.process.BrokenProcessPool:
            log.warning("pdf worker died; starting another")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
            future = self._pool.submit(write_record_pdf, dict(record), self.data_dir)
        waiting = asyncio.wrap_future(future)
        self._waiting.add(waiting)
        waiting.add_done_callback(self._waiting.discard)
        return waiting

    def schedule(self, record: Mapping[str, Any]) -> bool:
        """Queue a record's PDF; False (and it is drawn on request) when the backlog is full."""
        if self.pending >= self.backlog:
            log.warning(
                "pdf backlog full; application %s drawn on request", record.get("application_id")
            )
            return False
        self.pending += 1
        self._submit(record).add_done_callback(self._finished)
        return True

    def _finished(self, future: asyncio.Future[Path]) -> None:
        self.pending -= 1
        if not future.cancelled() and future.exception() is not None:
            exc = future.exception()
            log.error("pdf record failed: %s: %s", type(exc).__name__, exc)

    async def render(self, record: Mapping[str, Any]) -> Path:
        """Draw it now (behind what is queued) and wait for it."""
        return await self._submit(record)

    def close(self) -> None:
        """Stop without waiting: what is queued is dropped (drawn on request later)."""
        for waiting in list(self._waiting):
            waiting.cancel()  # so that a drawing finishing after the loop closed is ignored
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


PDFS: Final = web.AppKey("intake_pdfs", PdfWorker)
CATALOG: Final = web.AppKey("procedure_catalog", Catalog)
"""The procedure catalog the intake validates against (pure data, loaded at start)."""


async def lifetime(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: the intake, its PDF worker and catalog (after the hub's Redis is open)."""
    intake = Intake(app[REDIS])
    catalog = load_catalog()
    pdfs = PdfWorker(app[CONFIG].data_dir)
    app[INTAKE], app[PDFS], app[CATALOG] = intake, pdfs, catalog
    try:
        await intake.check_durability()
    except IntakeError as exc:
        log.warning("intake refuses submissions until fixed: %s", exc)
    except (RedisError, OSError) as exc:
        log.warning("intake: cannot check Redis durability yet (%s); checked at submission", exc)
    yield
    pdfs.close()


# -- helpers -----------------------------------------------------------------------------------


def _today() -> Any:
    return datetime.now(JST).date()


def _digest(session_id: str, bundle: Mapping[str, Any]) -> str:
    canonical = json.dumps(
        {"session_id": session_id, "bundle": bundle},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _application_id(request: web.Request) -> str:
    application_id = request.match_info["application_id"]
    if not UUID.fullmatch(application_id):
        raise NotFound("no_such_application", "no such application")
    return application_id


# -- catalog and validation ------------------------------------------------------------------


async def catalog(request: web.Request) -> web.Response:
    """Procedures, shared keys, household columns, conditions and life events."""
    await require_account(request, *STAFF)
    return web.json_response(request.app[CATALOG].to_json())


async def validate(request: web.Request) -> web.Response:
    """The bundle's layout (write-once fields, each form's own), its field issues and its
    書かない figure, without submitting: ``{"bundle": {...}}`` as for a submission."""
    await require_account(request, *SPECIALIST)
    body = await read_json(request, MAX_APPLICATION_BODY)
    submission = parse_submission(body.get("bundle"), request.app[CATALOG])
    validated = validate_submission(submission, today=_today())
    entries = count_entries(submission.bundle, validated.forms, submission.provenance)
    return web.json_response(
        {
            "ok": validated.ok,
            "fields": issues_json(validated.issues),
            "entries": entries.to_json(),
            "bundle": submission.bundle.to_json(),
        }
    )


# -- submitting ------------------------------------------------------------------------------


async def submit(request: web.Request) -> web.Response:
    account = await require_account(request, *SPECIALIST)
    body = await read_json(request, MAX_APPLICATION_BODY)
    application_id, session_id, bundle = (
        body.get("application_id"),
        body.get("session_id"),
        body.get("bundle"),
    )
    if not isinstance(application_id, str) or not UUID.fullmatch(application_id):
        raise BadRequest("bad_application_id", "application_id is a lower-case UUID")
    if not isinstance(session_id, str) or not SESSION_ID.fullmatch(session_id):
        raise BadRequest("bad_session_id", "session_id is the id of the session")
    if not isinstance(bundle, dict):
        raise BadRequest("bad_bundle", "bundle is an object")
    return await _submit_bundle(request, account, application_id, session_id, bundle)


async def submit_draft(request: web.Request) -> web.Response:
    """``POST /api/intake/sessions/{session_id}/submit {"application_id"}``: submit the session's
    draft (:mod:`hub.forms.drafts`) as it stands on the hub, the My Number from the sealed card read
    included — it never travels through the browser. Idempotent on the application id."""
    account = await require_account(request, *SPECIALIST)
    body = await read_json(request, 4096)
    application_id = body.get("application_id")
    session_id = request.match_info["session_id"]
    if not isinstance(application_id, str) or not UUID.fullmatch(application_id):
        raise BadRequest("bad_application_id", "application_id is a lower-case UUID")
    if not SESSION_ID.fullmatch(session_id):
        raise BadRequest("bad_session_id", "session_id is the id of the session")
    drafts = request.app[DRAFTS]
    try:
        draft = await drafts.load(session_id)
    except VaultError:
        raise Unavailable("personal_data_unavailable", "the draft cannot be opened") from None
    if not draft["procedures"]:
        raise Unprocessable("no_procedures", "choose the procedures first", extra={"fields": []})
    return await _submit_bundle(request, account, application_id, session_id, drafts.bundle(draft))


async def _submit_bundle(
    request: web.Request,
    account: Account,
    application_id: str,
    session_id: str,
    bundle: dict[str, Any],
) -> web.Response:
    view = await request.app[STORE].get(session_id)  # NoSuchSession: 404
    if not view.takes_part(account.username):
        raise NotAllowed("not_your_session", "you do not take part in this session")
    catalog_ = request.app[CATALOG]
    submission = parse_submission(bundle, catalog_)  # FormsError: 422
    validated = validate_submission(submission, today=_today())
    if not validated.ok:
        raise Unprocessable(
            "invalid_bundle",
            f"{len(validated.issues)} field(s) to correct",
            extra={"fields": issues_json(validated.issues)},
        )
    record = {
        "application_id": application_id,
        "session_id": session_id,
        "submitted_by": account.username,
        "submitted_at": time.time(),
        "branch_id": view.branch_id,
        "terminal_id": view.terminal_id,
        **submission_record(submission, validated),
    }
    record = _seal_numbers(record, catalog_, request.app[PERSONAL].vault)
    intake = request.app[INTAKE]
    try:
        submitted = await intake.submit(
            json.dumps(record, ensure_ascii=False, separators=(",", ":")),
            application_id,
            session_id=session_id,
            submitted_by=account.username,
            digest=_digest(session_id, bundle),
        )
    except IntakeError as exc:
        if exc.code == "not_durable":  # the intake's word; the hub's answer names the intake
            raise Unavailable("intake_not_durable", exc.message) from None
        raise
    pdfs = request.app[PDFS]
    if submitted.created:
        pdfs.schedule(record)
        state = State.QUEUED.value
    else:
        status, stored = await intake.get(application_id)
        state = status.state.value
        if not pdf_path(pdfs.data_dir, application_id).exists():
            pdfs.schedule(stored)
        record = stored
    log.info(
        "session %s: application %s %s by %s (%s)",
        session_id,
        application_id,
        "queued" if submitted.created else "repeated",
        account.username,
        ",".join(record.get("procedures", [])),
    )
    return web.json_response(
        {
            "application_id": application_id,
            "entry_id": submitted.entry_id,
            "created": submitted.created,
            "state": state,
            "entries": record.get("entries"),
            "pdf": f"/api/intake/applications/{application_id}/pdf",
        },
        status=201 if submitted.created else 200,
    )


# -- reading ---------------------------------------------------------------------------------


async def list_applications(request: web.Request) -> web.Response:
    await require_account(request, *READERS)
    state = request.query.get("state") or None
    if state is not None and state not in {s.value for s in State}:
        raise BadRequest("bad_state", f"state is one of {', '.join(s.value for s in State)}")
    try:
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 500:
        raise BadRequest("bad_limit", "limit is 1-500")
    intake = request.app[INTAKE]
    statuses = await intake.list(state, limit=limit)
    return web.json_response(
        {"applications": [s.to_json() for s in statuses], "counts": await intake.counts()}
    )


async def _readable(request: web.Request) -> tuple[Any, dict[str, Any], Account]:
    account = await require_account(request, *STAFF)
    application_id = _application_id(request)
    status, record = await request.app[INTAKE].get(application_id)
    if account.role not in READERS and status.submitted_by != account.username:
        raise NotAllowed("not_allowed", "for the back office, supervisors and the submitter")
    return status, record, account


def masked(record: Mapping[str, Any], catalog: Catalog) -> dict[str, Any]:
    """The record with every Individual Number masked (for whoever does not process it)."""
    forms_ = record.get("forms")
    if not isinstance(forms_, dict):
        return dict(record)
    out: dict[str, Any] = {}
    for pid, values in forms_.items():
        procedure = catalog.procedures.get(pid)
        if not isinstance(values, dict) or procedure is None:
            out[pid] = values
            continue
        out[pid] = {
            fid: mask_my_number(str(v))
            if (spec := procedure.field(fid)) is not None and spec.type == "my_number"
            else v
            for fid, v in values.items()
        }
    return {**record, "forms": out}


def _seal_numbers(record: dict[str, Any], catalog: Catalog, vault: Vault) -> dict[str, Any]:
    """The record as the intake keeps it: each Individual Number masked in the forms, and sealed
    under the data key beside them (``sealed``: ``{"procedure.field": sealed}``), so neither the
    stream nor Redis's AOF holds it in clear."""
    forms_ = record.get("forms") or {}
    sealed: dict[str, str] = {}
    app_id = str(record["application_id"])
    for pid, values in forms_.items():
        procedure = catalog.procedures.get(pid)
        if procedure is None or not isinstance(values, dict):
            continue
        for fid, value in values.items():
            spec = procedure.field(fid)
            if spec is not None and spec.type == "my_number" and value:
                sealed[f"{pid}.{fid}"] = vault.seal_text(str(value), f"intake:{app_id}:{pid}.{fid}")
    out = masked(record, catalog)
    if sealed:
        out["sealed"] = sealed
    return out


def _open_numbers(record: dict[str, Any], vault: Vault) -> tuple[dict[str, Any], list[str]]:
    """The record with its sealed Individual Numbers opened, and the fields opened."""
    sealed = record.get("sealed")
    if not isinstance(sealed, dict):
        return record, []
    forms_ = {pid: dict(v) for pid, v in (record.get("forms") or {}).items()}
    app_id = str(record.get("application_id"))
    for name, value in sealed.items():
        pid, _, fid = name.partition(".")
        if pid in forms_:
            forms_[pid][fid] = vault.open_text(value, f"intake:{app_id}:{name}")
    out = {k: v for k, v in record.items() if k != "sealed"}
    return {**out, "forms": forms_}, list(sealed)


async def get_application(request: web.Request) -> web.Response:
    """Status and record; the Individual Number only for the back office, who processes it
    (opened from its seal, audited)."""
    status, record, account = await _readable(request)
    if account.role not in BACKOFFICE:
        record = {k: v for k, v in masked(record, request.app[CATALOG]).items() if k != "sealed"}
        return web.json_response({**status.to_json(), "record": record})
    try:
        record, opened = _open_numbers(record, request.app[PERSONAL].vault)
    except VaultError:
        raise Unavailable(
            "personal_data_unavailable", "the sealed number cannot be opened"
        ) from None
    if opened:
        await audit.record(
            request.app[REDIS],
            actor=account.username,
            role=account.role,
            action="intake.view",
            session_id=str(record.get("session_id", "")),
            terminal_id=str(record.get("terminal_id", "")),
            fields=opened,
        )
    return web.json_response({**status.to_json(), "record": record})


async def get_pdf(request: web.Request) -> web.StreamResponse:
    _, record, _ = await _readable(request)
    pdfs = request.app[PDFS]
    path = pdf_path(pdfs.data_dir, str(record.get("application_id")))
    if not path.exists():
        path = await pdfs.render(record)  # PdfError: 503
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'inline; filename="{path.name}"',
            "Cache-Control": "no-store",
        },
    )


async def session_applications(request: web.Request) -> web.Response:
    """What became of a session's applications: the notice its console and terminal show."""
    account = await require_account(request, *STAFF)
    session_id = request.match_info["session_id"]
    if not SESSION_ID.fullmatch(session_id):
        raise NotFound("no_such_session", "no such session")
    if account.role in ("specialist", "branch_staff"):
        view = await request.app[STORE].get(session_id)  # NoSuchSession: 404
        mine = view.takes_part(account.username) or (
            account.role == "branch_staff" and view.branch_id == account.branch_id
        )
        statuses = await request.app[INTAKE].for_session(session_id)
        if not mine and not any(s.submitted_by == account.username for s in statuses):
            raise NotAllowed("not_allowed", "not a session of yours")
    else:
        statuses = await request.app[INTAKE].for_session(session_id)
    return web.json_response(
        {
            "session_id": session_id,
            "applications": [
                {
                    "application_id": s.application_id,
                    "entry_id": s.entry_id,
                    "state": s.state.value,
                    "reason": s.reason,
                    "submitted_at": s.submitted_at,
                    "updated_at": s.updated_at,
                }
                for s in statuses
            ],
        }
    )


# -- the back office ---------------------------------------------------------------------------


async def returned_to_me(request: web.Request) -> web.Response:
    """``GET /api/intake/returned`` (specialist): the applications they submitted that the back
    office returned, newest first, with the reason: the notice a specialist acts on."""
    account = await require_account(request, *SPECIALIST)
    statuses = await request.app[INTAKE].list(State.RETURNED.value, limit=500)
    mine = [s.to_json() for s in reversed(statuses) if s.submitted_by == account.username]
    return web.json_response({"applications": mine[:50]})


async def claim(request: web.Request) -> web.Response:
    """The next application for this back-office user (its consumer is their username)."""
    account = await require_account(request, *BACKOFFICE)
    claimed = await request.app[INTAKE].claim_next(account.username)
    if claimed is None:
        return web.json_response({"application": None, "dead_lettered": []})
    return web.json_response(
        {
            "application": {**claimed.status.to_json(), "record": claimed.record},
            "dead_lettered": list(claimed.dead_lettered),
        }
    )


async def done(request: web.Request) -> web.Response:
    account = await require_account(request, *BACKOFFICE)
    application_id = _application_id(request)
    intake = request.app[INTAKE]
    status = await intake.done(await intake.entry_id_of(application_id), by=account.username)
    return web.json_response(status.to_json())


async def return_(request: web.Request) -> web.Response:
    account = await require_account(request, *BACKOFFICE)
    application_id = _application_id(request)
    body = await read_json(request, 16 * 1024)
    reason = body.get("reason")
    if not isinstance(reason, str):
        raise Unprocessable("bad_reason", "reason is a string")
    intake = request.app[INTAKE]
    entry_id = await intake.entry_id_of(application_id)
    status = await intake.return_(entry_id, reason, by=account.username)
    return web.json_response(status.to_json())
