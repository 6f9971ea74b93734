"""Making a straightened page easy to read, and small to send.

Lighting: the paper's brightness is estimated on a small copy by a morphological closing
(a maximum filter, then a minimum filter, larger than any stroke, so text and rules vanish and
only the paper and its shading remain), smoothed, and the page is divided by it. The gain is
computed from lightness and applied to all three channels alike, so hues survive: a red seal
stays red. Neutral paper is lifted to white, which also clears the sensor's grain off it, and
an optional stretch maps the darkest ink to black; a card, a photo or a dark page only has its
broadest shading evened out (a closing would take a dark card's white lettering for paper).

Encoding: JPEG at :data:`READING_QUALITY`. At that quality the 8-point print of a certificate
photographed at about 10 pixels per millimetre keeps its strokes (the scan tests check the error
over small print against the lossless page); the original photograph is always kept as it came.
"""

from __future__ import annotations

import cv2
import numpy as np

READING_QUALITY = 85
"""JPEG quality of the page sent for reading."""
READING_MIME = "image/jpeg"
PAPER_WHITE = 235.0
"""Paper at this share (235/255) of its own level and above becomes white."""
COLOURFUL_CHROMA = 12.0
"""Median chroma (8-bit Lab units) above which a page is not plain paper (card, photo)."""


def paper_level(gray: np.ndarray) -> np.ndarray:
    """The paper's lightness under each pixel of a small grey image (float32): a closing
    larger than the strokes, then a blur."""
    h, w = gray.shape
    size = max(7, (min(h, w) // 14) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    closed = cv2.morphologyEx(gray, cv2.MORPH_CLOSE, kernel)
    return cv2.GaussianBlur(closed.astype(np.float32), (0, 0), size / 2)


def ink_mask(gray: np.ndarray, ratio: float = 0.75) -> np.ndarray:
    """Pixels (bool) darker than ``ratio`` times the paper around them: print, handwriting,
    seals, photos. Works on any size; meant for small copies."""
    paper = paper_level(gray)
    return np.asarray(gray.astype(np.float32) < ratio * np.maximum(paper, 1.0))


def is_paper(small: np.ndarray) -> bool:
    """Is a (small, BGR) page light paper of nearly neutral colour (most of its area light and
    grey-ish), rather than a card, a photo or a dark page?"""
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2Lab).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128, lab[..., 2] - 128)
    return float(np.median(chroma)) <= COLOURFUL_CHROMA and float(np.median(lab[..., 0])) > 110


def flatten_lighting(page: np.ndarray, *, stretch: bool = True) -> np.ndarray:
    """``page`` (BGR uint8) with shading and shadows evened out (see the module docstring).

    Paper (:func:`is_paper`) is divided by its own level (:func:`paper_level`) and lifted to
    white (anything over :data:`PAPER_WHITE` of its level clips), which also wipes the sensor's
    grain off it; with ``stretch`` the darkest ink is then pulled to black. Anything else (a
    card, a photo, a dark page) only has its broadest shading evened out, within a third either
    way, so its colours and contrasts stay as they are."""
    h, w = page.shape[:2]
    scale = min(1.0, 512 / max(h, w))
    small = cv2.resize(
        page, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)
    offset, factor = 0.0, 1.0
    if is_paper(small):
        paper = paper_level(gray.astype(np.uint8))
        # a shadow is seldom deeper than this; a large dark area below it is a picture
        paper = np.maximum(paper, 0.6 * float(np.percentile(paper, 95)))
        gain = 255.0 / (paper * PAPER_WHITE / 255.0)
        if stretch:
            flat = np.clip(gray * gain, 0, 255)
            black = min(float(np.percentile(flat, 0.5)), 128.0)
            offset, factor = black, 255.0 / max(255.0 - black, 1.0)
    else:
        light = cv2.GaussianBlur(gray, (0, 0), max(gray.shape) / 4)
        gain = np.clip(float(light.mean()) / np.maximum(light, 1.0), 0.75, 1.33)
    gain_full = cv2.resize(gain.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    out = page.astype(np.float32)
    out *= gain_full[..., None]
    if offset or factor != 1.0:
        out -= offset
        out *= factor
    return np.clip(out, 0, 255).astype(np.uint8)


def encode_for_reading(img: np.ndarray, quality: int = READING_QUALITY) -> bytes:
    """``img`` (BGR uint8) as an optimised JPEG at ``quality`` (see the module docstring)."""
    ok, buf = cv2.imencode(
        ".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1]
    )
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf.tobytes())
