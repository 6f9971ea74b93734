"""Branch staff, in Chromium: see their terminals, start a session for a resident, cancel it."""

from __future__ import annotations

from playwright.sync_api import Browser

from bench.browser import console_login
from madoguchi.local_deployment import DEMO_PASSWORD, LocalDeployment
from tests.e2e.waiting import wait_for


def test_branch_staff_start_and_cancel_from_the_console(
    browser: Browser, deployment: LocalDeployment
) -> None:
    assert deployment.hub is not None and deployment.branch is not None
    branch = deployment.branch
    context = browser.new_context(base_url=deployment.hub.url)
    page = context.new_page()
    console_login(page, "sato", DEMO_PASSWORD)
    page.wait_for_selector("#branch-view:not([hidden])")
    row = page.wait_for_selector("tr[data-terminal=kita-01]")
    assert row is not None and "接続中" in row.inner_text()

    page.select_option("#start-terminal", "kita-01")
    page.select_option("#start-purpose", "moving")
    page.select_option("#start-priority", "elderly")
    page.check("#start-hearing")
    page.click("#start-session")
    status = wait_for(lambda: (s := branch.status())["phase"] == "waiting" and s, "the session")
    assert status["ticket"] == "A-001" and status["purpose"] == "moving"
    page.wait_for_selector("tr[data-terminal=kita-01] button.cancel")
    assert "A-001" in page.inner_text("tr[data-terminal=kita-01]")

    page.click("tr[data-terminal=kita-01] button.cancel")
    ended = wait_for(lambda: (s := branch.status())["phase"] == "ended" and s, "the cancel")
    assert ended["end_reason"] == "cancelled"
    context.close()
