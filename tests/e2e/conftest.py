"""End-to-end fixtures: the hub and a terminal as real processes, and a real Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bench.browser import CHROMIUM, CHROMIUM_ARGS, console_login
from madoguchi.local_deployment import DEMO_PASSWORD, LocalDeployment


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[LocalDeployment]:
    with LocalDeployment(tmp_path / "deployment") as dep:
        yield dep


@pytest.fixture
def specialist_page(browser: Browser, deployment: LocalDeployment) -> Iterator[Page]:
    """A logged-in specialist (suzuki) on the staff console, signaling online."""
    assert deployment.hub is not None
    context = browser.new_context(base_url=deployment.hub.url)
    page = context.new_page()
    console_login(page, "suzuki", DEMO_PASSWORD)
    page.wait_for_selector("#my-state[data-state=away]")
    yield page
    context.close()
