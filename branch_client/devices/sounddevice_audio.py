"""Microphone and speaker through PortAudio (``sounddevice``); on a Linux terminal that is ALSA,
usually routed to PulseAudio or PipeWire. The only module that imports ``sounddevice``;
:mod:`branch_client.devices` imports it lazily, only when config names a real device."""

from __future__ import annotations

import asyncio
import collections
import fractions
import logging
import threading
from typing import Any

import av
import numpy as np
import sounddevice as sd
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from branch_client.devices.audio import RATE, SAMPLES
from branch_client.devices.errors import DeviceError, Health

log = logging.getLogger(__name__)

QUEUE_FRAMES = 25  # half a second; older audio is dropped rather than played late


def _find(device: str | None, kind: str, code: str) -> None:
    try:
        sd.query_devices(device, kind=kind)
    except (ValueError, sd.PortAudioError) as exc:
        raise DeviceError(code, f"no {kind} device {device or '(default)'}: {exc}") from None


class SoundDeviceMicrophone(MediaStreamTrack):
    """A microphone by PortAudio device name (``None``: the system default).

    The ``InputStream`` callback runs on PortAudio's thread and hands each 20 ms block to the
    event loop with ``call_soon_threadsafe``; the stream is opened off the loop at the first
    ``recv``.
    """

    kind = "audio"

    def __init__(self, device: str | None = None) -> None:
        _find(device, "input", "microphone_unavailable")
        super().__init__()
        self.device = device
        self.health = Health.MISSING
        self._stream: Any = None
        self._queue: asyncio.Queue[bytes | None] | None = None
        self._sent = 0
        self._lock = threading.Lock()

    def _open(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]) -> Any:
        def deliver(block: bytes) -> None:
            if queue.full():
                queue.get_nowait()  # drop the oldest: late audio is worse than lost audio
            queue.put_nowait(block)

        def callback(indata: Any, frames: int, time: Any, status: sd.CallbackFlags) -> None:
            loop.call_soon_threadsafe(deliver, bytes(indata))

        try:
            stream = sd.RawInputStream(
                samplerate=RATE,
                blocksize=SAMPLES,
                channels=1,
                dtype="int16",
                device=self.device,
                callback=callback,
            )
            stream.start()
        except sd.PortAudioError as exc:
            raise DeviceError(
                "microphone_unavailable", f"cannot open {self.device}: {exc}"
            ) from None
        return stream

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE_FRAMES)
            loop = asyncio.get_running_loop()
            stream = await asyncio.to_thread(self._open, loop, self._queue)
            with self._lock:
                if self.readyState != "live":
                    stream.close()
                    raise MediaStreamError
                self._stream = stream
            log.info("microphone %s: state %s -> %s", self.device, self.health, Health.OK)
            self.health = Health.OK
        block = await self._queue.get()
        if block is None:
            raise MediaStreamError
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(block)
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += SAMPLES
        return frame

    def stop(self) -> None:
        super().stop()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            stream.abort()
            stream.close()
        if self._queue is not None:
            if self._queue.full():
                self._queue.get_nowait()
            self._queue.put_nowait(None)


class SoundDeviceSpeaker:
    """A speaker by PortAudio device name (``None``: the system default). ``play`` queues a
    frame (any format, resampled to 48 kHz mono s16) and returns; PortAudio's callback pulls.
    Opening blocks briefly, so build it with :func:`branch_client.devices.open_speaker`."""

    def __init__(self, device: str | None = None) -> None:
        _find(device, "output", "speaker_unavailable")
        self.device = device
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
        self._pending: collections.deque[bytes] = collections.deque()
        self._buffer = b""
        self._lock = threading.Lock()
        try:
            self._stream = sd.RawOutputStream(
                samplerate=RATE,
                blocksize=SAMPLES,
                channels=1,
                dtype="int16",
                device=device,
                callback=self._callback,
                latency="low",
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise DeviceError("speaker_unavailable", f"cannot open {device}: {exc}") from None

    def _callback(self, outdata: Any, frames: int, time: Any, status: sd.CallbackFlags) -> None:
        need = frames * 2
        with self._lock:
            while len(self._buffer) < need and self._pending:
                self._buffer += self._pending.popleft()
            chunk, self._buffer = self._buffer[:need], self._buffer[need:]
        outdata[:] = chunk + b"\0" * (need - len(chunk))

    def play(self, frame: AudioFrame) -> None:
        frame.pts = None  # the resampler must not try to keep a timeline across calls
        for out in self._resampler.resample(frame):
            samples = np.ascontiguousarray(out.to_ndarray().ravel()[: out.samples], dtype="<i2")
            with self._lock:
                if len(self._pending) >= QUEUE_FRAMES:
                    self._pending.popleft()
                self._pending.append(samples.tobytes())

    def close(self) -> None:
        self._stream.abort()
        self._stream.close()
