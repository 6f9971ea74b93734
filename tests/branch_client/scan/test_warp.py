"""Straightening: the output's size comes from the quadrilateral, the warp puts the page's
content back square, and a small residual tilt of the text is measured with the right sign."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from branch_client.scan.warp import page_size, preview, residual_skew, warp


def chart(width: int = 600, height: int = 400) -> np.ndarray:
    """A flat page: white, a black frame 20 px in, and rows of short 'text' bars."""
    page = np.full((height, width, 3), 250, dtype=np.uint8)
    cv2.rectangle(page, (20, 20), (width - 21, height - 21), (0, 0, 0), 3)
    for y in range(60, height - 60, 22):
        for x in range(50, width - 80, 26):
            cv2.rectangle(page, (x, y), (x + 18, y + 9), (30, 30, 30), -1)
    return page


def photograph(page: np.ndarray, corners: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    h, w = page.shape[:2]
    src = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    matrix = cv2.getPerspectiveTransform(src, np.float32(corners))
    return cv2.warpPerspective(page, matrix, size, borderValue=(90, 60, 40))


def test_size_is_the_longer_of_opposite_sides() -> None:
    corners = np.array([[100, 100], [400, 110], [420, 520], [90, 500]], dtype=np.float64)
    w, h = page_size(corners)
    assert w == round(max(np.hypot(300, 10), np.hypot(330, 20)))
    assert h == round(max(np.hypot(10, 400), np.hypot(20, 410)))


def test_a_photographed_page_comes_back_square_and_full_size() -> None:
    page = chart()
    corners = np.array([[210.0, 120.0], [830.0, 160.0], [800.0, 590.0], [180.0, 540.0]])
    img = photograph(page, corners, (1000, 700))
    flat = warp(img, corners)
    w, h = page_size(corners)
    assert flat.shape == (h, w, 3)
    # back at the chart's own size, the picture matches the chart
    back = cv2.resize(flat, (page.shape[1], page.shape[0]), interpolation=cv2.INTER_AREA)
    diff = np.abs(back.astype(int) - page.astype(int)).mean()
    assert diff < 12
    # no desk colour left at the edges: the corners were the page's outer edge
    assert back[:3].mean() > 200 and back[-3:].mean() > 200


@pytest.mark.parametrize("tilt", [-1.5, 1.0])
def test_residual_skew_is_measured_and_undone(tilt: float) -> None:
    page = chart(900, 600)
    h, w = page.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0)  # counter-clockwise by tilt
    tilted = cv2.warpAffine(page, rot, (w, h), borderValue=(250, 250, 250))
    measured = residual_skew(tilted)
    assert measured == pytest.approx(tilt, abs=0.3)
    corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    straight = warp(tilted, corners, measured)
    assert abs(residual_skew(straight)) < 0.3
    assert residual_skew(page) == 0.0


def test_preview_is_small_and_keeps_the_aspect() -> None:
    corners = np.array([[0.0, 0.0], [2999.0, 0.0], [2999.0, 1999.0], [0.0, 1999.0]])
    img = np.zeros((2000, 3000, 3), dtype=np.uint8)
    small = preview(img, corners, 300)
    assert small.shape == (200, 300, 3)
