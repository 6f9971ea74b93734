"""Synthetic camera and microphone: live-looking video and a tone at the right pitch."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from branch_client.devices.synthetic import SyntheticCamera, ToneSource, pattern_frame, tone_frames


def test_pattern_moves_and_the_clock_runs() -> None:
    a = pattern_frame(640, 480, 1000.0, 0)
    b = pattern_frame(640, 480, 1001.5, 45)
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    assert not np.array_equal(a, b)
    # The clock band (top left) differs between the two instants.
    assert not np.array_equal(a[:60, :300], b[:60, :300])


def test_pattern_frame_counter_is_readable() -> None:
    img = pattern_frame(640, 480, 0.0, 0b1010_0000_0000_0001)
    cell, gap = 640 // 80, 640 // 160
    row = 480 // 10 + 2 * gap + 2 * gap + cell // 2
    bits = [int(img[row, gap + i * cell + cell // 2, 0] > 127) for i in range(16)]
    assert int("".join(map(str, bits)), 2) == 0b1010_0000_0000_0001


async def test_camera_paces_frames() -> None:
    camera = SyntheticCamera(320, 240)
    started = time.monotonic()
    frames = [await camera.recv() for _ in range(10)]
    elapsed = time.monotonic() - started
    camera.stop()
    assert frames[0].width == 320 and frames[0].height == 240
    assert [f.pts for f in frames] == sorted(f.pts for f in frames)
    assert 0.2 < elapsed < 1.0  # 30 fps: ten frames take about a third of a second


async def test_tone_is_440_hz() -> None:
    tone = ToneSource(440.0)
    frames = [await tone.recv() for _ in range(50)]  # one second
    tone.stop()
    samples = np.concatenate([f.to_ndarray().ravel() for f in frames]).astype(float)
    assert len(samples) == 48_000
    spectrum = np.abs(np.fft.rfft(samples))
    peak_hz = np.argmax(spectrum) * 48_000 / len(samples)
    assert abs(peak_hz - 440.0) < 2.0


async def test_stopped_tone_raises_media_stream_error() -> None:
    from aiortc.mediastreams import MediaStreamError

    tone = ToneSource()
    tone.stop()
    try:
        await asyncio.wait_for(tone.recv(), 1)
    except MediaStreamError:
        return
    raise AssertionError("a stopped track must end its consumers")


def test_tone_frames_are_a_faded_tone() -> None:
    frames = tone_frames(660.0, seconds=1.0)
    samples = np.concatenate([f.to_ndarray().ravel() for f in frames]).astype(float)
    assert len(frames) == 50 and samples.size == 48_000
    assert abs(samples[0]) < 100  # faded in: no click
    peak = np.argmax(np.abs(np.fft.rfft(samples))) * 48_000 / samples.size
    assert abs(peak - 660) <= 1
