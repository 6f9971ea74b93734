"""Straightening a found page: one perspective warp at full resolution.

The output rectangle takes its size from the quadrilateral: width the longer of the top and
bottom sides, height the longer of the left and right sides, so no part of the page is
shrunk and the aspect is the photographed one. A small residual tilt of the content (a few
tenths of a degree to :data:`MAX_DESKEW` degrees, from corners a pixel or two off, or from a
page printed askew) is measured on a small straightened copy, where text lines make the row
profile sharpest, and folded into the same warp: the full-size image is resampled once.
"""

from __future__ import annotations

import cv2
import numpy as np

from branch_client.scan.enhance import ink_mask

MAX_DESKEW = 2.0
"""Largest content tilt, in degrees, that :func:`residual_skew` looks for and corrects."""
MIN_DESKEW = 0.3
"""Smaller tilts are left alone: not worth a visible shift of the margins."""
PREVIEW_SIZE = 600
"""Long side, in pixels, of the straightened copy used for measuring (and for orientation)."""


def page_size(corners: np.ndarray) -> tuple[int, int]:
    """(width, height) of the straightened page for ``corners`` (TL, TR, BR, BL)."""
    c = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    width = max(np.linalg.norm(c[1] - c[0]), np.linalg.norm(c[2] - c[3]))
    height = max(np.linalg.norm(c[3] - c[0]), np.linalg.norm(c[2] - c[1]))
    return max(1, round(width)), max(1, round(height))


def _matrix(corners: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The homography taking ``corners`` (pixel centres) to the corners of a ``size`` page."""
    w, h = size
    src = np.asarray(corners, dtype=np.float32).reshape(4, 2)
    # corners are the page's outer edge: half a pixel outside the outermost pixel centres
    dst = np.array(
        [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], dtype=np.float32
    )
    return np.asarray(cv2.getPerspectiveTransform(src, dst))


def preview(img: np.ndarray, corners: np.ndarray, long_side: int = PREVIEW_SIZE) -> np.ndarray:
    """A small straightened copy of the page (long side ``long_side``), for measuring."""
    w, h = page_size(corners)
    scale = min(1.0, long_side / max(w, h))
    size = (max(8, round(w * scale)), max(8, round(h * scale)))
    return cv2.warpPerspective(
        img, _matrix(corners, size), size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )


def residual_skew(page: np.ndarray) -> float:
    """The tilt of the text on a straightened page, in degrees counter-clockwise on screen
    (positive: lines rise to the right), within :data:`MAX_DESKEW`; 0.0 when there is too
    little text to tell, or when straightening would not sharpen the lines clearly."""
    gray = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    ink = ink_mask(gray).astype(np.float32)
    h, w = ink.shape
    margin_x, margin_y = w // 20, h // 20
    ink = ink[margin_y : h - margin_y, margin_x : w - margin_x]
    if ink.sum() < 0.002 * ink.size:
        return 0.0
    h, w = ink.shape
    centre = (w / 2, h / 2)
    best_angle, best_sharpness, level = 0.0, -1.0, 0.0
    for angle in np.arange(-MAX_DESKEW, MAX_DESKEW + 1e-9, 0.25):
        rot = cv2.getRotationMatrix2D(centre, float(angle), 1.0)
        turned = cv2.warpAffine(ink, rot, (w, h), flags=cv2.INTER_LINEAR)
        profile = turned.sum(axis=1)
        sharpness = float(np.square(np.diff(profile)).sum())
        if angle == 0:
            level = sharpness
        if sharpness > best_sharpness:
            best_angle, best_sharpness = float(angle), sharpness
    # only when the best angle is clearly better than leaving the page as it is
    if best_sharpness < 1.15 * level:
        return 0.0
    return -best_angle


def warp(img: np.ndarray, corners: np.ndarray, skew: float = 0.0) -> np.ndarray:
    """The page inside ``corners`` (TL, TR, BR, BL in source pixels) as a flat rectangle at
    full resolution, its content turned back by ``skew`` degrees as :func:`residual_skew`
    measured it (corrections under :data:`MIN_DESKEW` are skipped)."""
    size = page_size(corners)
    matrix = _matrix(corners, size)
    if abs(skew) >= MIN_DESKEW:
        w, h = size
        rot = cv2.getRotationMatrix2D((w / 2 - 0.5, h / 2 - 0.5), -skew, 1.0)
        matrix = np.vstack([rot, [0.0, 0.0, 1.0]]) @ matrix
    return cv2.warpPerspective(
        img, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def straighten(img: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """:func:`warp` with the residual tilt measured on a small copy of the page first."""
    return warp(img, corners, residual_skew(preview(img, corners)))
