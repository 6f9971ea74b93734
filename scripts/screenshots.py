"""Take the screenshots in docs/img/ from a real local deployment and headless Chromium.

Usage: .venv/bin/python scripts/screenshots.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from bench.browser import CHROMIUM, CHROMIUM_ARGS, console_login  # noqa: E402
from hub.local_deployment import DEMO_PASSWORD, LocalDeployment  # noqa: E402

OUT = ROOT / "docs" / "img"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalDeployment(Path(tmp)) as dep,
        sync_playwright() as pw,
    ):
        assert dep.hub and dep.branch
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=dep.hub.url, viewport={"width": 1280, "height": 800})
        console = context.new_page()
        console.goto("/console/")
        console.screenshot(path=OUT / "console-login.png")
        console_login(console, "suzuki", DEMO_PASSWORD)

        staff = browser.new_context(base_url=dep.hub.url, viewport={"width": 1280, "height": 800})
        branch_page = staff.new_page()
        console_login(branch_page, "sato", DEMO_PASSWORD)
        branch_page.wait_for_selector("tr[data-terminal=kita-01]")
        branch_page.screenshot(path=OUT / "branch-view.png")

        kiosk = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        kiosk.goto(dep.branch.kiosk_url + "/")
        kiosk.wait_for_selector("#screen-idle:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-welcome.png")
        request = urllib.request.Request(  # noqa: S310 -- loopback
            dep.branch.kiosk_url + "/api/start",
            data=json.dumps({"purpose": "moving"}).encode(),
            method="POST",
            headers={"X-Madoguchi-Kiosk": "1"},
        )
        urllib.request.urlopen(request).close()  # noqa: S310
        kiosk.wait_for_selector("#screen-waiting:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-waiting.png")

        console.wait_for_selector("#ready:not([disabled])")
        console.click("#ready")
        console.wait_for_selector("#ring:not([hidden])")
        console.screenshot(path=OUT / "console-ringing.png")
        console.click("#accept")
        console.wait_for_selector("#status[data-phase=in_call]")
        time.sleep(1.5)
        console.screenshot(path=OUT / "console-call.png")
        kiosk.wait_for_selector("#screen-call:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-call.png")
        console.click("#end")
        kiosk.wait_for_selector("#screen-ended:not([hidden])")
        kiosk.screenshot(path=OUT / "kiosk-ended.png")
        browser.close()
    print("\n".join(sorted(str(p.relative_to(ROOT)) for p in OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
