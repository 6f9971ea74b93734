"""A document seen by the specialist: the terminal's upload (over HTTP with its device token, as
the terminal does it) reaches the console's viewer at once; the page zooms to 400 %, turns,
opens its original on demand, and a region marked on it goes to the terminal."""

from __future__ import annotations

import hashlib
import io
import json
import time
import urllib.request
from typing import Any

import redis
from PIL import Image, ImageDraw
from playwright.sync_api import Page, Request

from bench.browser import drag, wait_js
from hub.redis_keys import peer_channel
from madoguchi.local_deployment import DEMO_TERMINAL, LocalDeployment
from madoguchi.waiting import wait_for

WIDTH, HEIGHT = 1200, 1600  # the corrected page
ORIGINAL = (2000, 1500)  # the camera's still


def page_image(size: tuple[int, int], label: str) -> bytes:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 30, size[0] - 30, size[1] - 30), outline="black", width=6)
    for row in range(60, size[1] - 60, 40):
        draw.text((60, row), f"{label} line {row}", fill="black")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def upload(deployment: LocalDeployment, path: str, body: bytes) -> dict[str, Any]:
    assert deployment.hub is not None
    request = urllib.request.Request(  # noqa: S310 -- loopback
        f"{deployment.hub.url}/api/documents/{path}",
        data=body,
        method="PUT",
        headers={
            "Authorization": f"Bearer {deployment.token}",
            "X-Content-SHA256": hashlib.sha256(body).hexdigest(),
            "Content-Type": "image/jpeg",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as res:  # noqa: S310 -- loopback
        assert res.status == 201
        return json.loads(res.read())  # type: ignore[no-any-return]


def viewer(page: Page) -> dict[str, Any]:
    return page.evaluate("window.madoguchiConsole.documents")  # type: ignore[no-any-return]


def next_relayed(pubsub: Any, kind: str, timeout: float = 10.0) -> dict[str, Any]:
    """The next message of this type the hub relayed to the terminal."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
        if message is not None:
            body = json.loads(message["data"])
            if body["type"] == kind:
                return body  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} reached the terminal")


def test_document_viewer(deployment: LocalDeployment, specialist_page: Page) -> None:
    branch, page = deployment.branch, specialist_page
    assert branch is not None and deployment.redis is not None
    store = redis.Redis.from_url(deployment.redis.url, decode_responses=True)
    to_terminal = store.pubsub()
    to_terminal.subscribe(peer_channel("terminal", DEMO_TERMINAL[0]))

    # A resident at the terminal, answered.
    branch.kiosk_post("/api/start", {"purpose": "moving"})
    page.click("#ready")
    page.wait_for_selector("#ring:not([hidden])")
    page.click("#accept")
    page.wait_for_selector("#documents:not([hidden]) #doc-capture")
    sid = page.evaluate("window.madoguchiConsole.sessionId")

    # The capture button asks the terminal.
    page.click("#doc-capture")
    assert next_relayed(to_terminal, "document.capture") == {
        "type": "document.capture",
        "session_id": sid,
        "group": None,
    }

    page_errors: list[str] = []
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    originals: list[str] = []

    def on_request(req: Request) -> None:
        if req.url.split("?")[0].endswith("/original"):
            originals.append(req.url)

    page.on("request", on_request)

    # The terminal uploads the corrected page: its thumbnail shows within a second.
    stored = upload(deployment, f"{sid}/g1/1/corrected", page_image((WIDTH, HEIGHT), "corrected"))
    uploaded_at = time.monotonic()
    doc = stored["document_id"]
    wait_for(
        lambda: any(p["thumbLoaded"] for p in viewer(page)["pages"]), "the thumbnail", timeout=5
    )
    shown_after = time.monotonic() - uploaded_at
    assert shown_after < 1.0, f"thumbnail after {shown_after:.2f} s"
    page.locator(f"#doc-thumbs button[data-document='{doc}']").click()
    wait_js(page, "window.madoguchiConsole.documents.image.loaded")
    state = viewer(page)
    assert state["current"] == doc and state["image"]["naturalWidth"] == WIDTH
    assert state["scale"] == state["fitScale"] and state["scale"] < 1  # fitted

    # 100 %, then up to 400 %: the picture's rendered size grows fourfold.
    page.click("#doc-actual")
    actual = viewer(page)["image"]
    assert abs(actual["width"] - WIDTH) < 1 and abs(actual["height"] - HEIGHT) < 1
    for _ in range(12):
        page.click("#doc-zoom-in")
    state = viewer(page)
    assert state["scale"] == 4
    assert abs(state["image"]["width"] - 4 * actual["width"]) < 1
    assert abs(state["image"]["height"] - 4 * actual["height"]) < 1
    page.click("#doc-zoom-in")
    assert viewer(page)["scale"] == 4  # no further

    # Dragging pans the page.
    page.locator("#doc-viewport").scroll_into_view_if_needed()
    before = page.locator("#doc-image").bounding_box()
    box = page.locator("#doc-viewport").bounding_box()
    assert before is not None and box is not None
    page.mouse.move(box["x"] + 300, box["y"] + 200)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 150, steps=4)
    page.mouse.up()
    after = page.locator("#doc-image").bounding_box()
    assert after is not None
    assert (round(after["x"] - before["x"]), round(after["y"] - before["y"])) == (-100, -50)

    # The wheel zooms too; "fit" brings the whole page back.
    page.click("#doc-fit")
    fitted = viewer(page)
    page.locator("#doc-viewport").scroll_into_view_if_needed()
    box = page.locator("#doc-viewport").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    wait_for(lambda: viewer(page)["scale"] > fitted["scale"] * 1.5, "the wheel to zoom in")
    page.click("#doc-fit")

    # A quarter turn: the page lies on its side, still fitted.
    page.click("#doc-rotate")
    turned = viewer(page)
    assert turned["rotation"] == 90
    assert abs(turned["image"]["width"] / turned["image"]["height"] - HEIGHT / WIDTH) < 0.01
    for _ in range(3):
        page.click("#doc-rotate")
    assert viewer(page)["rotation"] == 0

    # The original is fetched only when asked for.
    assert page.is_disabled("#doc-original")
    upload(deployment, f"{sid}/g1/1/original", page_image(ORIGINAL, "original"))
    wait_for(lambda: viewer(page)["pages"][0]["hasOriginal"], "the original to be announced")
    assert originals == []
    page.click("#doc-original")
    wait_js(page, "window.madoguchiConsole.documents.image.src.includes('/original')")
    wait_js(page, "window.madoguchiConsole.documents.image.loaded")
    state = viewer(page)
    assert (state["image"]["naturalWidth"], state["image"]["naturalHeight"]) == ORIGINAL
    assert len(originals) == 1 and state["variant"] == "original"
    assert page.is_disabled("#doc-mark-mode")  # marks are in the corrected page's coordinates
    page.click("#doc-original")
    wait_js(page, "window.madoguchiConsole.documents.image.src.includes('/corrected')")
    wait_js(page, "window.madoguchiConsole.documents.image.loaded")

    # A region drawn on the page goes to the terminal in ten-thousandths of the page.
    page.click("#doc-fit")
    page.click("#doc-mark-mode")
    page.locator("#doc-viewport").scroll_into_view_if_needed()
    drag(page, "#doc-image", (0.25, 0.5), (0.5, 0.55), (0.75, 0.6))
    mark = next_relayed(to_terminal, "document.mark")
    assert mark["session_id"] == sid and mark["document_id"] == doc and not mark["clear"]
    for key, expected in (("x", 2500), ("y", 5000), ("w", 5000), ("h", 1000)):
        assert abs(mark[key] - expected) <= 40, (key, mark)
    assert viewer(page)["mark"]["w"] == mark["w"]
    page.wait_for_selector("#doc-sheet .doc-mark:not([hidden])")
    status = branch.status()
    if "document_mark" in status:  # the terminal shows marks once its document screen has them
        wait_for(lambda: branch.status()["document_mark"], "the terminal to show the mark")

    page.click("#doc-mark-clear")
    cleared = next_relayed(to_terminal, "document.mark")
    assert cleared["clear"] and cleared["document_id"] == doc

    # In English too.
    page.click("#lang")
    assert page.inner_text("#doc-capture") == "Capture a document"
    page.click("#lang")
    assert page.inner_text("#doc-capture") == "書類を撮る"

    # Every look at the page is in the audit stream.
    views = [
        fields["fields"]
        for _, fields in store.xrange("mdg:audit")
        if fields["action"] == "document.view" and fields["actor"] == "suzuki"
    ]
    assert f"{doc}:corrected" in views and f"{doc}:original" in views and "list" in views
    assert page_errors == []
    to_terminal.close()
    store.close()
