"""End-to-end fixtures: the hub and a terminal as real processes, and a real Chromium.

One Chromium serves the whole session; each test gets a fresh :class:`LocalDeployment` (Redis,
a hub, a terminal) and browser contexts of its own, closed when it ends. A module that needs
the terminal started otherwise (its own sound devices, say) overrides ``deployment``; the page
fixtures follow it. The virtual card reader (``pcscd``, ``insert_card``) is the card tests'
(:mod:`tests.branch_client.card.conftest`), registered here for every end-to-end test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from bench.browser import KIOSK_VIEWPORT, console_login, launch_chromium
from madoguchi.local_deployment import DEMO_PASSWORD, LocalDeployment
from madoguchi.waiting import wait_for
from tests.branch_client.card.conftest import insert_card, pcscd

__all__ = ["insert_card", "pcscd"]  # fixtures, registered for the end-to-end tests


class StaffPage(Protocol):
    def __call__(
        self, username: str, *, viewport: ViewportSize | None = None, init_script: str = ""
    ) -> Page: ...


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[LocalDeployment]:
    with LocalDeployment(tmp_path / "deployment") as dep:
        yield dep


class NewContext(Protocol):
    def __call__(
        self, *, base_url: str | None = None, viewport: ViewportSize | None = None
    ) -> BrowserContext: ...


@pytest.fixture
def new_context(browser: Browser, deployment: LocalDeployment) -> Iterator[NewContext]:
    """Browser contexts for the test, closed when it ends (before the deployment stops)."""
    contexts: list[BrowserContext] = []

    def new(*, base_url: str | None = None, viewport: ViewportSize | None = None) -> BrowserContext:
        context = browser.new_context(base_url=base_url, viewport=viewport)
        contexts.append(context)
        return context

    yield new
    for context in contexts:
        context.close()


@pytest.fixture
def staff_page(new_context: NewContext, deployment: LocalDeployment) -> StaffPage:
    """Log a demo account in to the staff console, each in a context of its own, signaling
    online; ``init_script`` runs in the page before the console's own scripts."""
    assert deployment.hub is not None
    hub_url = deployment.hub.url

    def login(
        username: str, *, viewport: ViewportSize | None = None, init_script: str = ""
    ) -> Page:
        context = new_context(base_url=hub_url, viewport=viewport)
        if init_script:
            context.add_init_script(script=init_script)
        page = context.new_page()
        console_login(page, username, DEMO_PASSWORD)
        return page

    return login


@pytest.fixture
def specialist_page(staff_page: StaffPage) -> Page:
    """A logged-in specialist (suzuki) on the staff console, signaling online."""
    page = staff_page("suzuki")
    page.wait_for_selector("#my-state[data-state=away]")
    return page


@pytest.fixture
def kiosk(new_context: NewContext, deployment: LocalDeployment) -> Page:
    """The terminal's kiosk screen, at its welcome, in a context (and a screen size) of its own."""
    assert deployment.branch is not None
    page = new_context(viewport=KIOSK_VIEWPORT).new_page()
    page.goto(deployment.branch.kiosk_url + "/")
    return page


@pytest.fixture
def answered_call(
    kiosk: Page, specialist_page: Page, deployment: LocalDeployment
) -> Callable[[str], None]:
    """The way most visits begin: the resident chooses ``purpose`` on the kiosk and passes the
    device check, the specialist is ready, is rung, and answers."""
    branch = deployment.branch
    assert branch is not None

    def answer(purpose: str) -> None:
        kiosk.click(f"button[data-purpose={purpose}]")
        kiosk.click("#check-ok")
        wait_for(lambda: branch.status()["phase"] == "waiting", "the resident to wait")
        specialist_page.click("#ready")
        specialist_page.wait_for_selector("#ring:not([hidden])")
        specialist_page.click("#accept")

    return answer
