"""Debian's Chromium driven by Playwright for Python: no browser download, fake media devices.

The benchmarks, the screenshot scripts and the end-to-end tests drive the staff console and the
kiosk through these helpers, so a page is logged in, polled and launched one way everywhere.
Playwright is imported only when a browser is launched: ``madoguchi bench`` without it still
runs the benchmarks that need no browser.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from madoguchi.local_deployment import DEMO_PASSWORD, LocalDeployment
from madoguchi.waiting import wait_for

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright, ViewportSize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    # The terminal offers loopback ICE candidates only; let Chromium pair with them.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]
KIOSK_VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
"""The kiosk's screen."""


def launch_chromium(pw: Playwright) -> Browser:
    """Headless Debian Chromium with the flags above."""
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def deployment_and_chromium() -> Iterator[tuple[LocalDeployment, Browser]]:
    """A :class:`LocalDeployment` in a temporary directory and a Chromium to drive it; both
    stopped (and the directory removed) on the way out."""
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="mdg-bench-") as tmp,
        LocalDeployment(Path(tmp)) as dep,
        sync_playwright() as pw,
    ):
        browser = launch_chromium(pw)
        try:
            yield dep, browser
        finally:
            browser.close()


def console_login(page: Page, username: str, password: str) -> None:
    """Log ``page`` (at the hub's base URL) in to the staff console, signaling online."""
    page.goto("/console/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("#link-state[data-state=online]", state="attached")


def specialist_ready(page: Page) -> None:
    """The demo specialist (suzuki) logged in on ``page`` and made available: rung next."""
    console_login(page, "suzuki", DEMO_PASSWORD)
    page.wait_for_selector("#ready:not([disabled])")
    page.click("#ready")


def drag(page: Page, selector: str, *points: tuple[float, float], steps: int = 5) -> None:
    """Drag the mouse across the element ``selector`` through ``points``, each a fraction of
    its box (``(0, 0)`` its top-left corner, ``(1, 1)`` its bottom-right), as a finger or a
    mouse marking a region does."""
    box = page.locator(selector).bounding_box()
    assert box is not None, f"{selector} is not shown"
    (x, y), *path = [
        (box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points
    ]
    page.mouse.move(x, y)
    page.mouse.down()
    for x, y in path:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()


def wait_js(page: Page, expression: str, timeout: float = 20.0) -> None:
    """Poll a page expression (it may be a promise) from Python until it is truthy. (Playwright's
    ``wait_for_function`` evaluates strings in the page, which the pages' strict CSP rightly
    forbids.)"""
    wait_for(
        lambda: page.evaluate(f"async () => Boolean(await ({expression}))"), expression, timeout
    )
