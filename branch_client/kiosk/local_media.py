"""What the terminal shows and measures locally: video for the kiosk page and the microphone level.

The kiosk is a page in the terminal's own browser. It shows the specialist's video and the
resident's own picture as Motion-JPEG over HTTP on localhost: no second WebRTC leg, no second
jitter buffer, and the browser shows each frame as soon as its bytes arrive. A :class:`FrameTap`
reads a track (a :class:`~aiortc.contrib.media.MediaRelay` subscription, so the call keeps its own
copy), keeps only the newest frame, and encodes it to JPEG once, off the event loop, and only
while someone is watching. Each tap counts what it forwards and how long a frame waits between
arriving and being sent, the latency the kiosk adds to what WebRTC delivers.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import io
import logging
import math
import time
from collections.abc import AsyncIterator

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame
from av.video.reformatter import VideoReformatter
from PIL import Image

log = logging.getLogger(__name__)

JPEG_QUALITY = 80


def encode_jpeg(frame: VideoFrame, max_width: int, reformatter: VideoReformatter) -> bytes:
    """A JPEG of ``frame``, scaled down to ``max_width`` when wider. Runs in the tap's worker.

    The frame is shared with the call's encoder, which converts it in its own thread: PyAV caches
    one converter per frame, so converting here with ``frame.reformat`` would race with it. The
    tap converts with its own :class:`VideoReformatter` instead."""
    width, height = frame.width, frame.height
    if width > max_width:
        width, height = max_width, max(2, round(height * max_width / width) // 2 * 2)
    rgb = reformatter.reformat(frame, width=width, height=height, format="rgb24")
    out = io.BytesIO()
    Image.fromarray(rgb.to_ndarray()).save(out, format="JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


TIME_CODE_BITS = 16


def read_time_code(frame: VideoFrame) -> int | None:
    """The 16-bit time code a latency probe draws into its video: a row of black (0) and white
    (1) cells, each a 32nd of the width, one cell in from the top-left corner, most significant
    bit first. ``None`` when the frame carries no clear code (any ordinary picture)."""
    cell = frame.width // 32
    if cell < 4 or frame.height < 3 * cell:
        return None
    plane = frame.planes[0]
    luma = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
    row = luma[cell + cell // 4 : 2 * cell - cell // 4]
    code = 0
    for bit in range(TIME_CODE_BITS):
        x0 = (1 + bit) * cell
        value = float(row[:, x0 + cell // 4 : x0 + cell - cell // 4].mean())
        if 70 <= value <= 185:
            return None  # neither black nor white: not a probe frame
        code = code << 1 | (value > 128)
    return code


class FrameTap:
    """The newest frame of a video track, as JPEG for any number of kiosk viewers."""

    def __init__(self, name: str, *, max_width: int = 1280, probe: bool = False) -> None:
        self.name = name
        self.max_width = max_width
        self.probe = probe  # read a latency probe's time code from each frame (see bench)
        self.arrivals: collections.deque[tuple[int, float]] = collections.deque(maxlen=300)
        self.frames_in = 0
        self.frames_out = 0
        self._frame: VideoFrame | None = None
        self._arrived = 0.0
        self._seq = 0
        self._jpeg: tuple[int, bytes] | None = None
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._viewers = 0
        self._closed = False
        self._added_ms: list[float] = []
        self._reformatter = VideoReformatter()
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=f"tap-{name}")

    def attach(self, track: MediaStreamTrack | None) -> None:
        """Show ``track`` from now on (``None``: nothing, the kiosk shows its own placeholder)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._frame = None
        if track is not None:
            self._task = asyncio.create_task(self._read(track), name=f"tap-{self.name}")

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, VideoFrame):
                    continue
                self.frames_in += 1
                if self.probe and frame.format.name in ("yuv420p", "yuvj420p"):
                    code = read_time_code(frame)
                    if code is not None:
                        self.arrivals.append((code, time.time() * 1000))
                async with self._changed:
                    self._frame, self._arrived = frame, time.perf_counter()
                    self._seq += 1
                    self._changed.notify_all()

    def latest(self) -> VideoFrame | None:
        """The newest frame, or None."""
        return self._frame

    @property
    def live(self) -> bool:
        return self._frame is not None and self._task is not None and not self._task.done()

    async def stream(self) -> AsyncIterator[bytes]:
        """JPEG after JPEG, each as soon as a newer frame arrived; a slow viewer skips frames."""
        self._viewers += 1
        seen = 0
        try:
            while True:
                async with self._changed:
                    while self._seq == seen and not self._closed:
                        await self._changed.wait()
                    if self._closed:
                        return
                    seen, frame, arrived = self._seq, self._frame, self._arrived
                if frame is None:
                    continue
                jpeg = await self._encoded(seen, frame)
                self.frames_out += 1
                self._note_added((time.perf_counter() - arrived) * 1000)
                yield jpeg
        finally:
            self._viewers -= 1

    async def _encoded(self, seq: int, frame: VideoFrame) -> bytes:
        cached = self._jpeg
        if cached is not None and cached[0] == seq:
            return cached[1]
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(
            self._worker, encode_jpeg, frame, self.max_width, self._reformatter
        )
        self._jpeg = (seq, data)
        return data

    def _note_added(self, ms: float) -> None:
        self._added_ms.append(ms)
        if len(self._added_ms) > 600:
            del self._added_ms[:300]

    def snapshot(self) -> dict[str, object]:
        recent = sorted(self._added_ms[-300:])
        return {
            "live": self.live,
            "viewers": self._viewers,
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "added_ms_p50": round(recent[len(recent) // 2], 2) if recent else None,
            **({"arrivals": list(self.arrivals)} if self.probe else {}),
        }

    async def close(self) -> None:
        task, self._task = self._task, None
        await _cancel(task)
        async with self._changed:
            self._closed = True
            self._changed.notify_all()
        self._worker.shutdown(wait=False)


class LevelMeter:
    """The microphone's level in dBFS over the last 100 ms, for the kiosk's device check."""

    FLOOR_DB = -90.0

    def __init__(self) -> None:
        self.level_db = self.FLOOR_DB
        self._task: asyncio.Task[None] | None = None
        self._recent: list[float] = []

    def attach(self, track: MediaStreamTrack | None) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.level_db = self.FLOOR_DB
        if track is not None:
            self._task = asyncio.create_task(self._read(track), name="mic-level")

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, AudioFrame):
                    self._recent = [*self._recent[-4:], rms(frame)]
                    self.level_db = level_db(max(self._recent))

    async def close(self) -> None:
        task, self._task = self._task, None
        await _cancel(task)


async def _cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel a tap's or a meter's reader and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def rms(frame: AudioFrame) -> float:
    """Root mean square of a signed 16-bit frame, 0..1."""
    samples = frame.to_ndarray().astype(np.float64) / 32768.0
    return float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0


def level_db(value: float) -> float:
    return max(LevelMeter.FLOOR_DB, 20 * math.log10(value)) if value > 0 else LevelMeter.FLOOR_DB
