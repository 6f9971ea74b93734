"""The simulated document camera: the same seed gives the same scene at any size, the corners
are where the page is, and the scenes vary as the detector needs them to."""

from __future__ import annotations

from collections import Counter

import numpy as np

from branch_client.scan.synthetic import KINDS, background_only, generate


def test_a_seed_is_one_scene() -> None:
    a, corners_a, kind_a = generate(11, 800, 600)
    b, corners_b, kind_b = generate(11, 800, 600)
    assert kind_a == kind_b and np.array_equal(a, b) and np.array_equal(corners_a, corners_b)
    _c, corners_c, _ = generate(12, 800, 600)
    assert not np.array_equal(corners_a, corners_c)


def test_the_same_scene_at_any_size() -> None:
    small, corners_small, kind_small = generate(7, 1000, 750)
    big, corners_big, kind_big = generate(7, 2000, 1500)
    assert kind_small == kind_big
    assert small.shape == (750, 1000, 3) and big.shape == (1500, 2000, 3)
    assert np.allclose((corners_big + 0.5) / 2 - 0.5, corners_small, atol=1e-6)


def test_corners_are_the_page() -> None:
    img, corners, _ = generate(5, 1200, 900, content=False)
    h, w = img.shape[:2]
    assert (corners >= 0).all() and (corners[:, 0] < w).all() and (corners[:, 1] < h).all()
    # clockwise on screen (y down): positive shoelace area
    x, y = corners[:, 0], corners[:, 1]
    assert float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) > 0
    # the blank page is brighter than the desk around it: sample just inside and outside
    centre = corners.mean(axis=0)
    inside = [tuple(np.round(c + (centre - c) * 0.1).astype(int)) for c in corners]
    outside = [tuple(np.round(c - (centre - c) * 0.1).astype(int)) for c in corners]
    gray = img.mean(axis=2)
    assert all(gray[y, x] > 150 for x, y in inside)
    assert np.mean([gray[y, x] for x, y in outside]) < np.mean([gray[y, x] for x, y in inside])


def test_scenes_vary() -> None:
    kinds = Counter(generate(seed, 320, 240)[2] for seed in range(40))
    assert set(kinds) == set(KINDS)
    assert kinds["a4"] > kinds["card"] > 0
    desks = [background_only(seed, 160, 120).mean(axis=(0, 1)) for seed in range(6)]
    assert np.ptp(np.array(desks), axis=0).max() > 40
