"""The kiosk's HTTP endpoints, against a real terminal on the real hub app."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from branch_client.terminal import Terminal
from hub.sessions.router import ROUTING_FILE
from tests.branch_client.conftest import until

HEADER = {"X-Madoguchi-Kiosk": "1"}


@pytest.fixture(autouse=True)
async def devices(terminal: Terminal) -> None:
    """The terminal's camera and microphone are open, as they are once it runs."""
    await terminal.open_devices()


async def test_kiosk_api(terminal: Terminal, kiosk: TestClient) -> None:
    page = await kiosk.get("/")
    assert "ご用件をお選びください" in await page.text()
    assert (await kiosk.get("/static/kiosk.js")).status == 200  # served from kiosk/static
    refused = await kiosk.post("/api/start", json={"purpose": "moving"})
    assert refused.status == 403
    bad = await kiosk.post("/api/start", json={"purpose": "rm -rf"}, headers=HEADER)
    assert (await bad.json())["error"] == "unknown_purpose"
    garbage = await kiosk.post("/api/start", data=b"{{{", headers=HEADER)
    assert (await garbage.json())["error"] == "bad_json"
    ok = await kiosk.post("/api/start", json={"purpose": "birth"}, headers=HEADER)
    assert ok.status == 200
    await until(lambda: terminal.status.phase == "waiting", "the session to wait")
    status = await (await kiosk.get("/api/status")).json()
    assert status["phase"] == "waiting" and status["position"] == 1
    assert status["ticket"] == "E-001"  # birth -> kosodate
    assert "token" not in str(status).lower()
    await kiosk.post("/api/end", headers=HEADER)
    await until(lambda: terminal.status.phase == "ended", "the session to end")
    assert terminal.status.end_reason == "abandoned"


async def test_status_reports_devices_and_views(kiosk: TestClient) -> None:
    res = await kiosk.get("/api/status")
    status = await res.json()
    assert status["camera"] in ("ok", "idle") and "views" in status
    assert status["mic_level_db"] <= 0


async def test_self_view_streams_motion_jpeg(kiosk: TestClient) -> None:
    res = await kiosk.get("/video/self.mjpg")
    assert res.headers["Content-Type"].startswith("multipart/x-mixed-replace; boundary=")
    chunk = b""
    while chunk.count(b"\xff\xd9") < 2:  # two complete JPEGs
        chunk += await res.content.read(65536)
    assert chunk.startswith(b"--madoguchi-frame\r\nContent-Type: image/jpeg\r\n")
    res.close()


async def test_rating_needs_an_ended_conversation(kiosk: TestClient) -> None:
    res = await kiosk.post("/api/rate", json={"score": 5}, headers=HEADER)
    assert res.status == 409 and (await res.json())["error"] == "not_rateable"
    for bad in ({"score": 0}, {"score": 6}, {"score": "5"}, {"score": True}, {}):
        res = await kiosk.post("/api/rate", json=bad, headers=HEADER)
        assert res.status == 400 and (await res.json())["error"] == "bad_score"
    res = await kiosk.post("/api/rate", data=b"{", headers=HEADER)
    assert res.status == 400
    res = await kiosk.post("/api/rate", json={"score": 5})  # no kiosk header: another origin
    assert res.status == 403


async def test_speaker_test_without_a_speaker_says_so(kiosk: TestClient) -> None:
    res = await kiosk.post("/api/speaker-test", headers=HEADER)
    assert res.status == 200 and (await res.json()) == {"played": False}


async def test_unknown_video_is_not_found(kiosk: TestClient) -> None:
    res = await kiosk.get("/video/other.mjpg")
    assert res.status == 404


async def test_the_kiosk_offers_the_purposes_the_hub_gave_in_catalog_order(
    kiosk: TestClient,
    terminal: Terminal,
) -> None:
    await until(lambda: terminal.purposes is not None, "the hub's hello")
    catalog = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))["purposes"]
    status = await (await kiosk.get("/api/status")).json()
    assert [p["id"] for p in status["purposes"]] == list(catalog)
    assert status["purposes"][0] == {"id": "moving", "ja": catalog["moving"]["ja"], "en": "Moving"}
    # Only those: a purpose the catalog does not have is refused here, before the hub.
    res = await kiosk.post("/api/start", json={"purpose": "astrology"}, headers=HEADER)
    assert res.status == 400 and (await res.json())["error"] == "unknown_purpose"
    assert terminal.status.phase == "idle"


async def test_a_signature_is_read_by_the_hubs_rule_on_the_kiosk(kiosk: TestClient) -> None:
    box = {"width": 100, "height": 50}
    for bad in (
        {**box, "strokes": [[[101, 10, 0]]]},  # outside the box
        {**box, "strokes": []},
        {**box, "strokes": [[[1, "2"]]]},
        {**box, "strokes": [[[1, 2]]], "colour": "blue"},
        {"width": 0, "height": 50, "strokes": [[[0, 0]]]},
        {},
    ):
        res = await kiosk.post("/api/sign", json=bad, headers=HEADER)
        assert res.status == 400 and (await res.json())["error"] == "bad_signature", bad
    res = await kiosk.post("/api/sign", data=b"{", headers=HEADER)
    assert res.status == 400 and (await res.json())["error"] == "bad_signature"
    res = await kiosk.post("/api/sign", json={**box, "strokes": [[[1, 2, 0]]]}, headers=HEADER)
    assert res.status == 409 and (await res.json())["error"] == "no_signature_asked"
