"""Residents' paper documents: pages the terminal captured, kept on the hub for the session's staff.

Theory of operation. A specialist asks for a document (``document.capture``, passed to the
terminal); the terminal photographs it, finds and straightens the page, reports its progress
(``document.status``, passed to the staff) and uploads two variants of the page over HTTP: the
*corrected* page (cropped, straightened, what staff read) and the camera's *original* still
(fetched only on demand). The hub checks each upload — the sender is the session's terminal, the
session is live, the body is no larger than its variant allows, its SHA-256 is the one declared,
it is a JPEG, PNG or WebP by its own bytes, and its header gives sane dimensions — then writes it
atomically, records it in Redis and, for a corrected page, tells the session's staff and the
terminal (``document.added``). Staff who take part in the session fetch pages over HTTP; every
upload, view and deletion is in the audit stream (:mod:`hub.personal.audit`). A staff member may
point the resident at a region of a page (``document.mark``, passed to the terminal).

The HTTP routes (upload, download, list) are in :mod:`hub.documents.api`; this module is the
service behind them and behind the signaling messages: the checks, the files, the records.

Document id. ``d-`` and the first 24 hex digits of SHA-256 over ``session_id``, ``group`` and
``page``: both variants of a page share it whichever arrives first, and a re-capture of the page
keeps it (the console reloads the picture when ``document.added`` comes again). The id names a
place, not a content: the contents are named by their SHA-256.

Storage. Files in ``{data_dir}/documents/{session_id}/{sha256}.{jpg|png|webp}``, each written to
a temporary file in the same directory, fsynced and renamed (with the directory fsynced after),
so a file of that name is always complete; a failed upload leaves nothing. Every hub of a
deployment must see the same ``data_dir/documents`` (the same machine, or a shared file system):
any hub may be asked for any page. Redis keys (named by :mod:`hub.redis_keys`):

===================================  ==========================================================
``mdg:doc:{document_id}``            hash: session_id, terminal_id, group, page, width, height
                                     (of the corrected page), ``{variant}_sha``, ``_mime``,
                                     ``_file``, ``_size``, ``_width``, ``_height``, ``_at``,
                                     uploaded_at (first upload), announced (sha last announced)
``mdg:session_docs:{session_id}``    zset of document ids by first upload time
``mdg:doc_expiry``                   zset of ``{session_id}/{document_id}`` by deletion time
``mdg:lock:docs:{session_id}``       short lock while a session's documents change
``mdg:lock:doc_retention``           the hub that deletes expired documents this minute
===================================  ==========================================================

Retention. A page is deleted ``session_retention_s`` after its last upload (the session's own
retention): once a minute one hub (holding ``mdg:lock:doc_retention``) deletes what is due —
files first, then the records. Temporary files a crashed upload left behind are removed after
an hour.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import ClientPayloadError, StreamReader, web
from PIL import ImageFile, JpegImagePlugin, PngImagePlugin, WebPImagePlugin
from redis.exceptions import RedisError

import signaling as sig
from hub import lua, redis_keys
from hub.accounts.store import Account
from hub.errors import HubError, Refused
from hub.personal import audit
from hub.sessions.service import Sessions
from hub.sessions.store import NoSuchSession, SessionView, Store

log = logging.getLogger(__name__)

VARIANTS: Final = ("corrected", "original")
MAX_BYTES: Final = {"corrected": 15 * 1024 * 1024, "original": 40 * 1024 * 1024}
"""Largest body per variant; larger uploads are refused (413) as soon as they cross it."""
MAX_PIXELS: Final = 100_000_000
MAX_SIDE: Final = 20_000
"""Beyond either, an image is refused (413 ``image_too_large``) from its header alone."""
MAX_PAGE: Final = 200
CHUNK: Final = 256 * 1024
RETENTION_EVERY_S: float = 60.0
"""How often each hub tries to take the retention lock (tests shorten it)."""
STALE_UPLOAD_S: Final = 3600.0
RETENTION_BATCH: Final = 200
RETENTION_BATCHES: Final = 10
"""At most this many batches a minute; the rest waits for the next minute."""
SESSION_LOCK_MS: Final = 15_000

IDENT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_DOCUMENT_ID: Final = re.compile(r"d-[0-9a-f]{24}")
SHA256_HEX: Final = re.compile(r"[0-9a-f]{64}")
_EXTENSIONS: Final = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_PARSERS: Final[Mapping[str, type[ImageFile.ImageFile]]] = {
    "image/jpeg": JpegImagePlugin.JpegImageFile,
    "image/png": PngImagePlugin.PngImageFile,
    "image/webp": WebPImagePlugin.WebPImageFile,
}


@functools.cache
def scripts() -> dict[str, lua.Script]:
    """``hub/lua/documents``: ``release`` (a lock, only by its holder); read once per process."""
    return lua.load("documents")


class DocumentError(HubError):
    """An upload or a download refused, with its own HTTP status (``status=``)."""


# -- pure parts -------------------------------------------------------------------------------


def document_id(session_id: str, group: str, page: int) -> str:
    """The id both variants of a page share (see the module's docstring)."""
    digest = hashlib.sha256(f"{session_id}\x00{group}\x00{page}".encode()).hexdigest()
    return f"d-{digest[:24]}"


def sniff(head: bytes) -> str | None:
    """The image type by its first bytes (12 are enough), or None for anything else."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def probe(path: Path, mime: str) -> tuple[int, int]:
    """Width and height from the image's header, without decoding its pixels.

    The parser is the one of the type the bytes announced, used directly rather than through
    ``Image.open`` so that no other format is tried and Pillow's process-wide decompression-bomb
    warning does not fire: the limits are checked here. Anything the parser chokes on — it
    raises several kinds of errors for a broken header — is a corrupt image."""
    try:
        with path.open("rb") as fp, _PARSERS[mime](fp) as image:
            width, height = image.size
    except Exception as exc:
        raise DocumentError(
            "corrupt_image",
            f"the image's header does not read ({type(exc).__name__})",
            status=400,
        ) from None
    if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
        raise DocumentError(
            "image_too_large",
            f"{width}×{height} is over {MAX_PIXELS // 1_000_000} megapixels "
            f"or {MAX_SIDE} pixels a side",
            status=413,
        )
    return width, height


@dataclass(frozen=True)
class Target:
    """Where an upload goes, from the route."""

    session_id: str
    group: str
    page: int
    variant: str

    @property
    def document_id(self) -> str:
        return document_id(self.session_id, self.group, self.page)

    @classmethod
    def parse(cls, match: Mapping[str, str]) -> Target:
        session_id, group = match.get("session_id", ""), match.get("group", "")
        page, variant = match.get("page", ""), match.get("variant", "")
        if not IDENT.fullmatch(session_id) or not IDENT.fullmatch(group):
            raise DocumentError("bad_request", "session and group are ids", status=400)
        if not page.isascii() or not page.isdigit() or not 1 <= int(page) <= MAX_PAGE:
            raise DocumentError("bad_request", f"page is 1 to {MAX_PAGE}", status=400)
        if variant not in VARIANTS:
            raise DocumentError("bad_request", "variant is corrected or original", status=400)
        return cls(session_id, group, int(page), variant)


@dataclass(frozen=True)
class Variant:
    sha256: str
    mime: str
    file: str
    size: int
    width: int
    height: int
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "mime": self.mime,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "uploaded_at": self.at,
        }


@dataclass(frozen=True)
class Document:
    """A page as recorded in ``mdg:doc:{id}``."""

    id: str
    session_id: str
    terminal_id: str
    group: str
    page: int
    uploaded_at: float
    corrected: Variant | None
    original: Variant | None
    announced: str

    def variant(self, name: str) -> Variant | None:
        return self.corrected if name == "corrected" else self.original

    def to_json(self) -> dict[str, Any]:
        return {
            "document_id": self.id,
            "session_id": self.session_id,
            "group": self.group,
            "page": self.page,
            "width": self.corrected.width if self.corrected else None,
            "height": self.corrected.height if self.corrected else None,
            "uploaded_at": self.uploaded_at,
            "corrected": self.corrected.to_json() if self.corrected else None,
            "original": self.original.to_json() if self.original else None,
        }

    def added_message(self) -> sig.DocumentAdded | None:
        if self.corrected is None:
            return None
        return sig.DocumentAdded(
            session_id=self.session_id,
            document_id=self.id,
            group=self.group,
            page=self.page,
            width=self.corrected.width,
            height=self.corrected.height,
            has_original=self.original is not None,
        )


def decode_document(doc_id: str, raw: Mapping[str, str]) -> Document | None:
    """A record as stored (written only by this module), or None when there is none."""
    if not raw.get("session_id"):
        return None

    def variant(name: str) -> Variant | None:
        if not raw.get(f"{name}_sha"):
            return None
        return Variant(
            sha256=raw[f"{name}_sha"],
            mime=raw.get(f"{name}_mime", ""),
            file=raw.get(f"{name}_file", ""),
            size=int(raw.get(f"{name}_size", "0")),
            width=int(raw.get(f"{name}_width", "0")),
            height=int(raw.get(f"{name}_height", "0")),
            at=float(raw.get(f"{name}_at", "0")),
        )

    return Document(
        id=doc_id,
        session_id=raw["session_id"],
        terminal_id=raw.get("terminal_id", ""),
        group=raw.get("group", ""),
        page=int(raw.get("page", "0")),
        uploaded_at=float(raw.get("uploaded_at", "0")),
        corrected=variant("corrected"),
        original=variant("original"),
        announced=raw.get("announced", ""),
    )


# -- the upload's body -----------------------------------------------------------------------


@dataclass
class Received:
    """A body written to a temporary file next to where it will be kept."""

    path: Path
    sha256: str = ""
    mime: str = ""
    size: int = 0

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


async def receive(content: StreamReader, directory: Path, limit: int) -> Received:
    """Stream the body to a temporary file in ``directory``, hashing it on the way; refuse it as
    soon as it is longer than ``limit`` or its first bytes are not an image's. On any refusal the
    temporary file is gone."""
    fd, name = _temporary_file(directory)
    received = Received(Path(name))
    try:
        digest, head = hashlib.sha256(), b""
        with os.fdopen(fd, "wb") as out:
            async for chunk in content.iter_chunked(CHUNK):
                received.size += len(chunk)
                if received.size > limit:
                    raise DocumentError("too_large", f"at most {limit} bytes", status=413)
                if not received.mime:
                    head = (head + chunk)[:12]
                    if len(head) >= 12:
                        received.mime = _sniffed(head)
                digest.update(chunk)
                out.write(chunk)  # into the page cache: quick; the fsync below is the slow part
            if not received.mime:
                received.mime = _sniffed(head)
            out.flush()
            await asyncio.to_thread(os.fsync, out.fileno())
        received.sha256 = digest.hexdigest()
    except (ClientPayloadError, ConnectionResetError) as exc:
        received.discard()
        raise DocumentError("incomplete_body", f"the body broke off ({exc})", status=400) from None
    except BaseException:
        received.discard()
        raise
    return received


def _temporary_file(directory: Path) -> tuple[int, str]:
    def make() -> tuple[int, str]:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        return tempfile.mkstemp(prefix=".upload-", suffix=".part", dir=directory)

    try:
        return make()
    except FileNotFoundError:  # a refused upload removed the empty directory meanwhile
        return make()


def _sniffed(head: bytes) -> str:
    mime = sniff(head)
    if mime is None:
        raise DocumentError("not_an_image", "a JPEG, PNG or WebP image, please", status=415)
    return mime


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the service -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    document: Document
    variant: str
    outcome: str  # "stored" | "replaced" | "repeat"

    def to_json(self) -> dict[str, Any]:
        return {**self.document.to_json(), "variant": self.variant, "outcome": self.outcome}


class Documents:
    def __init__(
        self,
        redis: aioredis.Redis,
        store: Store,
        sessions: Sessions,
        data_dir: Path,
        retention_s: int,
    ) -> None:
        self.redis = redis
        self.store = store
        self.sessions = sessions
        self.root = data_dir / "documents"
        self.retention_s = retention_s
        self._release = scripts()["release"]

    def session_dir(self, session_id: str) -> Path:
        return self.root / session_id

    # -- signaling ------------------------------------------------------------------------------

    async def capture(self, user: str, message: sig.DocumentCapture) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)
        log.info("session %s: document capture asked by %s", view.id, user)
        await self.sessions.to_terminal(view.terminal_id, message)

    async def mark(self, user: str, message: sig.DocumentMark) -> None:
        view = await self.sessions.live_for_staff(user, message.session_id)
        owner = await self.redis.hget(redis_keys.document(message.document_id), "session_id")
        if owner != view.id:
            raise Refused("no_such_document", "no such document in this session")
        if not message.clear and (
            message.w <= 0
            or message.h <= 0
            or message.x + message.w > 10_000
            or message.y + message.h > 10_000
        ):
            raise Refused("bad_region", "a region inside the page, in ten-thousandths")
        await self.sessions.to_terminal(view.terminal_id, message)

    async def status(self, terminal_id: str, message: sig.DocumentStatus) -> None:
        view = await self.sessions.live_for_terminal(terminal_id, message.session_id)
        if message.error:
            log.info("session %s: document capture failed: %s", view.id, message.error)
        for member in view.staff:
            await self.sessions.to_staff(member, message)

    # -- uploads --------------------------------------------------------------------------------

    async def upload_view(self, terminal_id: str, session_id: str) -> SessionView:
        """The session an upload names, if it is this terminal's and live."""
        # Not its own, or none: NoSuchSession (404); not connected or on hold: Refused (409).
        return await self.sessions.live_for_terminal(terminal_id, session_id)

    async def commit(
        self, view: SessionView, target: Target, received: Received, size: tuple[int, int]
    ) -> Stored:
        """Keep a checked upload: audit, rename into place, record; announce a new corrected
        page. The same content again changes nothing."""
        doc_id, variant = target.document_id, target.variant
        name = f"{received.sha256}.{_EXTENSIONS[received.mime]}"
        directory = self.session_dir(view.id)
        async with self._session_lock(view.id):
            now = time.time()
            before = decode_document(doc_id, await self.redis.hgetall(redis_keys.document(doc_id)))
            previous = before.variant(variant) if before else None
            if previous is not None and previous.sha256 == received.sha256:
                outcome = "repeat" if (directory / previous.file).exists() else "replaced"
            else:
                outcome = "stored" if previous is None else "replaced"
            await audit.record(
                self.redis,
                actor=view.terminal_id,
                role="terminal",
                action="document.upload",
                session_id=view.id,
                terminal_id=view.terminal_id,
                fields=[f"{doc_id}:{variant}"],
                outcome=outcome,
                now=now,
            )
            if outcome != "repeat":
                await asyncio.to_thread(_place, received.path, directory / name)
                await self._record(view, target, received, name, size, now)
                if previous is not None and previous.file != name:
                    await self._drop_unreferenced(view.id, previous.file)
            raw = await self.redis.hgetall(redis_keys.document(doc_id))
            document = decode_document(doc_id, raw)
        if document is None:  # deleted meanwhile by the retention (only with tiny retentions)
            raise DocumentError("illegal_state", "the document was just deleted", status=409)
        log.info(
            "session %s: document %s %s %s (%d bytes, %s)",
            view.id,
            doc_id,
            variant,
            outcome,
            received.size,
            received.mime,
        )
        await self._announce(view, document, variant, outcome)
        return Stored(document, variant, outcome)

    async def _record(
        self,
        view: SessionView,
        target: Target,
        received: Received,
        name: str,
        size: tuple[int, int],
        now: float,
    ) -> None:
        doc_id, v = target.document_id, target.variant
        fields: dict[str, str | int] = {
            "session_id": view.id,
            "terminal_id": view.terminal_id,
            "group": target.group,
            "page": target.page,
            f"{v}_sha": received.sha256,
            f"{v}_mime": received.mime,
            f"{v}_file": name,
            f"{v}_size": received.size,
            f"{v}_width": size[0],
            f"{v}_height": size[1],
            f"{v}_at": f"{now:.3f}",
        }
        if v == "corrected":
            fields.update(width=size[0], height=size[1])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(redis_keys.document(doc_id), mapping=fields)
            pipe.hsetnx(redis_keys.document(doc_id), "uploaded_at", f"{now:.3f}")
            pipe.zadd(redis_keys.session_documents(view.id), {doc_id: now}, nx=True)
            pipe.zadd(redis_keys.document_expiry(), {f"{view.id}/{doc_id}": now + self.retention_s})
            await pipe.execute()

    async def _announce(
        self, view: SessionView, document: Document, variant: str, outcome: str
    ) -> None:
        """A new corrected page goes to the staff and the terminal (also on a retry, if the
        first attempt stored it but never told anyone); an original that comes after its
        corrected page tells the staff it can now be opened."""
        added, corrected = document.added_message(), document.corrected
        if added is None or corrected is None:
            return
        if variant == "corrected" and document.announced != corrected.sha256:
            for member in view.staff:
                await self.sessions.to_staff(member, added)
            await self.sessions.to_terminal(view.terminal_id, added)
            await self.redis.hset(redis_keys.document(document.id), "announced", corrected.sha256)
        elif variant == "original" and outcome != "repeat":
            for member in view.staff:
                await self.sessions.to_staff(member, added)

    async def _drop_unreferenced(self, session_id: str, name: str) -> None:
        """Delete a session's file unless a page of the session still uses it (two pages may
        have the same content). Called under the session's lock."""
        ids = await self.redis.zrange(redis_keys.session_documents(session_id), 0, -1)
        if ids:
            async with self.redis.pipeline(transaction=False) as pipe:
                for doc_id in ids:
                    pipe.hmget(redis_keys.document(doc_id), ["corrected_file", "original_file"])
                used = {f for pair in await pipe.execute() for f in pair if f}
            if name in used:
                return
        with contextlib.suppress(FileNotFoundError):
            (self.session_dir(session_id) / name).unlink()

    # -- reading --------------------------------------------------------------------------------

    async def document(self, doc_id: str) -> Document | None:
        if not _DOCUMENT_ID.fullmatch(doc_id):
            return None
        return decode_document(doc_id, await self.redis.hgetall(redis_keys.document(doc_id)))

    async def session_documents(self, session_id: str) -> list[Document]:
        ids = await self.redis.zrange(redis_keys.session_documents(session_id), 0, -1)
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for doc_id in ids:
                pipe.hgetall(redis_keys.document(doc_id))
            raws = await pipe.execute()
        found = [decode_document(i, raw) for i, raw in zip(ids, raws, strict=True)]
        return [d for d in found if d is not None]

    async def viewable(self, account: Account, session_id: str) -> SessionView:
        """The session, if this staff member takes part in it; else it does not exist."""
        try:
            view = await self.store.get(session_id)
        except NoSuchSession:
            raise DocumentError("no_such_document", "no such document", status=404) from None
        if not view.takes_part(account.username):
            raise DocumentError("no_such_document", "no such document", status=404)
        return view

    # -- retention ------------------------------------------------------------------------------

    async def expire_due(self, now: float) -> int:
        """Delete the pages whose time is up, if this hub holds the retention lock; returns
        how many were deleted."""
        token = secrets.token_hex(8)
        lock = redis_keys.document_retention_lock()
        if not await self.redis.set(lock, token, nx=True, px=50_000):
            return 0
        deleted = 0
        try:
            for _ in range(RETENTION_BATCHES):
                due = await self.redis.zrangebyscore(
                    redis_keys.document_expiry(), "-inf", now, start=0, num=RETENTION_BATCH
                )
                for member in due:
                    session_id, _, doc_id = member.partition("/")
                    deleted += await self._delete(session_id, doc_id, member, now)
                if len(due) < RETENTION_BATCH:
                    break
        finally:
            await self._release(self.redis, [token], keys=[lock])
        return deleted

    async def _delete(self, session_id: str, doc_id: str, member: str, now: float) -> int:
        async with self._session_lock(session_id):
            due_at = await self.redis.zscore(redis_keys.document_expiry(), member)
            if due_at is None or due_at > now:  # uploaded again meanwhile
                return 0
            raw = await self.redis.hgetall(redis_keys.document(doc_id))
            document = decode_document(doc_id, raw)
            await audit.record(
                self.redis,
                actor="hub",
                role="hub",
                action="document.delete",
                session_id=session_id,
                terminal_id=document.terminal_id if document else "",
                fields=[doc_id],
                outcome="retention",
                now=now,
            )
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(redis_keys.document(doc_id))
                pipe.zrem(redis_keys.session_documents(session_id), doc_id)
                pipe.zrem(redis_keys.document_expiry(), member)
                await pipe.execute()
            for variant in (document.corrected, document.original) if document else ():
                if variant is not None:
                    await self._drop_unreferenced(session_id, variant.file)
            with contextlib.suppress(OSError):  # not empty: other pages, or an upload going on
                self.session_dir(session_id).rmdir()
        log.info("session %s: document %s deleted (retention)", session_id, doc_id)
        return 1

    def remove_stale_uploads(self, now: float) -> int:
        """Temporary files older than an hour: left by an upload the hub died during."""
        removed = 0
        for part in self.root.glob("*/.upload-*.part"):
            with contextlib.suppress(FileNotFoundError):
                if now - part.stat().st_mtime > STALE_UPLOAD_S:
                    part.unlink()
                    removed += 1
        return removed

    # -- helpers --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _session_lock(self, session_id: str) -> AsyncIterator[None]:
        """Changes to one session's documents, one at a time across hubs (milliseconds each)."""
        key, token = redis_keys.documents_lock(session_id), secrets.token_hex(8)
        deadline = time.monotonic() + SESSION_LOCK_MS / 1000
        while not await self.redis.set(key, token, nx=True, px=SESSION_LOCK_MS):
            if time.monotonic() > deadline:
                raise DocumentError(
                    "busy", "the session's documents are busy; try again", status=503
                )
            await asyncio.sleep(0.01)
        try:
            yield
        finally:
            await self._release(self.redis, [token], keys=[key])


def _place(temporary: Path, final: Path) -> None:
    os.replace(temporary, final)
    _fsync_dir(final.parent)


async def retention(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx: delete expired documents once a minute (one hub at a time)."""
    stop = asyncio.Event()

    async def run() -> None:
        documents = app[DOCUMENTS]
        last_stale = 0.0
        while not stop.is_set():
            try:
                now = time.time()
                await documents.expire_due(now)
                if now - last_stale > STALE_UPLOAD_S:
                    last_stale = now
                    await asyncio.to_thread(documents.remove_stale_uploads, now)
            except (RedisError, OSError) as exc:
                log.warning("document retention: %s; retrying", exc)
            except Exception:
                log.exception("document retention failed; carrying on")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RETENTION_EVERY_S)

    task = asyncio.create_task(run(), name="document retention")
    yield
    stop.set()
    try:
        await asyncio.wait_for(task, 5.0)
    except TimeoutError:
        task.cancel()


DOCUMENTS: Final = web.AppKey("documents", Documents)
