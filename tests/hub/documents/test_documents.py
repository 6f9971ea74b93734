"""Documents through the real hub app on loopback and a real Redis: the terminal uploads pages
over HTTP, the session's staff are told and fetch them, everything is audited, nothing
half-stored is ever kept, and pages go when their retention is up."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import struct
import time
import zlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image, ImageDraw

import signaling as sig
from hub import keys
from hub.accounts.store import add_account
from hub.app import create_app
from hub.config import HubConfig
from hub.documents import store as documents_module
from hub.documents.store import MAX_BYTES, Documents, document_id
from hub.personal.audit import records
from hub.sessions.store import Store

PASSWORD = "correct horse battery"
Client = TestClient[Any, Any]


# -- images ------------------------------------------------------------------------------------


def jpeg(width: int = 640, height: int = 900, text: str = "転入届") -> bytes:
    """A page-like JPEG: white paper, a frame and a line of text (so contents differ by text)."""
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, width - 20, height - 20), outline="black", width=3)
    draw.text((40, 40), text.encode("unicode_escape").decode(), fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def png(width: int = 320, height: int = 200) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 180, 160)).save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` (nothing behind it decodes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def sha(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# -- the hub, a terminal and staff -------------------------------------------------------------


async def _seed(redis_url: str) -> tuple[str, str]:
    r = aioredis.from_url(redis_url, decode_responses=True)
    await add_account(r, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin"])
    await add_account(r, "tanaka", PASSWORD, "specialist", "田中", skills=["juumin"])
    await add_account(r, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    store = Store(r)
    token = await store.enroll_terminal("kita-01", "kita", "北支所 1")
    other = await store.enroll_terminal("kita-02", "kita", "北支所 2")
    await r.aclose()
    return token, other


@dataclass
class Hub:
    client: Client
    token: str  # kita-01's device token
    other_token: str  # kita-02's
    data_dir: Path
    redis_url: str
    documents: Documents

    @property
    def documents_dir(self) -> Path:
        return self.data_dir / "documents"

    def files(self) -> list[str]:
        """Every file under the documents directory, temporary ones included."""
        if not self.documents_dir.exists():
            return []
        return sorted(str(p.relative_to(self.documents_dir)) for p in self.documents_dir.rglob("*"))


async def _hub(redis_url: str, tmp_path: Path, **config: Any) -> AsyncIterator[Hub]:
    token, other = await _seed(redis_url)
    data_dir = tmp_path / "hub"
    app = create_app(HubConfig(redis_url=redis_url, data_dir=data_dir, hub_id="hub-t", **config))
    client = TestClient(TestServer(app))
    await client.start_server()
    yield Hub(client, token, other, data_dir, redis_url, app[keys.DOCUMENTS])
    await client.close()


@pytest.fixture
async def hub(redis_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    async for h in _hub(redis_url, tmp_path):
        yield h


class Peer:
    """A signaling socket, reading past messages a test does not care about."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: sig.Message) -> None:
        await self.ws.send_str(sig.encode(message))

    async def next_of(self, *kinds: type[Any], where: Callable[[Any], bool] = bool) -> Any:
        while True:
            message = sig.parse_message(await self.ws.receive_str(timeout=5))
            if isinstance(message, kinds) and where(message):
                return message


@contextlib.asynccontextmanager
async def staff_http(hub: Hub, user: str | None) -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client of its own (its own cookie jar), logged in as ``user`` unless None."""
    client = hub.client
    origin = {"Origin": f"http://{client.host}:{client.port}"}
    async with aiohttp.ClientSession(
        base_url=client.make_url(""), cookie_jar=aiohttp.CookieJar(unsafe=True), headers=origin
    ) as http:
        if user is not None:
            res = await http.post("/api/login", json={"username": user, "password": PASSWORD})
            assert res.status == 200
        yield http


@contextlib.asynccontextmanager
async def staff_ws(hub: Hub, user: str) -> AsyncIterator[Peer]:
    async with staff_http(hub, user) as http:
        ws = await http.ws_connect("/ws")
        peer = Peer(ws)
        assert await peer.next_of(sig.Hello) == sig.Hello(role="staff", peer_id=user)
        try:
            yield peer
        finally:
            await ws.close()


@contextlib.asynccontextmanager
async def terminal_ws(hub: Hub, token: str | None = None) -> AsyncIterator[Peer]:
    ws = await hub.client.ws_connect(
        "/ws", headers={"Authorization": f"Bearer {token or hub.token}"}
    )
    peer = Peer(ws)
    await peer.next_of(sig.Hello)
    try:
        yield peer
    finally:
        await ws.close()


@dataclass
class Call:
    terminal: Peer
    staff: Peer
    session_id: str


@contextlib.asynccontextmanager
async def in_call(hub: Hub) -> AsyncIterator[Call]:
    """kita-01's resident talking to suzuki (signaling only: documents need no media)."""
    async with terminal_ws(hub) as terminal, staff_ws(hub, "suzuki") as staff:
        await terminal.send(sig.SessionStart(purpose="moving"))
        waiting = await terminal.next_of(sig.SessionWaiting)
        await staff.send(sig.SpecialistSetState(state="available"))
        offered = await staff.next_of(sig.SessionOffered)
        await staff.send(sig.SessionAccept(session_id=offered.session_id))
        await staff.next_of(sig.SessionAssigned)
        await terminal.next_of(sig.SessionConnected)
        yield Call(terminal, staff, waiting.session_id)


async def put(
    hub: Hub,
    path: str,
    body: Any,
    *,
    token: str | None = None,
    checksum: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """PUT a page as the terminal does; ``checksum`` defaults to the body's own."""
    sent = {"Authorization": f"Bearer {token or hub.token}"}
    if isinstance(body, bytes):
        sent["X-Content-SHA256"] = checksum if checksum is not None else sha(body)
    elif checksum is not None:
        sent["X-Content-SHA256"] = checksum
    sent.update(headers or {})
    res = await hub.client.put(f"/api/documents/{path}", data=body, headers=sent)
    return res.status, await res.json()


async def trail(hub: Hub, session_id: str) -> list[tuple[str, str, tuple[str, ...], str]]:
    r = aioredis.from_url(hub.redis_url, decode_responses=True)
    found = await records(r, session_id=session_id)
    await r.aclose()
    return [(a.action, a.actor, a.fields, a.outcome) for a in found]


async def redis_keys(hub: Hub, pattern: str) -> list[str]:
    r = aioredis.from_url(hub.redis_url, decode_responses=True)
    found = sorted([k async for k in r.scan_iter(match=pattern)])
    await r.aclose()
    return found


# -- uploads -------------------------------------------------------------------------------------


async def test_a_page_is_stored_announced_served_and_audited(hub: Hub) -> None:
    page, original = jpeg(text="page one"), png(1600, 1200)
    async with in_call(hub) as call, staff_http(hub, "suzuki") as suzuki:
        sid = call.session_id
        status, body = await put(hub, f"{sid}/g1/1/corrected", page)
        doc = document_id(sid, "g1", 1)
        assert status == 201, body
        assert body["document_id"] == doc and body["outcome"] == "stored"
        assert (body["width"], body["height"]) == (640, 900)
        assert body["corrected"]["sha256"] == sha(page) and body["original"] is None

        added = sig.DocumentAdded(
            session_id=sid, document_id=doc, group="g1", page=1, width=640, height=900
        )
        assert await call.staff.next_of(sig.DocumentAdded) == added
        assert await call.terminal.next_of(sig.DocumentAdded) == added

        # The original after its corrected page: the staff learn they can open it.
        status, body = await put(hub, f"{sid}/g1/1/original", original)
        assert status == 201 and body["document_id"] == doc, body
        assert body["original"]["width"] == 1600 and body["original"]["mime"] == "image/png"
        again = await call.staff.next_of(sig.DocumentAdded)
        assert again.has_original and again.document_id == doc

        res = await suzuki.get(f"/api/documents/{doc}/corrected")
        assert res.status == 200
        assert await res.read() == page
        assert res.headers["Content-Type"] == "image/jpeg"
        assert res.headers["Cache-Control"] == "private, no-store"
        assert res.headers["X-Content-Type-Options"] == "nosniff"
        res = await suzuki.get(f"/api/documents/{doc}/original")
        assert res.status == 200 and res.headers["Content-Type"] == "image/png"
        assert await res.read() == original

        res = await suzuki.get(f"/api/sessions/{sid}/documents")
        assert res.status == 200 and res.headers["Cache-Control"] == "private, no-store"
        listed = (await res.json())["documents"]
        assert [(d["document_id"], d["group"], d["page"]) for d in listed] == [(doc, "g1", 1)]
        assert listed[0]["corrected"]["sha256"] == sha(page)
        assert listed[0]["original"]["sha256"] == sha(original)

    assert hub.files() == sorted([sid, f"{sid}/{sha(page)}.jpg", f"{sid}/{sha(original)}.png"])
    r = aioredis.from_url(hub.redis_url, decode_responses=True)
    record = await r.hgetall(f"mdg:doc:{doc}")
    index = await r.zrange(f"mdg:session_docs:{sid}", 0, -1)
    await r.aclose()
    assert record["session_id"] == sid and record["group"] == "g1" and record["page"] == "1"
    assert record["corrected_sha"] == sha(page) and record["corrected_mime"] == "image/jpeg"
    assert record["original_sha"] == sha(original) and float(record["uploaded_at"]) > 0
    assert index == [doc]
    assert await trail(hub, sid) == [
        ("document.upload", "kita-01", (f"{doc}:corrected",), "stored"),
        ("document.upload", "kita-01", (f"{doc}:original",), "stored"),
        ("document.view", "suzuki", (f"{doc}:corrected",), "ok"),
        ("document.view", "suzuki", (f"{doc}:original",), "ok"),
        ("document.view", "suzuki", ("list",), "ok"),
    ]


async def test_a_retry_changes_nothing_and_a_recapture_replaces(hub: Hub) -> None:
    first, second = jpeg(text="first take"), jpeg(text="second take")
    async with in_call(hub) as call:
        sid = call.session_id
        doc = document_id(sid, "g1", 1)
        assert (await put(hub, f"{sid}/g1/1/corrected", first))[0] == 201
        await call.staff.next_of(sig.DocumentAdded)
        await call.terminal.next_of(sig.DocumentAdded)

        status, body = await put(hub, f"{sid}/g1/1/corrected", first)
        assert status == 200 and body["outcome"] == "repeat" and body["document_id"] == doc
        # Not announced again: the next document message each side gets is a later one.
        await call.terminal.send(sig.DocumentStatus(session_id=sid, step="done"))
        assert isinstance(
            await call.staff.next_of(sig.DocumentAdded, sig.DocumentStatus), sig.DocumentStatus
        )
        await call.staff.send(sig.DocumentCapture(session_id=sid, group="g1"))
        assert isinstance(
            await call.terminal.next_of(sig.DocumentAdded, sig.DocumentCapture),
            sig.DocumentCapture,
        )
        assert hub.files() == [sid, f"{sid}/{sha(first)}.jpg"]

        # A different content for the same page is a re-capture: it replaces the first.
        status, body = await put(hub, f"{sid}/g1/1/corrected", second)
        assert status == 201 and body["outcome"] == "replaced" and body["document_id"] == doc
        assert body["corrected"]["sha256"] == sha(second)
        assert (await call.staff.next_of(sig.DocumentAdded)).document_id == doc
        assert (await call.terminal.next_of(sig.DocumentAdded)).document_id == doc
        assert hub.files() == [sid, f"{sid}/{sha(second)}.jpg"]

        # Two pages with the same picture share its file; replacing one keeps the other's.
        assert (await put(hub, f"{sid}/g1/2/corrected", second))[0] == 201
        assert (await put(hub, f"{sid}/g1/2/corrected", first))[0] == 201
        assert hub.files() == [sid, f"{sid}/{sha(first)}.jpg", f"{sid}/{sha(second)}.jpg"]

    assert await redis_keys(hub, "mdg:doc:*") == sorted(
        [f"mdg:doc:{doc}", f"mdg:doc:{document_id(sid, 'g1', 2)}"]
    )
    outcomes = [(f[0], o) for a, _, f, o in await trail(hub, sid) if a == "document.upload"]
    assert outcomes == [
        (f"{doc}:corrected", "stored"),
        (f"{doc}:corrected", "repeat"),
        (f"{doc}:corrected", "replaced"),
        (f"{document_id(sid, 'g1', 2)}:corrected", "stored"),
        (f"{document_id(sid, 'g1', 2)}:corrected", "replaced"),
    ]


async def _chunks(total: int, size: int = 1 << 20) -> AsyncIterator[bytes]:
    head = jpeg()
    yield head
    sent = len(head)
    while sent < total:
        n = min(size, total - sent)
        yield b"\0" * n
        sent += n


async def test_refused_uploads_leave_nothing_behind(hub: Hub) -> None:
    page = jpeg()
    corrupt = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    big = bytes(MAX_BYTES["corrected"] + 1)
    async with in_call(hub) as call, staff_http(hub, "suzuki") as suzuki:
        sid = call.session_id
        cases: list[tuple[str, Any, dict[str, Any], int, str]] = [
            ("checksum mismatch", page, {"checksum": sha(b"other")}, 400, "checksum_mismatch"),
            ("checksum not hex", page, {"checksum": "zz" * 32}, 400, "checksum_mismatch"),
            ("no checksum", page, {"checksum": ""}, 400, "missing_checksum"),
            ("a PDF", b"%PDF-1.7\n" + bytes(200), {}, 415, "not_an_image"),
            ("a GIF", b"GIF89a" + bytes(200), {}, 415, "not_an_image"),
            ("empty", b"", {}, 415, "not_an_image"),
            ("too large, declared", io.BytesIO(big), {"checksum": sha(big)}, 413, "too_large"),
            (
                "too large, streamed",
                _chunks(MAX_BYTES["corrected"] + 1),
                {"checksum": "0" * 64},
                413,
                "too_large",
            ),
            ("corrupt header", corrupt, {}, 400, "corrupt_image"),
            ("truncated header", page[:300], {}, 400, "corrupt_image"),
            ("108 megapixels", png_header_only(12_000, 9_000), {}, 413, "image_too_large"),
            ("too wide", png_header_only(20_001, 10), {}, 413, "image_too_large"),
        ]
        for what, body, extra, status, code in cases:
            got = await put(hub, f"{sid}/g1/1/corrected", body, **extra)
            assert got[0] == status and got[1]["error"] == code, (what, got)
            assert hub.files() == [], (what, hub.files())

        # The route itself.
        for path, status, code in [
            (f"{sid}/g1/1/thumbnail", 400, "bad_request"),
            (f"{sid}/g1/0/corrected", 400, "bad_request"),
            (f"{sid}/g1/201/corrected", 400, "bad_request"),
            (f"{sid}/-g/1/corrected", 400, "bad_request"),
        ]:
            got = await put(hub, path, page)
            assert (got[0], got[1]["error"]) == (status, code), (path, got)

        # Only a device token uploads: not a bad one, not a staff login (Origin or not).
        assert (await put(hub, f"{sid}/g1/1/corrected", page, token="kita-01.nope"))[0] == 401
        res = await suzuki.put(
            f"/api/documents/{sid}/g1/1/corrected",
            data=page,
            headers={"X-Content-SHA256": sha(page)},
        )
        assert (res.status, (await res.json())["error"]) == (401, "unauthenticated")
        res = await hub.client.put(f"/api/documents/{sid}/g1/1/corrected", data=page)
        assert (res.status, (await res.json())["error"]) == (403, "cross_origin")

        # Nothing was kept, and the one good upload after all that works.
        assert hub.files() == []
        assert await redis_keys(hub, "mdg:doc*") == []
        assert (await put(hub, f"{sid}/g1/1/corrected", page))[0] == 201
        assert hub.files() == [sid, f"{sid}/{sha(page)}.jpg"]

    refused = [o for a, _, _, o in await trail(hub, sid) if a == "document.upload"]
    assert refused[:3] == [
        "refused:checksum_mismatch",
        "refused:checksum_mismatch",
        "refused:missing_checksum",
    ]
    assert refused[-1] == "stored" and len(refused) == 12 + 1  # bad routes: no session known


async def test_an_upload_cut_off_midway_leaves_nothing(hub: Hub) -> None:
    page = jpeg()
    async with in_call(hub) as call:
        sid = call.session_id
        _reader, writer = await asyncio.open_connection(hub.client.host, hub.client.port)
        head = (
            f"PUT /api/documents/{sid}/g1/1/corrected HTTP/1.1\r\n"
            f"Host: {hub.client.host}\r\nAuthorization: Bearer {hub.token}\r\n"
            f"X-Content-SHA256: {sha(page)}\r\nContent-Length: {len(page) + 100_000}\r\n\r\n"
        )
        writer.write(head.encode() + page)
        await writer.drain()
        deadline = time.monotonic() + 5
        while not any(".part" in f for f in hub.files()):  # the hub is receiving it
            assert time.monotonic() < deadline, hub.files()
            await asyncio.sleep(0.02)
        writer.close()
        await writer.wait_closed()
        while hub.files() not in ([], [sid]):
            assert time.monotonic() < deadline, hub.files()
            await asyncio.sleep(0.02)
        assert await redis_keys(hub, "mdg:doc*") == []


async def test_only_the_sessions_own_terminal_uploads_and_only_while_live(hub: Hub) -> None:
    page = jpeg()
    async with terminal_ws(hub) as terminal:
        await terminal.send(sig.SessionStart(purpose="moving"))
        waiting = await terminal.next_of(sig.SessionWaiting)
        sid = waiting.session_id
        got = await put(hub, f"{sid}/g1/1/corrected", page)
        assert (got[0], got[1]["error"]) == (409, "illegal_state")  # waiting: nobody to see it

        async with staff_ws(hub, "suzuki") as staff:
            await staff.send(sig.SpecialistSetState(state="available"))
            await staff.next_of(sig.SessionOffered)
            await staff.send(sig.SessionAccept(session_id=sid))
            await terminal.next_of(sig.SessionConnected)

            for token, path in [
                (hub.other_token, f"{sid}/g1/1/corrected"),  # another terminal's session
                (hub.token, "s-no-such-session/g1/1/corrected"),
            ]:
                got = await put(hub, path, page, token=token)
                assert (got[0], got[1]["error"]) == (404, "no_such_session"), path

            await staff.send(sig.SessionEnd(session_id=sid, reason="completed"))
            await terminal.next_of(sig.SessionEnded)
            got = await put(hub, f"{sid}/g1/1/corrected", page)
            assert (got[0], got[1]["error"]) == (409, "illegal_state")
    assert hub.files() == []


# -- downloads -----------------------------------------------------------------------------------


async def test_only_staff_in_the_session_see_its_documents(hub: Hub) -> None:
    page = jpeg()
    async with in_call(hub) as call:
        sid = call.session_id
        doc = (await put(hub, f"{sid}/g1/1/corrected", page))[1]["document_id"]
        for user, status in [("suzuki", 200), ("tanaka", 404), ("sato", 404), (None, 401)]:
            async with staff_http(hub, user) as http:
                for path in [
                    f"/api/documents/{doc}/corrected",
                    f"/api/sessions/{sid}/documents",
                ]:
                    res = await http.get(path)
                    assert res.status == status, (user, path)
                    if status == 404:
                        assert (await res.json())["error"] == "no_such_document"
        async with staff_http(hub, "suzuki") as suzuki:
            for path in [
                f"/api/documents/{doc}/original",  # not uploaded
                f"/api/documents/{doc}/thumbnail",
                "/api/documents/d-000000000000000000000000/corrected",
                "/api/sessions/s-nope/documents",
            ]:
                assert (await suzuki.get(path)).status == 404, path
        # The terminal's token opens no document.
        res = await hub.client.get(
            f"/api/documents/{doc}/corrected", headers={"Authorization": f"Bearer {hub.token}"}
        )
        assert res.status == 401

        # A colleague who joins sees them too.
        async with staff_ws(hub, "tanaka") as tanaka, staff_http(hub, "tanaka") as http:
            await tanaka.send(sig.SpecialistSetState(state="available"))
            await call.staff.send(sig.SessionInvite(session_id=sid, user="tanaka"))
            await tanaka.next_of(sig.SessionOffered)
            await tanaka.send(sig.SessionAccept(session_id=sid))
            await tanaka.next_of(sig.SessionAssigned)
            res = await http.get(f"/api/documents/{doc}/corrected")
            assert res.status == 200 and await res.read() == page

    viewers = [(actor, f) for a, actor, f, _ in await trail(hub, sid) if a == "document.view"]
    assert viewers == [
        ("suzuki", (f"{doc}:corrected",)),
        ("suzuki", ("list",)),
        ("tanaka", (f"{doc}:corrected",)),
    ]


# -- signaling -----------------------------------------------------------------------------------


async def test_capture_status_and_mark_are_passed_on(hub: Hub) -> None:
    async with in_call(hub) as call:
        sid = call.session_id
        capture = sig.DocumentCapture(session_id=sid)
        await call.staff.send(capture)
        assert await call.terminal.next_of(sig.DocumentCapture) == capture

        status = sig.DocumentStatus(session_id=sid, step="error", error="no_document")
        await call.terminal.send(status)
        assert await call.staff.next_of(sig.DocumentStatus) == status

        doc = (await put(hub, f"{sid}/g2/1/corrected", jpeg()))[1]["document_id"]
        mark = sig.DocumentMark(session_id=sid, document_id=doc, x=1000, y=2000, w=3000, h=500)
        await call.staff.send(mark)
        assert await call.terminal.next_of(sig.DocumentMark) == mark
        clear = sig.DocumentMark(session_id=sid, document_id=doc, clear=True)
        await call.staff.send(clear)
        assert await call.terminal.next_of(sig.DocumentMark) == clear

        refusals: list[tuple[Peer, sig.Message, str]] = [
            (
                call.staff,
                sig.DocumentMark(session_id=sid, document_id="d-" + "0" * 24, w=1, h=1),
                "no_such_document",
            ),
            (
                call.staff,
                sig.DocumentMark(session_id=sid, document_id=doc, x=9000, w=2000, h=9),
                "bad_region",
            ),
            (
                call.staff,
                sig.DocumentMark(session_id=sid, document_id=doc, w=0, h=10),
                "bad_region",
            ),
            (call.terminal, capture, "not_allowed"),
            (call.staff, sig.DocumentStatus(session_id=sid, step="done"), "not_allowed"),
        ]
        for peer, message, code in refusals:
            await peer.send(message)
            error = await peer.next_of(sig.ErrorReply)
            assert (error.code, error.ref_type) == (code, message.type), message

        async with staff_ws(hub, "tanaka") as tanaka:
            await tanaka.send(sig.DocumentCapture(session_id=sid))
            assert (await tanaka.next_of(sig.ErrorReply)).code == "no_such_session"
            await tanaka.send(mark)
            assert (await tanaka.next_of(sig.ErrorReply)).code == "no_such_session"
        # kita-02 reporting on kita-01's session
        async with terminal_ws(hub, hub.other_token) as other:
            await other.send(status)
            assert (await other.next_of(sig.ErrorReply)).code == "no_such_session"


# -- retention -----------------------------------------------------------------------------------


async def test_retention_deletes_files_and_records(
    redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(documents_module, "RETENTION_EVERY_S", 0.2)
    async for hub in _hub(redis_url, tmp_path, session_retention_s=2):
        page = jpeg()
        async with in_call(hub) as call, staff_http(hub, "suzuki") as suzuki:
            sid = call.session_id
            doc = (await put(hub, f"{sid}/g1/1/corrected", page))[1]["document_id"]
            assert (await put(hub, f"{sid}/g1/1/original", png()))[0] == 201
            assert len(hub.files()) == 3
            assert (await suzuki.get(f"/api/documents/{doc}/corrected")).status == 200

            # A temporary file a crashed upload left (an hour old) goes too.
            stale = hub.documents_dir / sid / ".upload-crashed.part"
            stale.write_bytes(b"half")
            os.utime(stale, (time.time() - 7200, time.time() - 7200))
            assert hub.documents.remove_stale_uploads(time.time()) == 1

            deadline = time.monotonic() + 10
            while hub.files():
                assert time.monotonic() < deadline, hub.files()
                await asyncio.sleep(0.1)
            assert await redis_keys(hub, "mdg:doc*") == []
            assert await redis_keys(hub, "mdg:session_docs:*") == []
            assert (await suzuki.get(f"/api/documents/{doc}/corrected")).status == 404
        deleted = [(a, f, o) for a, _, f, o in await trail(hub, sid) if a == "document.delete"]
        assert deleted == [("document.delete", (doc,), "retention")]


async def test_only_one_hub_deletes_at_a_time(hub: Hub) -> None:
    """The retention lock: while one hub holds it, another deletes nothing."""
    documents = hub.documents
    async with in_call(hub) as call:
        sid = call.session_id
        await put(hub, f"{sid}/g1/1/corrected", jpeg())
    later = time.time() + 91 * 86400
    r = aioredis.from_url(hub.redis_url, decode_responses=True)
    await r.set("mdg:lock:doc_retention", "another-hub", px=50_000)
    assert await documents.expire_due(later) == 0
    assert len(hub.files()) == 2
    await r.delete("mdg:lock:doc_retention")
    assert await documents.expire_due(later) == 1
    assert hub.files() == [] and await r.get("mdg:lock:doc_retention") is None
    await r.aclose()
