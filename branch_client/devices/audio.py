"""The audio interfaces: a microphone is an aiortc audio ``MediaStreamTrack`` (48 kHz mono s16,
20 ms frames); a speaker is anything with ``play(frame)`` and ``close()``.

Also the speaker's pure parts, which any speaker adapter can use and tests drive without a
device: :class:`PlayoutBuffer`, the jitter buffer between frames arriving from the network and a
device pulling samples, and :class:`MonoConverter`, which turns any decoded frame into the
48 kHz mono samples the buffer holds.
"""

from __future__ import annotations

import collections
import threading
from typing import Protocol

import av
import numpy as np
from av import AudioFrame

RATE = 48_000
SAMPLES = 960  # 20 ms at 48 kHz


class Speaker(Protocol):
    """Plays what the specialist says. ``play`` never blocks the event loop; ``close`` may block
    for a moment (it lets the last audio play out), so call it off the loop."""

    def play(self, frame: AudioFrame) -> None: ...

    def close(self) -> None: ...


class PlayoutBuffer:
    """48 kHz mono s16 samples between the network (``push``, a 20 ms frame at a time, with
    jitter) and a device callback (``pull``, any block size, on the device's own thread).

    Theory of operation: play-out starts once ``target`` samples are queued, so the small
    irregularities of arrival do not starve the device. When the queue runs dry mid-stream the
    device gets silence for the missing part (an *underrun*) and play-out waits for ``target``
    again. Being behind is told apart from a burst by watching the queue over a ``window`` of
    play-out: if audio kept arriving and the queue never fell below ``target + slack``, the part
    above ``target`` is latency that will never go away by itself (frames held up by the network
    and released at once, a device that stalled, clocks that drift), and the oldest of it is
    dropped. A burst, or a clip queued all at once (the kiosk's chime), drains by itself and is
    played whole. ``cap`` bounds the queue whatever happens. ``drain`` plays whatever is left
    without waiting for ``target``, for closing.

    The defaults: 60 ms target, trimmed when 100 ms stayed queued for half a second, 2 s cap.
    They ride out frames that arrive in pairs (40 ms apart) and an event loop that is late by a
    frame, which a terminal encoding video is.
    """

    def __init__(
        self,
        target: int = 3 * SAMPLES,
        slack: int = 2 * SAMPLES,
        window: int = 25 * SAMPLES,
        cap: int = 100 * SAMPLES,
    ) -> None:
        if not 0 < target < target + slack < cap or window <= 0:
            raise ValueError(
                f"need 0 < target < target + slack < cap and a window; got target {target}, "
                f"slack {slack}, window {window}, cap {cap}"
            )
        self.target, self.slack, self.window, self.cap = target, slack, window, cap
        self.underruns = 0
        """Times the device asked for audio mid-stream and got (partly) silence."""
        self.dropped = 0
        """Samples thrown away because play-out was behind (or the queue over ``cap``)."""
        self.played = 0
        """Samples handed to the device (not counting the silence)."""
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._head = 0  # samples of _chunks[0] already played
        self._playing = False
        self._draining = False
        self._window_pulled = 0
        self._window_fed = 0  # samples pushed in the second half of this window
        self._window_low = cap  # the least queued after a pull, this window
        self._lock = threading.Lock()

    @property
    def queued(self) -> int:
        """Samples waiting to be played."""
        return self._queued

    def push(self, samples: np.ndarray) -> None:
        """Queue int16 mono samples (dropping the oldest beyond ``cap``)."""
        if not len(samples):
            return
        with self._lock:
            self._chunks.append(samples.astype(np.int16, copy=False))
            self._queued += len(samples)
            if 2 * self._window_pulled >= self.window:
                self._window_fed += len(samples)
            if self._queued > self.cap:
                self._drop(self._queued - self.cap)

    def pull(self, count: int) -> np.ndarray:
        """The next ``count`` samples to play; silence for whatever is not there."""
        out = np.zeros(count, dtype=np.int16)
        with self._lock:
            if not self._playing and (self._queued >= self.target or self._draining):
                self._playing = True
            filled = 0
            while self._playing and filled < count and self._chunks:
                chunk = self._chunks[0]
                take = min(count - filled, len(chunk) - self._head)
                out[filled : filled + take] = chunk[self._head : self._head + take]
                filled += take
                self._advance(take)
            self.played += filled
            if self._playing and filled < count:
                self._playing = False
                if not self._draining:
                    self.underruns += 1
            self._watch(count)
        return out

    def drain(self) -> None:
        """Play out what is queued, however little: the stream is ending."""
        with self._lock:
            self._draining = True

    def _watch(self, pulled: int) -> None:
        """At the end of each window: drop what stayed queued above the target all along, if
        the stream is live (it was still feeding the queue in the window's second half, at
        half speed at least: a clip queued at once is not)."""
        self._window_low = min(self._window_low, self._queued)
        self._window_pulled += pulled
        if self._window_pulled < self.window:
            return
        live = 4 * self._window_fed >= self.window
        if live and self._window_low > self.target + self.slack and not self._draining:
            self._drop(self._window_low - self.target)
        self._window_pulled = self._window_fed = 0
        self._window_low = self._queued

    def _drop(self, count: int) -> None:
        self.dropped += count
        while count > 0:
            take = min(count, len(self._chunks[0]) - self._head)
            self._advance(take)
            count -= take

    def _advance(self, count: int) -> None:
        self._head += count
        self._queued -= count
        if self._head == len(self._chunks[0]):
            self._chunks.popleft()
            self._head = 0


class MonoConverter:
    """Decoded frames of any format, layout and rate (aiortc's Opus decoder gives 48 kHz stereo
    s16) as 48 kHz mono int16 samples. Channels are averaged; a change of input format mid-stream
    starts a new resampler."""

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def convert(self, frame: AudioFrame) -> np.ndarray:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or shape != self._input:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
            self._input = shape
        frame.pts = None  # the resampler must not try to keep a timeline across calls
        parts = [
            out.to_ndarray().reshape(-1)[: out.samples] for out in self._resampler.resample(frame)
        ]
        if not parts:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(parts).astype(np.int16, copy=False)
