"""The kiosk's local side: video taps, the microphone level, the time-code probe and the kiosk's
HTTP endpoints (against a real terminal on the real hub app)."""

from __future__ import annotations

import asyncio
import io
import json

import numpy as np
import pytest
from aiohttp.test_utils import TestClient, TestServer
from av import VideoFrame
from PIL import Image

from branch_client.kiosk_server import create_kiosk_app
from branch_client.local_media import FrameTap, LevelMeter, Yuv420, read_time_code
from branch_client.media import SyntheticCamera, ToneSource, tone_frames
from branch_client.terminal import Terminal
from hub.sessions.router import ROUTING_FILE
from tests.branch_client.test_terminal_call import hub, terminal, until  # noqa: F401

HEADER = {"X-Madoguchi-Kiosk": "1"}


def coded_frame(code: int, width: int = 640, height: int = 480) -> VideoFrame:
    img = np.full((height, width, 3), 128, np.uint8)
    cell = width // 32
    for bit in range(16):
        lit = (code >> (15 - bit)) & 1
        img[cell : 2 * cell, (1 + bit) * cell : (2 + bit) * cell] = 255 if lit else 0
    return VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")


@pytest.mark.parametrize("code", [0, 1, 0x8000, 0xABCD, 0xFFFF])
def test_time_code_is_read_back(code: int) -> None:
    assert read_time_code(coded_frame(code)) == code


def test_an_ordinary_picture_has_no_time_code() -> None:
    frame = VideoFrame.from_ndarray(np.full((480, 640, 3), 128, np.uint8), format="rgb24")
    assert read_time_code(frame.reformat(format="yuv420p")) is None


def test_tone_frames_are_a_faded_tone() -> None:
    frames = tone_frames(660.0, seconds=1.0)
    samples = np.concatenate([f.to_ndarray().ravel() for f in frames]).astype(float)
    assert len(frames) == 50 and samples.size == 48_000
    assert abs(samples[0]) < 100  # faded in: no click
    peak = np.argmax(np.abs(np.fft.rfft(samples))) * 48_000 / samples.size
    assert abs(peak - 660) <= 1


async def test_frame_tap_serves_jpegs_of_the_newest_frame() -> None:
    camera = Yuv420(SyntheticCamera(320, 240))
    tap = FrameTap("test")
    tap.attach(camera)
    got = []
    async for jpeg in tap.stream():
        got.append(Image.open(io.BytesIO(jpeg)))
        if len(got) == 3:
            break
    assert all(img.format == "JPEG" and img.size == (320, 240) for img in got)
    snap = tap.snapshot()
    assert snap["live"] and snap["frames_out"] == 3 and snap["added_ms_p50"] is not None
    await tap.close()
    camera.stop()


async def test_frame_tap_scales_wide_video_down() -> None:
    camera = Yuv420(SyntheticCamera(1280, 720))
    tap = FrameTap("test", max_width=640)
    tap.attach(camera)
    jpeg = await anext(aiter(tap.stream()))
    assert Image.open(io.BytesIO(jpeg)).size == (640, 360)
    await tap.close()
    camera.stop()


async def test_closing_a_tap_ends_its_viewers() -> None:
    tap = FrameTap("nothing")  # no track: viewers wait
    viewer = asyncio.create_task(anext(aiter(tap.stream())))
    await asyncio.sleep(0.05)
    assert not viewer.done()
    await tap.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(viewer, 2)


async def test_level_meter_hears_the_tone_and_silence() -> None:
    meter = LevelMeter()
    tone = ToneSource(level=0.2)
    meter.attach(tone)
    await until(lambda: meter.level_db > -20, "the tone's level")
    assert -20 < meter.level_db < -10  # a sine at 0.2 is about -17 dBFS
    await meter.close()
    tone.stop()
    silent = ToneSource(level=0.0)
    meter.attach(silent)
    await asyncio.sleep(0.2)
    assert meter.level_db == LevelMeter.FLOOR_DB
    await meter.close()


@pytest.fixture
async def kiosk(terminal: Terminal) -> TestClient:  # noqa: F811
    await terminal.open_devices()
    client = TestClient(TestServer(create_kiosk_app(terminal)))
    await client.start_server()
    yield client  # type: ignore[misc]
    await client.close()


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
    terminal: Terminal,  # noqa: F811
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
