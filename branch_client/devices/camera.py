"""The camera interface, and the part of a real camera that is not about any one library.

A camera is an aiortc ``VideoStreamTrack`` with a ``health``. :class:`CapturedCamera` turns a
blocking frame source (a :class:`Capture`) into such a track: every blocking call (open, read,
release) runs on one named worker thread, never on the event loop. When a read fails mid-call
(cable pulled, file gone) the track keeps delivering frames -- the last picture dimmed under a
"camera disconnected" marker -- reports ``failed``, and tries to open the device again every
second, returning to ``ok`` when it answers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fractions
import logging
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av import VideoFrame

from branch_client.devices.errors import DeviceError, Health

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
VIDEO_CLOCK_RATE = 90_000
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)


@runtime_checkable
class Camera(Protocol):
    """What the terminal needs from a camera: an aiortc video track that says how it is."""

    kind: str

    @property
    def health(self) -> Health: ...

    async def recv(self) -> VideoFrame: ...

    def stop(self) -> None: ...


class Capture(Protocol):
    """A blocking frame source. Called only from the camera's worker thread."""

    def read(self) -> np.ndarray | None:
        """The next BGR frame, or ``None`` when the source failed."""
        ...

    def release(self) -> None: ...


def disconnected_frame(last: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """What the specialist sees while the camera is gone: the last picture (or black) dimmed,
    a red border, and a camera icon struck through -- drawn with array slices, no fonts."""
    if last is not None:
        img = (last // 4).astype(np.uint8)
        height, width = img.shape[:2]
    else:
        img = np.zeros((height, width, 3), dtype=np.uint8)
    red = np.array([0, 0, 224], dtype=np.uint8)  # BGR
    border = max(2, min(width, height) // 40)
    img[:border], img[-border:], img[:, :border], img[:, -border:] = red, red, red, red
    # A camera body with a lens, in light grey, in the middle.
    cw, ch = max(8, width // 4), max(6, height // 4)
    x0, y0 = (width - cw) // 2, (height - ch) // 2
    img[y0 : y0 + ch, x0 : x0 + cw] = 200
    img[y0 - ch // 6 : y0, x0 + cw // 4 : x0 + cw // 2] = 200  # the viewfinder bump
    yy, xx = np.ogrid[:height, :width]
    r = min(cw, ch) // 3
    lens = (yy - (y0 + ch // 2)) ** 2 + (xx - (x0 + cw // 2)) ** 2 <= r * r
    img[lens] = 60
    # Struck through with a thick red diagonal.
    stroke = max(2, min(cw, ch) // 8)
    span = max(cw, ch) + ch // 2
    for i in range(span):
        x = x0 - ch // 4 + i * (cw + ch // 2) // span
        y = y0 + ch + ch // 4 - i * (ch + ch // 2) // span
        img[max(0, y - stroke) : max(0, y + stroke), max(0, x - stroke) : max(0, x + stroke)] = red
    return img


class CapturedCamera(VideoStreamTrack):
    """A camera track fed by a blocking :class:`Capture` that ``open_capture`` makes.

    ``open_capture`` raises :class:`DeviceError` when the device cannot be opened (its ``code``
    says why); it is retried every second while the device is missing or failed.
    """

    def __init__(
        self,
        open_capture: Callable[[], Capture],
        *,
        name: str,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
    ) -> None:
        super().__init__()
        self.name = name
        self.width, self.height, self.fps = width, height, fps
        self._open_capture = open_capture
        self._capture: Capture | None = None
        self._last: np.ndarray | None = None
        self._health = Health.MISSING
        self._next_attempt = 0.0
        self._frames = 0
        self._began: float | None = None
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="camera")
        self._opening = self._executor.submit(self._try_open)

    @property
    def health(self) -> Health:
        return self._health

    def _set_health(self, health: Health) -> None:
        if health != self._health:
            log.info("camera %s: state %s -> %s", self.name, self._health, health)
            self._health = health

    # -- the worker thread ---------------------------------------------------------------------

    def _try_open(self) -> None:
        self._next_attempt = time.monotonic() + RETRY_SECONDS
        try:
            self._capture = self._open_capture()
        except DeviceError as exc:
            if self._health == Health.OK:
                self._set_health(Health.FAILED)
            elif self._health == Health.MISSING and exc.code == "camera_in_use":
                self._set_health(Health.IN_USE)
            log.debug("camera %s: cannot open: %s", self.name, exc)
        else:
            self._set_health(Health.OK)

    def _grab(self) -> np.ndarray:
        if self._capture is None and time.monotonic() >= self._next_attempt:
            self._try_open()
        if self._capture is not None:
            img = self._capture.read()
            if img is not None:
                self._last = img
                return img
            self._capture.release()
            self._capture = None
            self._next_attempt = time.monotonic() + RETRY_SECONDS
            self._set_health(Health.FAILED)
        return disconnected_frame(self._last, self.width, self.height)

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    # -- the event loop ------------------------------------------------------------------------

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._began is None:
            await asyncio.wrap_future(self._opening)
            self._began = time.monotonic()
        due = self._began + self._frames / self.fps
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            img = await asyncio.get_running_loop().run_in_executor(self._executor, self._grab)
        except RuntimeError:  # stopped while waiting: the worker is gone
            raise MediaStreamError from None
        frame = VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts = int(self._frames * VIDEO_CLOCK_RATE / self.fps)
        frame.time_base = VIDEO_TIME_BASE
        self._frames += 1
        return frame

    def stop(self) -> None:
        super().stop()
        self._executor.submit(self._release)
        self._executor.shutdown(wait=False)
