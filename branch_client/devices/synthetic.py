"""Synthetic media sources: the camera and the microphone of the demo and the tests.

The synthetic camera draws a moving test pattern with a running clock, so a viewer can tell at a
glance that video is live and how late it is; the synthetic microphone plays a steady tone. Both
are aiortc ``MediaStreamTrack``s, the same interface the real device adapters implement, and are
shipped with the product: the demo and the tests need them.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import math
import time

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av import AudioFrame, VideoFrame

log = logging.getLogger(__name__)

# Seven-segment digits: which of segments a..g are lit.
_SEGMENTS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}
_BARS = np.array(
    [
        [192, 192, 192],
        [0, 192, 192],
        [192, 192, 0],
        [0, 192, 0],
        [192, 0, 192],
        [0, 0, 192],
        [192, 0, 0],
        [16, 16, 16],
    ],
    dtype=np.uint8,
)  # BGR: grey, yellow, cyan, green, magenta, red, blue, black


def draw_digit(img: np.ndarray, char: str, x: int, y: int, w: int, h: int, colour: int) -> None:
    """Draw one seven-segment character (a digit, ':' or '.') into ``img`` at (x, y)."""
    t = max(2, w // 5)
    if char == ":":
        img[y + h // 4 : y + h // 4 + t, x + w // 2 - t // 2 : x + w // 2 + t // 2 + 1] = colour
        img[y + 3 * h // 4 - t : y + 3 * h // 4, x + w // 2 - t // 2 : x + w // 2 + t // 2 + 1] = (
            colour
        )
        return
    if char == ".":
        img[y + h - t : y + h, x + w // 2 - t // 2 : x + w // 2 + t // 2 + 1] = colour
        return
    half = h // 2
    boxes = {
        "a": (x, y, w, t),
        "d": (x, y + h - t, w, t),
        "g": (x, y + half - t // 2, w, t),
        "f": (x, y, t, half),
        "b": (x + w - t, y, t, half),
        "e": (x, y + half, t, h - half),
        "c": (x + w - t, y + half, t, h - half),
    }
    for seg in _SEGMENTS.get(char, ""):
        bx, by, bw, bh = boxes[seg]
        img[by : by + bh, bx : bx + bw] = colour


def pattern_frame(width: int, height: int, t: float, frame_no: int) -> np.ndarray:
    """A BGR frame: colour bars scrolling with time, a bouncing box, and the wall clock."""
    bar_w = max(1, width // len(_BARS))
    columns = (np.arange(width) + int(t * 80)) // bar_w % len(_BARS)
    img = np.ascontiguousarray(np.broadcast_to(_BARS[columns], (height, width, 3)))
    # A white box bouncing across the lower third.
    box = max(8, height // 10)
    span = max(1, width - box)
    bx = int(abs((t * 160) % (2 * span) - span))
    by = height * 2 // 3
    img[by : by + box, bx : bx + box] = 255
    # The clock, HH:MM:SS.mmm, on a black band.
    now = time.localtime(t)
    text = time.strftime("%H:%M:%S", now) + f".{int(t * 1000) % 1000:03d}"
    dw, dh, gap = max(6, width // 32), max(12, height // 10), max(2, width // 160)
    band_h = dh + 2 * gap
    img[gap : gap + band_h, gap : gap + len(text) * (dw + gap) + gap] = 0
    for i, char in enumerate(text):
        draw_digit(img, char, 2 * gap + i * (dw + gap), 2 * gap, dw, dh, 255)
    # Frame counter as a 16-bit binary strip under the clock, for machines reading frames.
    cell = max(2, width // 80)
    for bit in range(16):
        lit = (frame_no >> (15 - bit)) & 1
        img[
            band_h + 2 * gap : band_h + 2 * gap + cell, gap + bit * cell : gap + (bit + 1) * cell
        ] = 255 if lit else 0
    return img


class SyntheticCamera(VideoStreamTrack):
    """A camera that films a test pattern: moving bars, a bouncing box, a running clock."""

    def __init__(self, width: int = 640, height: int = 480) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._frames = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        img = pattern_frame(self.width, self.height, time.time(), self._frames)
        self._frames += 1
        frame = VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneSource(MediaStreamTrack):
    """A microphone that hears a steady sine tone (440 Hz by default), 20 ms frames at 48 kHz."""

    kind = "audio"
    RATE = 48_000
    SAMPLES = 960

    def __init__(self, frequency: float = 440.0, level: float = 0.2) -> None:
        super().__init__()
        self.frequency, self.level = frequency, level
        self._sent = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._sent / self.RATE
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        n = np.arange(self._sent, self._sent + self.SAMPLES)
        wave = self.level * np.sin(2 * math.pi * self.frequency * n / self.RATE)
        samples = (wave * 32767).astype("<i2")
        frame = AudioFrame(format="s16", layout="mono", samples=self.SAMPLES)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate = self.RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, self.RATE)
        self._sent += self.SAMPLES
        return frame


def tone_frames(frequency: float, *, seconds: float, level: float = 0.2) -> list[AudioFrame]:
    """A sine tone as 20 ms frames (48 kHz mono s16), faded in and out: the speaker test."""
    rate, samples = ToneSource.RATE, ToneSource.SAMPLES
    total = int(seconds * rate) // samples * samples
    n = np.arange(total)
    ramp = np.minimum(1.0, np.minimum(n, total - n) / (0.02 * rate))
    wave = (level * ramp * np.sin(2 * math.pi * frequency * n / rate) * 32767).astype("<i2")
    frames = []
    for start in range(0, total, samples):
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(wave[start : start + samples].tobytes())
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = fractions.Fraction(1, rate)
        frames.append(frame)
    return frames
