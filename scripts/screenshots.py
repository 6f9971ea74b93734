"""Take the screenshots in docs/img/ from a real local deployment and headless Chromium.

Every kiosk screen is reached the way a resident reaches it (the card with the software card in
vpcd's reader through pcscd, which needs root or a running pcscd).

Usage: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.browser import (  # noqa: E402
    KIOSK_VIEWPORT,
    console_login,
    deployment_and_chromium,
    drag,
    wait_js,
)
from branch_client.card.pcsc_daemon import ensure_pcscd, wait_for_readers  # noqa: E402
from branch_client.card.reader import wait_for_card  # noqa: E402
from branch_client.card.software_card import DEMO_PIN, SoftwareCard  # noqa: E402
from madoguchi.local_deployment import DEMO_PASSWORD  # noqa: E402

OUT = ROOT / "docs" / "img"
VIEWPORT = KIOSK_VIEWPORT


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    daemon = ensure_pcscd()
    card = SoftwareCard()
    with deployment_and_chromium() as (dep, browser):
        assert dep.hub and dep.branch
        context = browser.new_context(base_url=dep.hub.url, viewport=VIEWPORT)
        console = context.new_page()
        console.goto("/console/")
        console.screenshot(path=OUT / "console-login.png")
        console_login(console, "suzuki", DEMO_PASSWORD)

        staff = browser.new_context(base_url=dep.hub.url, viewport=VIEWPORT)
        branch_page = staff.new_page()
        console_login(branch_page, "sato", DEMO_PASSWORD)
        branch_page.wait_for_selector("tr[data-terminal=kita-01]")
        branch_page.screenshot(path=OUT / "branch-view.png")

        kiosk = browser.new_context(viewport=VIEWPORT).new_page()
        kiosk.goto(dep.branch.kiosk_url + "/")
        kiosk.wait_for_selector("#screen-idle:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-welcome.png")
        kiosk.click("#lang")
        kiosk.screenshot(path=OUT / "kiosk-welcome-en.png")
        kiosk.click("#lang")
        kiosk.click("button[data-purpose=moving]")
        kiosk.wait_for_selector("#screen-check:not([hidden])")
        wait_js(kiosk, "document.getElementById('check-preview').naturalWidth > 0")
        wait_js(
            kiosk, "Number(document.getElementById('mic-meter').getAttribute('aria-valuenow')) > 0"
        )
        kiosk.screenshot(path=OUT / "kiosk-check.png")
        kiosk.click("#check-ok")
        kiosk.wait_for_selector("#screen-waiting:not([hidden])")
        wait_js(kiosk, "document.getElementById('ticket').textContent")
        kiosk.screenshot(path=OUT / "kiosk-waiting.png")

        console.wait_for_selector("#ready:not([disabled])")
        console.click("#ready")
        console.wait_for_selector("#ring:not([hidden])")
        console.screenshot(path=OUT / "console-ringing.png")
        console.click("#accept")
        console.wait_for_selector("#status[data-phase=in_call]")
        kiosk.wait_for_selector("#screen-call:not([hidden])")
        wait_js(kiosk, "Number(document.getElementById('staff-video').dataset.frames) > 20")
        wait_js(console, "window.madoguchiConsole.inboundStats().then(s => s.framesDecoded >= 30)")
        console.screenshot(path=OUT / "console-call.png")
        kiosk.screenshot(path=OUT / "kiosk-call.png")

        # The card: the specialist asks, the kiosk asks for the card, then the PIN.
        console.click("#apply-procedures")
        console.wait_for_selector("#card-with-number:not([disabled])")
        console.check("#card-with-number")
        console.click("#card-read")
        kiosk.wait_for_selector("#screen-card:not([hidden]) #card-insert:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-card-insert.png")
        wait_for_readers([card.reader_name])
        card.start()
        assert wait_for_card(card.reader_name, True, 5.0)
        kiosk.wait_for_selector("#pin-form:not([hidden])")
        for digit in DEMO_PIN[:2]:
            kiosk.click(f".keypad [data-key='{digit}']")
        kiosk.screenshot(path=OUT / "kiosk-card-pin.png")
        for digit in DEMO_PIN[2:]:
            kiosk.click(f".keypad [data-key='{digit}']")
        kiosk.click(".keypad .key-ok")
        wait_js(console, "window.madoguchiConsole.case.shared.name?.source === 'card'")
        console.locator("#case").scroll_into_view_if_needed()
        console.screenshot(path=OUT / "console-card.png", full_page=True)

        # The resident checks the form in large text, then signs once.
        console.click("button[data-review=tennyu_todoke]")
        kiosk.wait_for_selector("#screen-review:not([hidden])")
        time.sleep(0.3)  # a picture: the screen's transition ends (nothing to wait for in it)
        kiosk.screenshot(path=OUT / "kiosk-review.png", full_page=True)
        kiosk.click("#review-ok")
        wait_js(console, "window.madoguchiConsole.case.confirmed['tennyu_todoke'] === true")
        console.click("#ask-signature")
        kiosk.wait_for_selector("#screen-sign:not([hidden])")
        pad = kiosk.locator("#sign-pad").bounding_box()
        assert pad is not None
        strokes = ((0.12, 0.35, 0.30, 0.70), (0.34, 0.30, 0.48, 0.72), (0.55, 0.40, 0.85, 0.55))
        for x0, y0, x1, y1 in strokes:
            kiosk.mouse.move(pad["x"] + x0 * pad["width"], pad["y"] + y0 * pad["height"])
            kiosk.mouse.down()
            for i in range(1, 16):
                f = i / 15
                kiosk.mouse.move(
                    pad["x"] + (x0 + (x1 - x0) * f) * pad["width"],
                    pad["y"] + (y0 + (y1 - y0) * f + 0.08 * ((i % 4) - 1.5)) * pad["height"],
                )
            kiosk.mouse.up()
        kiosk.screenshot(path=OUT / "kiosk-sign.png")
        kiosk.click("#sign-ok")
        wait_js(console, "window.madoguchiConsole.case.signed === true")

        # A document: the kiosk shows the stand with the page's outline; the console the page.
        console.click("#doc-capture")
        kiosk.wait_for_selector("#screen-document:not([hidden])")
        wait_js(kiosk, "document.querySelector('#doc-outline polygon').getAttribute('points')")
        time.sleep(0.5)  # a picture: a few more frames of the live view under the outline
        kiosk.screenshot(path=OUT / "kiosk-document.png")
        kiosk.click("#doc-capture")
        wait_js(console, "window.madoguchiConsole.documents.pages.some(p => p.thumbLoaded)", 30)
        console.click("#doc-thumbs button >> nth=0")
        console.click("#doc-mark-mode")
        drag(console, "#doc-image", (0.15, 0.25), (0.7, 0.45))
        console.locator("#documents").scroll_into_view_if_needed()
        time.sleep(0.5)  # a picture: the scroll and the mark's fade-in end
        console.screenshot(path=OUT / "console-documents.png")
        kiosk.wait_for_selector("#screen-call:not([hidden])", timeout=15_000)
        kiosk.wait_for_selector("#mark-panel:not([hidden])")
        wait_js(kiosk, "document.getElementById('mark-page').naturalWidth > 0")
        kiosk.screenshot(path=OUT / "kiosk-mark.png", full_page=True)

        console.click("#end")
        kiosk.wait_for_selector("#screen-rating:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-rating.png")
        kiosk.click("button.rating[data-score='5']")
        kiosk.wait_for_selector("#screen-ended:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-ended.png")
    card.stop()
    daemon.stop()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
