"""Finding the page in generated photographs: corner order, accuracy on a handful of scenes of
each kind, pages lying sideways and upside down, and an empty desk."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from branch_client.scan.detect import detect, order_corners, reading_turns
from branch_client.scan.errors import ScanError
from branch_client.scan.synthetic import background_only, generate
from branch_client.scan.warp import preview

W, H = 1600, 1200


def iou(a: np.ndarray, b: np.ndarray) -> float:
    pa, pb = np.float32(a).reshape(-1, 1, 2), np.float32(b).reshape(-1, 1, 2)
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    return float(inter / (cv2.contourArea(pa) + cv2.contourArea(pb) - inter))


def square(angle_deg: float, centre: tuple[float, float] = (500, 400)) -> np.ndarray:
    """A 300x200 rectangle's TL, TR, BR, BL after turning it clockwise on screen."""
    a = math.radians(angle_deg)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    rect = np.array([[-150, -100], [150, -100], [150, 100], [-150, 100]], dtype=np.float64)
    return rect @ rot.T + np.array(centre)


@pytest.mark.parametrize("angle", [-44, -30, -5, 0, 5, 30, 44])
def test_geometric_order_is_reading_order_under_45_degrees(angle: float) -> None:
    truth = square(angle)
    rng = np.random.default_rng(int(angle) + 100)
    shuffled = truth[rng.permutation(4)]
    assert np.allclose(order_corners(shuffled), truth)


def test_geometric_order_is_clockwise_from_the_top_left_whatever_the_input_order() -> None:
    for start in range(4):
        got = order_corners(np.roll(square(10), start, axis=0)[::-1])
        assert np.allclose(got, square(10))
        # clockwise on screen (y down): positive shoelace area
        x, y = got[:, 0], got[:, 1]
        assert float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) > 0


@pytest.mark.parametrize(
    ("seed", "kind"),
    [(3, "card"), (5, "a4"), (9, "a4"), (12, "card"), (2, "receipt"), (4, "receipt")],
)
def test_finds_the_page_in_generated_scenes(seed: int, kind: str) -> None:
    img, truth, got_kind = generate(seed, W, H)
    assert got_kind == kind
    found = detect(img)
    assert iou(found.corners, truth) >= 0.9
    assert 0.5 <= found.confidence <= 1.0
    # reading order: each corner is near its true counterpart
    diagonal = float(np.linalg.norm(truth[2] - truth[0]))
    assert np.linalg.norm(found.corners - truth, axis=1).max() < 0.03 * diagonal


@pytest.mark.parametrize(("seed", "quarter_turns"), [(32, 2), (47, 3)])
def test_pages_lying_upside_down_or_sideways_come_back_as_they_read(
    seed: int, quarter_turns: int
) -> None:
    img, truth, kind = generate(seed, W, H)
    assert kind == "a4"
    top = truth[1] - truth[0]
    assert round((math.degrees(math.atan2(top[1], top[0])) % 360) / 90) % 4 == quarter_turns
    found = detect(img)
    assert found.turns == quarter_turns
    diagonal = float(np.linalg.norm(truth[2] - truth[0]))
    assert np.linalg.norm(found.corners - truth, axis=1).max() < 0.03 * diagonal
    # the preview is upright: portrait, like the A4 page
    assert found.preview.shape[0] > found.preview.shape[1]


def test_reading_turns_of_a_turned_page() -> None:
    img, truth, _ = generate(5, W, H)
    upright = preview(img, truth)
    assert reading_turns(upright) == 0
    for k in (1, 2, 3):
        # np.rot90 turns counter-clockwise; k turns clockwise is rot90(-k)
        assert reading_turns(np.ascontiguousarray(np.rot90(upright, -k))) == k


def test_an_empty_desk_is_no_document() -> None:
    for seed in (1, 2, 3):
        with pytest.raises(ScanError) as caught:
            detect(background_only(seed, W, H))
        assert caught.value.code == "no_document"


def test_works_on_grey_and_small_pictures() -> None:
    img, truth, _ = generate(5, 640, 480)
    found = detect(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    assert iou(found.corners, truth) >= 0.9


def test_pictures_too_small_or_too_thin_hold_no_document() -> None:
    rng = np.random.default_rng(3)
    for shape in [(2, 3, 3), (40, 30, 3), (5000, 20, 3), (20, 5000, 3)]:
        with pytest.raises(ScanError) as caught:
            detect(rng.integers(0, 256, shape, dtype=np.uint8))
        assert caught.value.code == "no_document"
