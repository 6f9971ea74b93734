"""Branch staff, in Chromium: see their terminals, start a session for a resident, cancel it."""

from __future__ import annotations

from madoguchi.local_deployment import LocalDeployment
from madoguchi.waiting import wait_for
from tests.e2e.conftest import StaffPage


def test_branch_staff_start_and_cancel_from_the_console(
    staff_page: StaffPage, deployment: LocalDeployment
) -> None:
    assert deployment.branch is not None
    branch = deployment.branch
    page = staff_page("sato")
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
