"""Cameras behind one interface: the factory, a video file through the real OpenCV adapter, and
what the specialist sees when the camera goes away mid-call and comes back."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from branch_client.devices import DeviceError, Health, open_camera
from branch_client.devices.camera import Camera, disconnected_frame
from branch_client.devices.opencv_camera import OpenCVCamera, VideoFileCamera
from branch_client.devices.synthetic import SyntheticCamera

W, H, N = 320, 240, 64


def write_video(path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (W, H))
    assert writer.isOpened()
    rng = np.random.default_rng(4)
    for i in range(N):
        img = np.zeros((H, W, 3), dtype=np.uint8)
        # Noise at the bottom keeps frames large, so the reader cannot hold the whole file.
        img[3 * H // 4 :] = rng.integers(0, 256, (H - 3 * H // 4, W, 3), dtype=np.uint8)
        img[:, : (i + 1) * W // N] = (0, 160, 0)  # a green bar that grows frame by frame
        writer.write(img)
    writer.release()


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "face.avi"
    write_video(path)
    return path


def green_width(img: np.ndarray) -> int:
    return int((img[H // 2, :, 1] > 80).sum())


async def test_video_file_delivers_its_frames_and_loops(video: Path) -> None:
    camera = VideoFileCamera(video, fps=240)
    try:
        frames = [await camera.recv() for _ in range(N + 8)]
    finally:
        camera.stop()
    assert isinstance(camera, Camera)
    assert camera.health == Health.OK
    assert {(f.width, f.height) for f in frames} == {(W, H)}
    pts = [f.pts for f in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts)
    widths = [green_width(f.to_ndarray(format="bgr24")) for f in frames]
    assert widths[: N - 1] == sorted(widths[: N - 1]) and widths[N - 1] > W - 10
    assert widths[N] < 20  # back at the first frame: the file loops


async def test_camera_work_runs_on_the_named_worker_thread(video: Path) -> None:
    camera = VideoFileCamera(video)
    await camera.recv()
    names = {t.name for t in threading.enumerate()}
    camera.stop()
    assert any(name.startswith("camera") for name in names)
    with pytest.raises(MediaStreamError):
        await camera.recv()


def test_factory_chooses_by_config(video: Path) -> None:
    synthetic = open_camera("synthetic")
    assert type(synthetic) is SyntheticCamera
    synthetic.stop()
    from_file = open_camera(str(video))
    assert type(from_file) is VideoFileCamera
    from_file.stop()


def test_unknown_cameras_raise_a_coded_error() -> None:
    with pytest.raises(DeviceError) as missing_file:
        open_camera("/nonexistent")
    assert missing_file.value.code == "camera_unavailable"
    with pytest.raises(DeviceError) as missing_device:
        OpenCVCamera(99)  # this machine has no /dev/video99
    assert missing_device.value.code == "camera_unavailable"
    with pytest.raises(DeviceError) as by_index:
        open_camera("99")
    assert by_index.value.code == "camera_unavailable"


async def test_a_camera_that_fails_mid_call_keeps_delivering_and_recovers(video: Path) -> None:
    original = await asyncio.to_thread(video.read_bytes)
    camera = VideoFileCamera(video, fps=120)
    try:
        for _ in range(4):
            await camera.recv()
        assert camera.health == Health.OK
        await asyncio.to_thread(
            video.write_bytes, b""
        )  # the file is cut short under the open capture: reads fail
        frames = []
        for _ in range(N + 20):
            frames.append(await camera.recv())
            if camera.health == Health.FAILED:
                break
        assert camera.health == Health.FAILED
        # Frames keep coming while the camera is gone, same size, marked as disconnected.
        gone = [await camera.recv() for _ in range(5)]
        assert {(f.width, f.height) for f in gone} == {(W, H)}
        img = gone[-1].to_ndarray(format="bgr24")
        assert img[1, W // 2, 2] > 150 and img[1, W // 2, 1] < 60  # the red border
        assert camera.health == Health.FAILED
        await asyncio.to_thread(video.write_bytes, original)  # plugged back in
        for _ in range(400):  # retried every second; at 120 fps this is over three seconds
            await camera.recv()
            if camera.health == Health.OK:
                break
        assert camera.health == Health.OK
        back = (await camera.recv()).to_ndarray(format="bgr24")
        assert back[1, W // 2, 2] < 60  # a real frame again, no red marker
    finally:
        camera.stop()


def test_disconnected_frame_dims_the_last_picture() -> None:
    last = np.full((H, W, 3), 200, dtype=np.uint8)
    img = disconnected_frame(last, 640, 480)
    assert img.shape == (H, W, 3)
    assert img[H // 8, W // 8].max() <= 60  # dimmed
    assert tuple(img[1, 1]) == (0, 0, 224)  # red border
    black = disconnected_frame(None, 64, 48)
    assert black.shape == (48, 64, 3) and black[24, 2].max() == 0


async def test_frames_keep_coming_with_a_stopped_loop_never_blocked(video: Path) -> None:
    camera = VideoFileCamera(video, fps=60)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        for _ in range(30):
            await camera.recv()
    finally:
        ticker.cancel()
        camera.stop()
    assert ticks > 50  # half a second of frames; the loop was free most of it
