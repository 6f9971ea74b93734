"""What the kiosk shows and measures locally: the video taps (Motion-JPEG of the newest frame),
the microphone's level meter, and the latency probe's time code."""

from __future__ import annotations

import asyncio
import io

import numpy as np
import pytest
from av import VideoFrame
from PIL import Image

from branch_client.devices.shared import Yuv420
from branch_client.devices.synthetic import SyntheticCamera, ToneSource
from branch_client.kiosk.local_media import FrameTap, LevelMeter, read_time_code
from tests.branch_client.conftest import until


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
