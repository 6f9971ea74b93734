"""Debian's Chromium driven by Playwright for Python: no browser download, fake media devices."""

from __future__ import annotations

from typing import Any

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


def console_login(page: Any, username: str, password: str) -> None:
    """Log ``page`` (at the hub's base URL) in to the staff console, signaling online."""
    page.goto("/console/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("#link-state[data-state=online]", state="attached")
