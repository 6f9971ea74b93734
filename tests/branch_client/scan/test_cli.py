"""``madoguchi scan detect`` and ``madoguchi scan process`` as a person or a script runs them:
a real subprocess, files on disk, JSON on stdout, a non-zero status on refusal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from branch_client.scan.synthetic import background_only, generate


def madoguchi(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "madoguchi", "scan", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_detect_prints_corners_and_confidence(tmp_path: Path) -> None:
    img, truth, _ = generate(5, 1600, 1200)
    path = tmp_path / "still.jpg"
    cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    done = madoguchi("detect", path, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert set(out) == {"corners", "confidence"}
    corners = np.array(out["corners"])
    assert corners.shape == (4, 2)
    assert np.abs(corners - truth).max() < 10
    assert all(round(v, 1) == v for v in corners.ravel())
    assert 0.5 <= out["confidence"] <= 1.0
    # and for people
    done = madoguchi("detect", path)
    assert done.returncode == 0 and "confidence" in done.stdout


def test_detect_refuses_with_a_code(tmp_path: Path) -> None:
    desk = tmp_path / "desk.png"
    cv2.imwrite(str(desk), background_only(2, 1200, 900))
    done = madoguchi("detect", desk, "--json")
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"error": "no_document"}
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    done = madoguchi("detect", notes, "--json")
    assert (done.returncode, json.loads(done.stdout)) == (1, {"error": "not_an_image"})
    done = madoguchi("detect", notes)
    assert done.returncode == 1 and done.stderr.startswith("madoguchi: ")
    done = madoguchi("detect", tmp_path / "missing.jpg", "--json")
    assert (done.returncode, json.loads(done.stdout)) == (2, {"error": "unreadable"})


def test_process_writes_the_page_and_keeps_the_original(tmp_path: Path) -> None:
    img, _, _ = generate(3, 1600, 1200)  # a card
    still, page, original = tmp_path / "still.jpg", tmp_path / "page.jpg", tmp_path / "orig.jpg"
    cv2.imwrite(str(still), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    done = madoguchi("process", still, "-o", page, "--original", original, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    written = cv2.imread(str(page))
    assert written.shape == (out["height"], out["width"], 3)
    assert 1.45 < out["width"] / out["height"] < 1.72  # a card is 85.6 x 54 mm: 1.585
    assert out["mime"] == "image/jpeg" and out["bytes"] == page.stat().st_size
    assert original.read_bytes() == still.read_bytes()
    # a refusal writes nothing
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((600, 800, 3), 128, dtype=np.uint8))
    done = madoguchi("process", blank, "-o", tmp_path / "nothing.jpg", "--json")
    assert (done.returncode, json.loads(done.stdout)) == (1, {"error": "blank_page"})
    assert not (tmp_path / "nothing.jpg").exists()
