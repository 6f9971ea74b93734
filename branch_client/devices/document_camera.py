"""The document camera: a live view for placing the page, and a still at full resolution.

One interface, three adapters chosen by configuration (``--doc-camera``):

* ``synthetic`` — a stand with a sample document on a desk (``branch_client.scan.synthetic``):
  each still is a 12-megapixel photograph of the next page, the live view the same scene small.
* a directory — each still is the next image file in it, in name order (sample documents, or
  corrupt ones in tests): the bytes go to the pipeline as they are.
* a device index — an OpenCV capture (:mod:`.opencv_camera` holds the cv2 calls): the live view at
  640x480, the still at the device's largest resolution.

The still is what the pipeline gets; ``capture`` blocks and is run off the event loop.
"""

from __future__ import annotations

import asyncio
import fractions
import io
import threading
import time
from pathlib import Path
from typing import Protocol

import numpy as np
from aiortc.mediastreams import VideoStreamTrack
from av import VideoFrame
from PIL import Image

from branch_client.devices.errors import DeviceError

PREVIEW_SIZE = (640, 480)
PREVIEW_FPS = 10
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bin")


class DocumentCamera(Protocol):
    def preview(self) -> VideoStreamTrack:
        """A new live view (small)."""
        ...

    def capture(self) -> bytes:
        """A still at full resolution, as encoded image bytes. Blocks."""
        ...


class _StillPreview(VideoStreamTrack):
    """A live view that shows whatever picture its camera currently sees, at 10 fps."""

    def __init__(self, source: _Scene) -> None:
        super().__init__()
        self.source = source
        self._sent = 0
        self._began: float | None = None

    async def recv(self) -> VideoFrame:
        if self._began is None:
            self._began = time.monotonic()
        due = self._began + self._sent / PREVIEW_FPS
        if (wait := due - time.monotonic()) > 0:
            await asyncio.sleep(wait)
        frame = VideoFrame.from_ndarray(self.source.small(), format="bgr24")
        frame.pts = int(self._sent * 90_000 / PREVIEW_FPS)
        frame.time_base = fractions.Fraction(1, 90_000)
        self._sent += 1
        return frame


class _Scene(Protocol):
    def small(self) -> np.ndarray: ...


class SyntheticDocumentCamera:
    """A stand with sample documents: page ``n`` is synthetic scene ``seed + n``."""

    def __init__(self, seed: int = 7, size: tuple[int, int] = (4000, 3000)) -> None:
        self.seed = seed
        self.size = size
        self._lock = threading.Lock()
        self._small: np.ndarray | None = None

    def small(self) -> np.ndarray:
        if self._small is None:
            from branch_client.scan.synthetic import generate

            self._small = generate(self.seed, *PREVIEW_SIZE)[0]
        return self._small

    def preview(self) -> VideoStreamTrack:
        return _StillPreview(self)

    def capture(self) -> bytes:
        from branch_client.scan.synthetic import generate

        with self._lock:
            img = generate(self.seed, *self.size)[0]
            self.seed += 1  # the resident turns the page
            self._small = None
        out = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])).save(out, "JPEG", quality=92)
        return out.getvalue()


class DirectoryDocumentCamera:
    """Each still is the next file of ``directory`` (name order), passed on as it is."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._next = 0
        self._lock = threading.Lock()
        self._small: np.ndarray | None = None

    def _files(self) -> list[Path]:
        return sorted(p for p in self.directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def small(self) -> np.ndarray:
        if self._small is None:
            files = self._files()
            img = np.full((PREVIEW_SIZE[1], PREVIEW_SIZE[0], 3), 40, np.uint8)
            if files:
                try:
                    with Image.open(files[self._next % len(files)]) as picture:
                        picture.draft("RGB", PREVIEW_SIZE)
                        small = picture.convert("RGB").resize(PREVIEW_SIZE)
                    img = np.ascontiguousarray(np.asarray(small)[:, :, ::-1])
                except (OSError, ValueError, Image.DecompressionBombError):
                    pass  # a damaged sample: the live view stays dark, the still says why
            self._small = img
        return self._small

    def preview(self) -> VideoStreamTrack:
        return _StillPreview(self)

    def capture(self) -> bytes:
        with self._lock:
            files = self._files()
            if not files:
                raise DeviceError("camera_unavailable", f"no pictures in {self.directory}")
            path = files[self._next % len(files)]
            self._next += 1
            self._small = None
        return path.read_bytes()


def open_document_camera(spec: str) -> DocumentCamera:
    """``synthetic``, a directory of pictures, or a device index."""
    if spec == "synthetic":
        return SyntheticDocumentCamera()
    if spec.isdigit():
        from branch_client.devices.opencv_camera import OpenCVDocumentCamera

        return OpenCVDocumentCamera(int(spec))
    path = Path(spec)
    if path.is_dir():
        return DirectoryDocumentCamera(path)
    raise DeviceError("camera_unavailable", f"no document camera {spec!r}")
