"""The terminal's own camera and microphone: opened once, shared by the kiosk and every call.

The devices are opened when the terminal starts (or at the first call), and each consumer gets
its own copy through one :class:`~aiortc.contrib.media.MediaRelay`: the kiosk's self view and
level meter, and every peer connection (one per staff member), so a second staff member joining
does not open the camera again. The camera is converted once to the encoders' pixel format
(:class:`Yuv420`), so the calls do not each convert the same frame in their own thread. A device
that does not open is left out (the calls go on without it) and its health says why: ``idle``
before the devices are opened, then what the track reports (``ok``, ``failed``, …) or
``missing`` / ``in_use`` for one that never opened.
"""

from __future__ import annotations

import asyncio
import logging

from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from branch_client.devices import DeviceError, open_camera, open_microphone, open_speaker
from branch_client.devices.synthetic import tone_frames

log = logging.getLogger(__name__)

_HEALTH_OF_CODE = {"camera_in_use": "in_use", "microphone_in_use": "in_use"}


class Yuv420(MediaStreamTrack):
    """A video track converted once to the encoders' pixel format, so several calls (and the
    kiosk) can share its frames without each converting the same frame in its own thread."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source

    @property
    def health(self) -> object:
        return getattr(self.source, "health", "ok")

    async def recv(self) -> VideoFrame:
        frame = await self.source.recv()
        if not isinstance(frame, VideoFrame):
            raise MediaStreamError
        if frame.format.name == "yuv420p":
            return frame
        converted = frame.reformat(format="yuv420p")
        converted.pts, converted.time_base = frame.pts, frame.time_base
        return converted

    def stop(self) -> None:
        super().stop()
        self.source.stop()


class SharedDevices:
    """The camera (``camera`` spec) and the microphone and speaker (``audio`` spec)."""

    def __init__(self, camera: str, audio: str) -> None:
        self.camera_spec = camera
        self.audio_spec = audio
        self.camera: MediaStreamTrack | None = None
        self.microphone: MediaStreamTrack | None = None
        self.relay = MediaRelay()
        self._errors: dict[str, str] = {}
        self._opened = False

    @property
    def opened(self) -> bool:
        return self._opened

    def open(self) -> list[DeviceError]:
        """Open the camera and the microphone, the first time only; the errors of those that
        would not open (their health says so from now on)."""
        if self._opened:
            return []
        self._opened = True
        failed = []
        try:
            self.camera = Yuv420(open_camera(self.camera_spec))
        except DeviceError as exc:
            failed.append(self._failed("camera", exc))
        try:
            self.microphone = open_microphone(self.audio_spec)
        except DeviceError as exc:
            failed.append(self._failed("microphone", exc))
        return failed

    def _failed(self, device: str, exc: DeviceError) -> DeviceError:
        log.error("%s unavailable (%s): %s", device, exc.code, exc)
        self._errors[device] = exc.code
        return exc

    def camera_copy(self) -> MediaStreamTrack | None:
        """A copy of the camera for one consumer (newest frame only), or ``None`` without one."""
        return None if self.camera is None else self.relay.subscribe(self.camera, buffered=False)

    def microphone_copy(self, *, buffered: bool = True) -> MediaStreamTrack | None:
        """A copy of the microphone for one consumer, or ``None`` without one."""
        if self.microphone is None:
            return None
        return self.relay.subscribe(self.microphone, buffered=buffered)

    def health(self) -> tuple[str, str]:
        """Health of the camera and of the microphone: ``idle`` before they are opened."""

        def of(device: str, track: MediaStreamTrack | None) -> str:
            if track is not None:
                return str(getattr(track, "health", "ok"))
            if device in self._errors:
                return _HEALTH_OF_CODE.get(self._errors[device], "missing")
            return "idle"

        return of("camera", self.camera), of("microphone", self.microphone)

    @property
    def has_speaker(self) -> bool:
        """Synthetic audio has no speaker: what the staff say is counted, not played."""
        return self.audio_spec != "synthetic"

    async def test_speaker(self) -> bool:
        """Play a short chime for the kiosk's device check. ``False``: no speaker to test.
        Raises :class:`DeviceError` when the speaker does not open."""
        if not self.has_speaker:
            return False
        speaker = await open_speaker(self.audio_spec)
        try:
            for frame in tone_frames(660.0, seconds=1.0):
                speaker.play(frame)
            await asyncio.sleep(1.2)
        finally:
            await asyncio.to_thread(speaker.close)
        return True

    def stop(self) -> None:
        for track in (self.camera, self.microphone):
            if track is not None:
                track.stop()
