"""The terminal keeps the resident's place when the hub goes away and comes back."""

from __future__ import annotations

import time

import pytest

from hub.local_deployment import LocalDeployment


def _wait(predicate, what: str, timeout: float = 25.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.parametrize("how", ["sigterm", "kill -9"])
def test_terminal_resumes_its_session_after_a_hub_restart(
    deployment: LocalDeployment, how: str
) -> None:
    hub, branch = deployment.hub, deployment.branch
    assert hub is not None and branch is not None
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 -- loopback
        branch.kiosk_url + "/api/start",
        data=b'{"purpose": "certificate"}',
        method="POST",
        headers={"X-Madoguchi-Kiosk": "1", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310
    before = _wait(lambda: (s := branch.status())["phase"] == "waiting" and s, "waiting")

    hub.kill() if how == "kill -9" else hub.stop()
    _wait(lambda: branch.status()["link"] == "offline", "the terminal to notice")
    assert branch.status()["phase"] == "waiting"  # the kiosk still shows the resident's place

    hub.start()
    after = _wait(lambda: (s := branch.status())["link"] == "online" and s, "the reconnect")
    assert after["session_id"] == before["session_id"]
    assert after["phase"] == "waiting" and after["position"] == 1
