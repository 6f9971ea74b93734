"""From the bytes of a still to a straightened page ready to upload.

:func:`process` runs the whole chain: :func:`decode_image` (format by magic bytes, size from the
header before any pixel is decoded, then a strict decode), :func:`detect_image` (a blank frame
is ``blank_page``; otherwise :func:`branch_client.scan.detect.detect`), a check that the page
carries something, :func:`branch_client.scan.warp.warp` at full resolution with the residual
tilt taken out, :func:`branch_client.scan.enhance.flatten_lighting` and
:func:`branch_client.scan.enhance.encode_for_reading`. Every refusal is a
:class:`~branch_client.scan.errors.ScanError` with a stable code. All of it is CPU-bound and
blocking: the terminal runs it off the event loop.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from branch_client.scan.detect import Detection, detect
from branch_client.scan.enhance import (
    READING_MIME,
    encode_for_reading,
    flatten_lighting,
    ink_mask,
)
from branch_client.scan.errors import ScanError
from branch_client.scan.warp import residual_skew, warp

MAX_PIXELS = 50_000_000
"""Largest picture we decode (width x height from its header); larger is ``image_too_large``."""
MAX_BYTES = 100 * 1024 * 1024
"""Largest input accepted at all, before looking inside it."""
BLANK_FRAME_STD = 3.0
"""A frame whose grey levels vary less than this (std. dev.) shows nothing: ``blank_page``."""
BLANK_INK = 0.0005
"""A page with less ink than this share of its area is ``blank_page``."""

# Formats we decode, by their first bytes (and what Pillow calls them).
_ACCEPTED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}
# Pictures we recognise but do not take.
_REFUSED = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
)


@dataclass(frozen=True)
class ScanResult:
    """A processed still.

    ``corners`` are the page's corners in the original's pixels as decoded (turned upright by
    its EXIF orientation, if any; TL, TR, BR, BL as the document reads; pixel centres at
    integers); ``page`` the straightened, evened-out page encoded for
    reading (``page_mime``, ``width`` x ``height`` pixels); ``original`` the bytes as they came
    (``original_mime``, ``original_width`` x ``original_height``). ``sha256`` is the hex
    digest of ``page``, ``original_sha256`` that of ``original``.
    """

    corners: tuple[tuple[float, float], ...]
    confidence: float
    page: bytes
    page_mime: str
    width: int
    height: int
    original: bytes
    original_mime: str
    original_width: int
    original_height: int
    sha256: str
    original_sha256: str

    def __repr__(self) -> str:  # never dump megabytes into a log
        return (
            f"ScanResult({self.width}x{self.height} {self.page_mime}, "
            f"{len(self.page)} bytes, confidence={self.confidence}, sha256={self.sha256[:12]})"
        )


def sniff(data: bytes) -> str:
    """The picture format ``data`` starts with (``JPEG``, ``PNG``, ``WEBP``, ``TIFF``), or
    raise ``unsupported_format`` (a picture we do not take) or ``not_an_image``."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    for magic, name in _REFUSED:
        if data.startswith(magic):
            raise ScanError("unsupported_format", f"{name} pictures are not accepted")
    if data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"mif1", b"avif", b"heim"):
        raise ScanError("unsupported_format", "HEIF/AVIF pictures are not accepted")
    raise ScanError("not_an_image", "the data is not a picture")


def decode_image(data: bytes) -> np.ndarray:
    """The picture in ``data`` as a BGR uint8 array, turned as its EXIF orientation says.

    Checked in this order, without decoding pixels until the last step: size of the input,
    format by magic bytes (``not_an_image``, ``unsupported_format``), the header parses and
    names the same format (``corrupt_image``), the declared width x height is at most
    :data:`MAX_PIXELS` (``image_too_large``); then a decode that refuses truncated or damaged
    data (``corrupt_image``).
    """
    if len(data) > MAX_BYTES:
        raise ScanError("image_too_large", f"{len(data)} bytes is more than {MAX_BYTES}")
    expected = sniff(data)
    with warnings.catch_warnings():
        # Pillow warns about decompression bombs on open; we make our own, stricter decision.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))  # reads the header only
        except Image.DecompressionBombError as exc:
            raise ScanError("image_too_large", "the picture declares too many pixels") from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ScanError("corrupt_image", f"the {expected} header cannot be read") from exc
        if im.format != expected:
            raise ScanError("corrupt_image", f"{expected} data reads as {im.format}")
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise ScanError("image_too_large", f"{width}x{height} is more than {MAX_PIXELS} pixels")
        if width < 1 or height < 1:
            raise ScanError("corrupt_image", "the picture has no pixels")
        try:
            im.load()  # refuses truncated data (Pillow's LOAD_TRUNCATED_IMAGES stays off)
            rgb = ImageOps.exif_transpose(im).convert("RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise ScanError("corrupt_image", f"the {expected} data is damaged") from exc
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


def _is_blank_frame(img: np.ndarray) -> bool:
    h, w = img.shape[:2]
    scale = min(1.0, 256 / max(h, w))
    small = cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))))
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
    return float(gray.std()) < BLANK_FRAME_STD


def is_blank_page(page: np.ndarray) -> bool:
    """Does a (small, straightened) page carry essentially nothing: no print, no writing, no
    photo? Uneven light and a faint security tint do not count as content."""
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) if page.ndim == 3 else page
    h, w = gray.shape
    mx, my = max(1, w // 20), max(1, h // 20)  # the border may show a sliver of desk
    inner = gray[my : h - my, mx : w - mx]
    if inner.size == 0:
        return True
    ink = ink_mask(inner, ratio=0.8)
    if float(ink.mean()) >= BLANK_INK:
        return False
    # a coloured card without dark print: look for any colour structure at all
    colour = page[my : h - my, mx : w - mx] if page.ndim == 3 else inner
    edges = cv2.Canny(cv2.GaussianBlur(colour, (3, 3), 0), 40, 120)
    return float((edges > 0).mean()) < 0.002


def detect_image(img: np.ndarray) -> Detection:
    """The page in a decoded picture; ``blank_page`` for a frame with nothing at all in it,
    ``no_document`` when no page is found."""
    if _is_blank_frame(img):
        raise ScanError("blank_page", "the picture is one flat colour")
    return detect(img)


def process(image_bytes: bytes) -> ScanResult:
    """Decode, find, check, straighten, even out and encode one still. Raises
    :class:`ScanError`."""
    img = decode_image(image_bytes)
    found = detect_image(img)
    if is_blank_page(found.preview):
        raise ScanError("blank_page", "the page carries nothing")
    page = warp(img, found.corners, residual_skew(found.preview))
    encoded = encode_for_reading(flatten_lighting(page))
    h, w = page.shape[:2]
    oh, ow = img.shape[:2]
    return ScanResult(
        corners=tuple((float(x), float(y)) for x, y in found.corners),
        confidence=found.confidence,
        page=encoded,
        page_mime=READING_MIME,
        width=w,
        height=h,
        original=image_bytes,
        original_mime=_ACCEPTED[sniff(image_bytes)],
        original_width=ow,
        original_height=oh,
        sha256=hashlib.sha256(encoded).hexdigest(),
        original_sha256=hashlib.sha256(image_bytes).hexdigest(),
    )
