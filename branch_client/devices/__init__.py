"""Devices behind one interface each, chosen by config.

Every camera is an aiortc ``VideoStreamTrack`` with a ``health``; every microphone an audio
``MediaStreamTrack``; a speaker plays frames (:mod:`.audio`); the document camera gives a live
view and stills (:mod:`.document_camera`). The synthetic ones (:mod:`.synthetic`) ship with the
product. The real adapters (:mod:`.opencv_camera`, :mod:`.sounddevice_audio`) are the only
modules that import ``cv2`` and ``sounddevice``, and are imported here lazily, only when config
names them. :mod:`.shared` opens the terminal's camera and microphone once, for the kiosk and
every call. (The card reader, PC/SC, lives with the card in :mod:`branch_client.card`.)
"""

from __future__ import annotations

import asyncio
import os

from aiortc import MediaStreamTrack
from aiortc.mediastreams import VideoStreamTrack

from branch_client.devices.audio import Speaker
from branch_client.devices.errors import DeviceError, Health
from branch_client.devices.synthetic import SyntheticCamera, ToneSource

__all__ = ["DeviceError", "Health", "Speaker", "open_camera", "open_microphone", "open_speaker"]


def open_camera(spec: str) -> VideoStreamTrack:
    """``synthetic`` (test pattern), a device index like ``0``, or the path of a video file."""
    if spec == "synthetic":
        return SyntheticCamera()
    if spec.isdigit():
        from branch_client.devices.opencv_camera import OpenCVCamera

        return OpenCVCamera(int(spec))
    if os.path.isfile(spec):
        from branch_client.devices.opencv_camera import VideoFileCamera

        return VideoFileCamera(spec)
    raise DeviceError("camera_unavailable", f"no camera {spec!r}: not a device index or a file")


def open_microphone(spec: str) -> MediaStreamTrack:
    """``synthetic`` (a 440 Hz tone), ``default`` (the system's), or a PortAudio device name."""
    if spec == "synthetic":
        return ToneSource()
    from branch_client.devices.sounddevice_audio import SoundDeviceMicrophone

    return SoundDeviceMicrophone(None if spec == "default" else spec)


async def open_speaker(spec: str) -> Speaker:
    """``default`` or a PortAudio device name; opened off the event loop."""
    from branch_client.devices.sounddevice_audio import SoundDeviceSpeaker

    return await asyncio.to_thread(SoundDeviceSpeaker, None if spec == "default" else spec)
