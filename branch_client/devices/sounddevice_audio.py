"""Microphone and speaker through PortAudio (``sounddevice``); on a Linux terminal that is ALSA,
usually routed to PulseAudio or PipeWire. The only module that imports ``sounddevice``;
:mod:`branch_client.devices` imports it lazily, only when config names a real device."""

from __future__ import annotations

import asyncio
import fractions
import logging
import threading
import time
from typing import Any

import sounddevice as sd
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from branch_client.devices.audio import RATE, SAMPLES, MonoConverter, PlayoutBuffer
from branch_client.devices.errors import DeviceError, Health

log = logging.getLogger(__name__)

DEVICE_LATENCY_S = 0.03
"""The output latency the speaker asks PortAudio for. ``"low"`` (about 9 ms through ALSA's
PulseAudio plugin) means a callback every 2 ms, each needing the GIL, which a busy process does
not always grant in time: the device underflows and ALSA stalls to recover."""
QUEUE_FRAMES = 25  # microphone: half a second; older audio is dropped rather than sent late


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
    """A speaker by PortAudio device name (``None``: the system default), at low latency.

    ``play`` converts a frame (any format, layout and rate) to 48 kHz mono and queues it in a
    :class:`PlayoutBuffer` (play-out starts at 60 ms queued; latency that stays is trimmed); the
    ``OutputStream`` callback, on PortAudio's thread, pulls exactly what the device asks for and
    gets silence when the buffer is dry. Opening blocks briefly, so build it with
    :func:`branch_client.devices.open_speaker`; ``close`` lets the queued audio play out first,
    so call it off the event loop too.
    """

    def __init__(
        self,
        device: str | None = None,
        *,
        buffer: PlayoutBuffer | None = None,
        device_latency: float = DEVICE_LATENCY_S,
    ) -> None:
        _find(device, "output", "speaker_unavailable")
        self.device = device
        self.buffer = buffer or PlayoutBuffer()
        self.device_underflows = 0
        """Callbacks PortAudio reports as late (the device played silence we did not choose)."""
        self._converter = MonoConverter()
        self._closed = False
        try:
            self._stream = sd.OutputStream(
                samplerate=RATE,
                channels=1,
                dtype="int16",
                device=device,
                callback=self._callback,
                latency=device_latency,
            )
            self._stream.start()
        except sd.PortAudioError as exc:
            raise DeviceError("speaker_unavailable", f"cannot open {device}: {exc}") from None
        log.info("speaker %s: output latency %.0f ms", device, self._stream.latency * 1000)

    @property
    def latency(self) -> float:
        """Seconds from ``play`` to the device: what is queued plus the device's own latency."""
        return float(self.buffer.queued / RATE + self._stream.latency)

    def _callback(self, outdata: Any, frames: int, timing: Any, status: sd.CallbackFlags) -> None:
        if status.output_underflow:
            self.device_underflows += 1
        outdata[:, 0] = self.buffer.pull(frames)

    def play(self, frame: AudioFrame) -> None:
        self.buffer.push(self._converter.convert(frame))

    def close(self, drain_s: float = 0.5) -> None:
        """Play out what is queued (for at most ``drain_s``), then stop and close the device."""
        if self._closed:
            return
        self._closed = True
        self.buffer.drain()
        deadline = time.monotonic() + drain_s
        while self.buffer.queued and time.monotonic() < deadline:
            time.sleep(0.005)
        # The device still holds its latency's worth, and stop() does not reliably play that
        # through ALSA's PulseAudio plugin (abort() surely drops it).
        time.sleep(self._stream.latency)
        try:
            self._stream.stop()
        finally:
            self._stream.close()
        log.info(
            "speaker %s closed: %.1f s played, %d underruns, %.2f s dropped",
            self.device,
            self.buffer.played / RATE,
            self.buffer.underruns,
            self.buffer.dropped / RATE,
        )
