"""The terminal keeps the resident's place when the hub goes away and comes back."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from madoguchi.local_deployment import LocalDeployment
from madoguchi.waiting import wait_for


@pytest.mark.parametrize("how", ["sigterm", "kill -9"])
def test_terminal_resumes_its_session_after_a_hub_restart(
    deployment: LocalDeployment, how: str
) -> None:
    hub, branch = deployment.hub, deployment.branch
    assert hub is not None and branch is not None
    branch.kiosk_post("/api/start", {"purpose": "certificate"})
    before = wait_for(lambda: (s := branch.status())["phase"] == "waiting" and s, "waiting")

    hub.kill() if how == "kill -9" else hub.stop()
    wait_for(lambda: branch.status()["link"] == "offline", "the terminal to notice")
    assert branch.status()["phase"] == "waiting"  # the kiosk still shows the resident's place

    hub.start()
    after = wait_for(lambda: (s := branch.status())["link"] == "online" and s, "the reconnect")
    assert after["session_id"] == before["session_id"]
    assert after["phase"] == "waiting" and after["position"] == 1


def test_a_call_survives_a_hub_kill_and_both_sides_resume(
    deployment: LocalDeployment, specialist_page: Page
) -> None:
    """Media is peer to peer: killing the hub mid-call does not cut it. The console and the
    terminal reconnect by themselves, the hub greets them with the session, and it can be ended
    as usual."""
    hub, branch, page = deployment.hub, deployment.branch, specialist_page
    assert hub is not None and branch is not None
    page.click("#ready")
    branch.kiosk_post("/api/start", {"purpose": "moving"})
    page.wait_for_selector("#ring:not([hidden])")
    page.click("#accept")
    wait_for(lambda: branch.status()["phase"] == "in_call", "the call")
    session_id = branch.status()["session_id"]

    hub.kill()
    page.wait_for_selector("#link-state[data-state=offline]")
    frames = branch.status()["media"]["video_frames"]
    wait_for(lambda: branch.status()["media"]["video_frames"] > frames + 30, "media without a hub")

    hub.start()
    page.wait_for_selector("#link-state[data-state=online]", timeout=20_000)
    wait_for(lambda: branch.status()["link"] == "online", "the terminal to reconnect")
    assert page.evaluate("() => window.madoguchiConsole.sessionId") == session_id
    assert page.evaluate("() => window.madoguchiConsole.myState") == "busy"
    assert branch.status()["phase"] == "in_call"

    page.click("#end")
    wait_for(lambda: branch.status()["phase"] == "ended", "the end to reach the terminal")
    page.wait_for_selector("#wrapup-controls:not([hidden])")
