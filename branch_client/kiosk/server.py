"""The resident's kiosk page, served by the terminal on localhost only.

The terminal's own browser shows it full-screen. Requests that change something must carry the
``X-Madoguchi-Kiosk`` header, which a page from any other origin cannot send without a CORS
preflight that this server never grants.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

import signaling as sig
from branch_client.terminal import Terminal

STATIC_DIR = Path(__file__).resolve().parent / "static"
TERMINAL = web.AppKey("terminal", Terminal)
_BOUNDARY = "madoguchi-frame"
SIGNATURE_BYTES = 48 * 1024

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"error": code}, status=status)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "POST" and request.headers.get("X-Madoguchi-Kiosk") != "1":
        return _error(403, "missing_kiosk_header")
    response = await handler(request)
    response.headers.setdefault("Content-Security-Policy", _CSP)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


async def status(request: web.Request) -> web.Response:
    return web.json_response(request.app[TERMINAL].snapshot())


async def _body(request: web.Request, limit: int) -> dict[str, Any] | None:
    """The JSON object posted (``{}`` for any other JSON value), or ``None`` when it is not JSON
    or longer than ``limit``."""
    try:
        body = json.loads(await request.content.read(limit + 1) or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else {}


async def start(request: web.Request) -> web.Response:
    body = await _body(request, 4096)
    if body is None:
        return _error(400, "bad_json")
    purpose = body.get("purpose")
    if not isinstance(purpose, str) or not _offered(request.app[TERMINAL], purpose):
        return _error(400, "unknown_purpose")
    await request.app[TERMINAL].start_session(purpose)
    return web.json_response(request.app[TERMINAL].snapshot())


def _offered(terminal: Terminal, purpose: str) -> bool:
    """A purpose the hub told the terminal it may offer (the catalog's); before the hub has
    said, any the hub could take (a catalog key's form): it checks the purpose itself."""
    if terminal.purposes is not None:
        return any(p.id == purpose for p in terminal.purposes)
    try:
        sig.decode(sig.SessionStart, {"purpose": purpose})
    except sig.ProtocolError:
        return False
    return True


async def end(request: web.Request) -> web.Response:
    await request.app[TERMINAL].end_session()
    return web.json_response(request.app[TERMINAL].snapshot())


async def rate(request: web.Request) -> web.Response:
    body = await _body(request, 4096)
    if body is None:
        return _error(400, "bad_json")
    score = body.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        return _error(400, "bad_score")
    if not await request.app[TERMINAL].rate(score):
        return _error(409, "not_rateable")
    return web.json_response(request.app[TERMINAL].snapshot())


async def card_pin(request: web.Request) -> web.Response:
    """The resident's PIN, from the kiosk page to the card reader on this machine. Never logged:
    the kiosk's access log is off and the body is read here only."""
    body = await _body(request, 256)
    if body is None:
        return _error(400, "bad_json")
    pin = body.get("pin")
    if not isinstance(pin, str) or len(pin) != 4 or not pin.isascii() or not pin.isdigit():
        return _error(400, "invalid_pin")
    if not await request.app[TERMINAL].card_pin(pin):
        return _error(409, "no_pin_asked")
    return web.json_response(request.app[TERMINAL].snapshot())


async def review(request: web.Request) -> web.Response:
    body = await _body(request, 1024)
    if body is None or not isinstance(body.get("form"), str):
        return _error(400, "bad_request")
    confirmed = body.get("confirmed") is True
    terminal = request.app[TERMINAL]
    if (terminal.form_task or {}).get("procedure") != body["form"]:
        return _error(409, "no_review_asked")
    if not await terminal.review_answer(body["form"], confirmed):
        return _error(503, "hub_unreachable")
    return web.json_response(request.app[TERMINAL].snapshot())


async def sign(request: web.Request) -> web.Response:
    try:  # the one rule for a signature, the hub's too: refused here, the pad stays
        signature = sig.decode(sig.Signature, await _body(request, SIGNATURE_BYTES))
    except sig.ProtocolError:
        return _error(400, "bad_signature")
    terminal = request.app[TERMINAL]
    if (terminal.form_task or {}).get("kind") != "sign":
        return _error(409, "no_signature_asked")
    if not await terminal.signed(signature):
        return _error(503, "hub_unreachable")  # the pad stays: sign again when it is back
    return web.json_response(request.app[TERMINAL].snapshot())


async def document_capture(request: web.Request) -> web.Response:
    """The resident's 「この向きで撮る」 while placing a page."""
    if not request.app[TERMINAL].documents.shoot():
        return _error(409, "no_document_asked")
    return web.json_response(request.app[TERMINAL].snapshot())


async def document_page(request: web.Request) -> web.Response:
    """A page this terminal captured, for the kiosk to show the specialist's mark on it."""
    data = request.app[TERMINAL].documents.pages.get(request.match_info["document_id"])
    if data is None:
        return _error(404, "no_such_page")
    return web.Response(body=data, content_type="image/jpeg")


async def card_cancel(request: web.Request) -> web.Response:
    await request.app[TERMINAL].card_cancel()
    return web.json_response(request.app[TERMINAL].snapshot())


async def speaker_test(request: web.Request) -> web.Response:
    played = await request.app[TERMINAL].test_speaker()
    return web.json_response({"played": played})


async def video(request: web.Request) -> web.StreamResponse:
    """Motion-JPEG of the resident's own picture or the specialist's video (see local_media)."""
    terminal = request.app[TERMINAL]
    tap = {
        "self": terminal.self_view,
        "staff": terminal.staff_view,
        "document": terminal.documents.view,
    }[request.match_info["which"]]
    response = web.StreamResponse(
        headers={
            "Content-Type": f"multipart/x-mixed-replace; boundary={_BOUNDARY}",
            "Cache-Control": "no-store",
            "Content-Security-Policy": _CSP,
        }
    )
    await response.prepare(request)
    try:
        async for jpeg in tap.stream():
            head = (
                f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            )
            await response.write(head.encode() + jpeg + b"\r\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the kiosk page went away or the terminal stops
    return response


def create_kiosk_app(terminal: Terminal) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=SIGNATURE_BYTES + 1024)
    app[TERMINAL] = terminal
    app.router.add_get("/", index)
    app.router.add_get("/api/status", status)
    app.router.add_post("/api/start", start)
    app.router.add_post("/api/end", end)
    app.router.add_post("/api/rate", rate)
    app.router.add_post("/api/speaker-test", speaker_test)
    app.router.add_post("/api/card/pin", card_pin)
    app.router.add_post("/api/card/cancel", card_cancel)
    app.router.add_post("/api/review", review)
    app.router.add_post("/api/sign", sign)
    app.router.add_get("/video/{which:self|staff|document}.mjpg", video)
    app.router.add_post("/api/document/capture", document_capture)
    app.router.add_get("/api/document/page/{document_id}.jpg", document_page)
    app.router.add_static("/static/", STATIC_DIR)
    return app
