"""Cameras read through OpenCV: a V4L2/UVC device by index, or a video file (for demos and
tests). The only module that imports ``cv2``; :func:`branch_client.devices.open_camera` imports
it lazily, so a terminal on the synthetic camera never loads OpenCV."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from branch_client.devices.camera import CapturedCamera
from branch_client.devices.errors import DeviceError


class _OpenCVCapture:
    """A ``cv2.VideoCapture`` as a :class:`~branch_client.devices.camera.Capture`."""

    def __init__(self, capture: cv2.VideoCapture, *, loop: bool = False) -> None:
        self._capture = capture
        self._loop = loop

    def read(self) -> np.ndarray | None:
        ok, img = self._capture.read()
        if not ok and self._loop:
            # End of a file: start again from the first frame.
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, img = self._capture.read()
        return img if ok else None

    def release(self) -> None:
        self._capture.release()


def _device_node(index: int) -> Path | None:
    """On Linux, the V4L2 node a camera index names; elsewhere we cannot tell without opening."""
    return Path(f"/dev/video{index}") if sys.platform.startswith("linux") else None


class OpenCVCamera(CapturedCamera):
    """A USB (UVC) camera by index, asking for ``width``x``height`` at ``fps``."""

    def __init__(self, index: int, width: int = 1280, height: int = 720, fps: int = 30) -> None:
        node = _device_node(index)
        if node is not None and not node.exists():
            raise DeviceError("camera_unavailable", f"no camera {index}: {node} does not exist")
        self.index = index
        super().__init__(self._open, name=f"video{index}", width=width, height=height, fps=fps)

    def _open(self) -> _OpenCVCapture:
        node = _device_node(self.index)
        capture = cv2.VideoCapture(self.index)
        if not capture.isOpened():
            capture.release()
            if node is not None and node.exists():  # there, but another program holds it
                raise DeviceError("camera_in_use", f"camera {self.index} is busy or not ours")
            raise DeviceError("camera_unavailable", f"camera {self.index} cannot be opened")
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        return _OpenCVCapture(capture)


class VideoFileCamera(CapturedCamera):
    """A camera that films a video file, from the start again at its end when ``loop``."""

    def __init__(self, path: str | os.PathLike[str], loop: bool = True, fps: float = 30.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DeviceError("camera_unavailable", f"no video file {self.path}")
        self.loop = loop
        super().__init__(self._open, name=self.path.name, fps=fps)

    def _open(self) -> _OpenCVCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise DeviceError("camera_unavailable", f"{self.path} is not a video we can read")
        return _OpenCVCapture(capture, loop=self.loop)


class OpenCVDocumentCamera:
    """A document camera (a UVC "visualiser") by index: the live view is the device at 640x480,
    the still one frame at the largest resolution it offers, as PNG (lossless: the pipeline
    compresses the corrected page itself)."""

    STILL_SIZE = (4096, 3072)  # asked for; the device gives the nearest it has

    def __init__(self, index: int) -> None:
        node = _device_node(index)
        if node is not None and not node.exists():
            raise DeviceError("camera_unavailable", f"no document camera {index}: {node}")
        self.index = index

    def preview(self) -> OpenCVCamera:
        return OpenCVCamera(self.index, width=640, height=480, fps=10)

    def capture(self) -> bytes:
        capture = cv2.VideoCapture(self.index)
        try:
            if not capture.isOpened():
                raise DeviceError("camera_unavailable", f"document camera {self.index} is busy")
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.STILL_SIZE[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.STILL_SIZE[1])
            for _ in range(3):  # the first frames after a mode change are often dark
                capture.read()
            ok, img = capture.read()
            if not ok or img is None:
                raise DeviceError("camera_unavailable", "the document camera gave no picture")
            ok, encoded = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if not ok:
                raise DeviceError("camera_unavailable", "the still could not be encoded")
            return bytes(encoded)
        finally:
            capture.release()
