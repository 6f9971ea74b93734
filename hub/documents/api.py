"""HTTP routes of the documents: the terminal uploads a page, staff fetch and list them.

Theory of operation: each handler finds out who calls (:func:`hub.web.device_terminal`,
:func:`hub.web.require_account`), hands the request to the service
(:class:`hub.documents.store.Documents`, which checks, stores and announces) and answers with
the result; a refusal is a :class:`hub.documents.store.DocumentError` (or another
:class:`hub.errors.HubError`) raised to the hub's middleware. A refused upload is audited here,
with its code, before the refusal goes on.

Routes:

- ``PUT /api/documents/{session_id}/{group}/{page}/{variant}`` — the terminal only
  (``Authorization: Bearer <device token>``; no cookie is ever looked at, so the Origin check
  does not apply, see :func:`is_terminal_upload`). ``variant`` is ``corrected`` (at most 15 MB)
  or ``original`` (at most 40 MB); ``page`` 1–200; ``group`` an id naming a multi-page document.
  Header ``X-Content-SHA256``: the body's SHA-256 in hex. Answers 201 with the document (a new
  page or a new content replacing the page: a re-capture), 200 for the same content again (a
  retry: nothing is written, nothing re-announced); 400 ``bad_request``, ``missing_checksum``,
  ``checksum_mismatch``, ``corrupt_image``; 401 ``unauthenticated``; 404 ``no_such_session``
  (not this terminal's, or none); 409 ``illegal_state`` (not connected or on hold); 413
  ``too_large``, ``image_too_large`` (over 100 megapixels or 20,000 pixels a side); 415
  ``not_an_image``.
- ``GET /api/documents/{document_id}/{variant}`` — staff taking part in the document's session
  (anyone else: 404 ``no_such_document``; no login: 401). The image with its own
  ``Content-Type``, ``Cache-Control: private, no-store`` and ``X-Content-Type-Options:
  nosniff``. Audited (``document.view``, field ``{document_id}:{variant}``).
- ``GET /api/sessions/{session_id}/documents`` — the same staff: ``{session_id, documents:
  [...]}`` in upload order (see :meth:`hub.documents.store.Document.to_json`). Audited
  (``document.view``, field ``list``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from aiohttp import web

from hub.documents.store import (
    DOCUMENTS,
    IDENT,
    MAX_BYTES,
    SHA256_HEX,
    VARIANTS,
    DocumentError,
    Target,
    probe,
    receive,
)
from hub.errors import HubError
from hub.personal import audit
from hub.sessions.store import SessionView
from hub.web import REDIS, device_terminal, require_account

log = logging.getLogger(__name__)

UPLOAD_PREFIX: Final = "/api/documents/"


def is_terminal_upload(request: web.Request) -> bool:
    """An upload carrying a device token. The route answers only to that token and never reads
    a cookie, and a page of another site cannot add the header without a CORS preflight this hub
    never grants: the Origin check (CSRF) does not apply, as for ``/api/terminals/enroll``."""
    return (
        request.method == "PUT"
        and request.path.startswith(UPLOAD_PREFIX)
        and request.headers.get("Authorization", "").startswith("Bearer ")
    )


async def upload(request: web.Request) -> web.Response:
    app = request.app
    terminal_id = await device_terminal(request)
    if terminal_id is None:
        raise DocumentError("unauthenticated", "a device token, please", status=401)
    documents = app[DOCUMENTS]
    view: SessionView | None = None
    target: Target | None = None
    try:
        target = Target.parse(request.match_info)
        view = await documents.upload_view(terminal_id, target.session_id)
        declared = request.headers.get("X-Content-SHA256", "").strip().lower()
        if not declared:
            raise DocumentError("missing_checksum", "X-Content-SHA256 is required", status=400)
        limit = MAX_BYTES[target.variant]
        if request.content_length is not None and request.content_length > limit:
            raise DocumentError("too_large", f"at most {limit} bytes", status=413)
        received = await receive(request.content, documents.session_dir(view.id), limit)
        try:
            if not SHA256_HEX.fullmatch(declared) or received.sha256 != declared:
                raise DocumentError(
                    "checksum_mismatch", "the body is not what was declared", status=400
                )
            size = await asyncio.to_thread(probe, received.path, received.mime)
            stored = await documents.commit(view, target, received, size)
        finally:
            received.discard()  # gone already when it was kept
    except HubError as exc:
        if view is not None and target is not None:
            log.info("session %s: upload refused: %s", view.id, exc.code)
            with contextlib.suppress(OSError):  # made for this upload, and empty: not kept
                documents.session_dir(view.id).rmdir()
            await audit.record(
                app[REDIS],
                actor=terminal_id,
                role="terminal",
                action="document.upload",
                session_id=view.id,
                terminal_id=terminal_id,
                fields=[f"{target.document_id}:{target.variant}"],
                outcome=f"refused:{exc.code}",
            )
        raise
    return web.json_response(stored.to_json(), status=200 if stored.outcome == "repeat" else 201)


async def download(request: web.Request) -> web.StreamResponse:
    documents = request.app[DOCUMENTS]
    account = await require_account(request)
    doc_id, variant = request.match_info["document_id"], request.match_info["variant"]
    document = await documents.document(doc_id)
    if document is None or variant not in VARIANTS:
        raise DocumentError("no_such_document", "no such document", status=404)
    view = await documents.viewable(account, document.session_id)
    stored = document.variant(variant)
    if stored is None:
        raise DocumentError("no_such_document", f"no {variant} for this page (yet)", status=404)
    path = documents.session_dir(view.id) / stored.file
    if not path.is_file():
        log.error("session %s: document %s %s is missing on disk", view.id, doc_id, variant)
        raise DocumentError("no_such_document", "the file is missing", status=404)
    await audit.record(
        request.app[REDIS],
        actor=account.username,
        role="staff",
        action="document.view",
        session_id=view.id,
        terminal_id=view.terminal_id,
        fields=[f"{doc_id}:{variant}"],
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": stored.mime,
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


async def list_documents(request: web.Request) -> web.Response:
    documents = request.app[DOCUMENTS]
    account = await require_account(request)
    session_id = request.match_info["session_id"]
    if not IDENT.fullmatch(session_id):
        raise DocumentError("no_such_document", "no such session", status=404)
    view = await documents.viewable(account, session_id)
    found = await documents.session_documents(view.id)
    await audit.record(
        request.app[REDIS],
        actor=account.username,
        role="staff",
        action="document.view",
        session_id=view.id,
        terminal_id=view.terminal_id,
        fields=["list"],
    )
    return web.json_response(
        {"session_id": view.id, "documents": [d.to_json() for d in found]},
        headers={"Cache-Control": "private, no-store"},
    )
