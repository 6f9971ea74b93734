"""``madoguchi bench scan``: how often the document pipeline finds the page, and how fast.

Scenes come from :func:`branch_client.scan.synthetic.generate` (the demo's document camera),
seeds from :data:`SEED_BASE` on, which the detector was never tuned on. Two sets:

* **accuracy**: ``runs`` x ``MADOGUCHI_BENCH_SCAN_PER_RUN`` (default 30) scenes at 2000x1500.
  The generator draws the same scene at any size (see its docstring), and the detector works on
  a copy whose long side is 800 pixels whatever the input, so a quarter of the pixels shows the
  same geometry at a quarter of the generating time. For each: the polygon IoU of the detected
  quadrilateral with the true one (``cv2.intersectConvexConvex``; both are convex), counted a
  success at IoU >= 0.9; failures by code (``no_document``, ``low_iou``, ...); whether the
  corners come back in reading order (corner 0 at the document's top-left), apart for pages
  turned more than 45 degrees;
* **timing**: ``runs`` x ``MADOGUCHI_BENCH_SCAN_TIMED_PER_RUN`` (default 2) scenes at 4000x3000
  (12 MP, as the document camera takes them): detection plus the full-resolution warp, as
  :func:`branch_client.scan.pipeline.process` runs them (decoding and encoding are not counted),
  on ONE core: ``cv2.setNumThreads(1)``. Wall-clock and the thread's CPU time are both given;
  on a busy machine the CPU time is the steadier figure. One warm-up scene is not counted. Their
  IoU is reported too (``full_size``), as a check on the accuracy set's shortcut.

Peak RSS is the whole benchmark process's (``ru_maxrss``), scene generation included (that
dominates it). ``detect_warp_alloc_peak_mb`` is what detection and the warp allocate at their
peak for one 12 MP still (``tracemalloc``, which sees numpy arrays and OpenCV's outputs but not
OpenCV's internal scratch), on top of the decoded still itself (36 MB): the figure that matters
on a terminal. Aims: at least 95 % of scenes at IoU >= 0.9, and
p95 of detect+warp under 300 ms.
"""

from __future__ import annotations

import os
import resource
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from bench.common import BenchConfigError, setting
from branch_client.scan.detect import detect
from branch_client.scan.errors import ScanError
from branch_client.scan.synthetic import KINDS, generate
from branch_client.scan.warp import residual_skew, warp

SEED_BASE = 50_000
"""First scene of the accuracy set; the timing set starts at ``SEED_BASE + 900_000``."""
ACCURACY_SIZE = (2000, 1500)
TIMING_SIZE = (4000, 3000)
IOU_OK = 0.9
AIM_SHARE = 0.95
AIM_P95_MS = 300.0


@dataclass(frozen=True)
class ScanBenchConfig:
    per_run: int = 30
    """Accuracy scenes per run (MADOGUCHI_BENCH_SCAN_PER_RUN)."""

    timed_per_run: int = 2
    """12 MP timing scenes per run (MADOGUCHI_BENCH_SCAN_TIMED_PER_RUN)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ScanBenchConfig:
        env = os.environ if env is None else env
        d = cls()
        return cls(
            per_run=setting(env, "MADOGUCHI_BENCH_SCAN_PER_RUN", d.per_run, int),
            timed_per_run=setting(env, "MADOGUCHI_BENCH_SCAN_TIMED_PER_RUN", d.timed_per_run, int),
        )


def polygon_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex quadrilaterals (any vertex order)."""
    pa = cv2.convexHull(np.asarray(a, dtype=np.float32).reshape(-1, 1, 2))
    pb = cv2.convexHull(np.asarray(b, dtype=np.float32).reshape(-1, 1, 2))
    inter, _ = cv2.intersectConvexConvex(pa, pb)
    union = cv2.contourArea(pa) + cv2.contourArea(pb) - inter
    return float(inter / union) if union > 0 else 0.0


def _turned(corners: np.ndarray) -> bool:
    """Is the document turned more than 45 degrees from upright?"""
    top = corners[1] - corners[0]
    return bool(top[0] < abs(top[1]))


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def _summary(ious: list[float]) -> dict[str, Any]:
    return {
        "images": len(ious),
        "iou_ok_share": round(float(np.mean(np.array(ious) >= IOU_OK)), 4) if ious else None,
        "mean_iou": round(float(np.mean(ious)), 4) if ious else None,
    }


def _progress(verbose: bool, text: str) -> None:
    if verbose:
        print(text, file=sys.stderr, flush=True)


def run(runs: int = 10, verbose: bool = True) -> dict[str, Any]:
    try:
        config = ScanBenchConfig.from_env()
    except BenchConfigError as exc:
        return {"benchmark": "scan", "error": "bad_config", "message": str(exc)}
    cv2.setNumThreads(1)
    runs = max(1, runs)

    ious: list[float] = []
    by_kind: dict[str, list[float]] = {kind: [] for kind in KINDS}
    failures: Counter[str] = Counter()
    reading = {"upright": [0, 0], "turned": [0, 0]}  # [in reading order, detected]
    count = runs * config.per_run
    started = time.perf_counter()
    for i in range(count):
        img, truth, kind = generate(SEED_BASE + i, *ACCURACY_SIZE)
        try:
            found = detect(img)
        except ScanError as exc:
            failures[exc.code] += 1
            iou = 0.0
        else:
            iou = polygon_iou(found.corners, truth)
            if iou < IOU_OK:
                failures["low_iou"] += 1
            else:
                side = float(np.linalg.norm(truth[2] - truth[0]))
                group = reading["turned" if _turned(truth) else "upright"]
                group[1] += 1
                group[0] += int(np.linalg.norm(found.corners[0] - truth[0]) < 0.1 * side)
        ious.append(iou)
        by_kind[kind].append(iou)
        if (i + 1) % 25 == 0:
            share = np.mean(np.array(ious) >= IOU_OK)
            _progress(verbose, f"scan: {i + 1}/{count} scenes, {share:.1%} at IoU >= {IOU_OK}")
    accuracy_s = time.perf_counter() - started

    wall: list[float] = []
    cpu: list[float] = []
    full_ious: list[float] = []
    timed = runs * config.timed_per_run
    for i in range(timed + 1):  # the first is a warm-up
        img, truth, _ = generate(SEED_BASE + 900_000 + i, *TIMING_SIZE)
        t_wall, t_cpu = time.perf_counter(), time.thread_time()
        try:
            found = detect(img)
            warp(img, found.corners, residual_skew(found.preview))
            iou = polygon_iou(found.corners, truth)
        except ScanError:
            iou = 0.0
        elapsed_wall = (time.perf_counter() - t_wall) * 1000
        elapsed_cpu = (time.thread_time() - t_cpu) * 1000
        if i == 0:
            continue
        wall.append(elapsed_wall)
        cpu.append(elapsed_cpu)
        full_ious.append(iou)
        _progress(verbose, f"scan: 12 MP {i}/{timed}: {elapsed_wall:.0f} ms, IoU {iou:.3f}")

    # what detect+warp allocate at their peak (arrays, OpenCV's outputs included), measured
    # apart: tracing slows allocation, so not during the timed runs
    tracemalloc.start()
    try:
        found = detect(img)
        warp(img, found.corners, residual_skew(found.preview))
    except ScanError:
        pass
    alloc_peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    overall = _summary(ious)
    p95 = _percentile(wall, 95)
    share = overall["iou_ok_share"]

    def reading_share(group: list[int]) -> float | None:
        return round(group[0] / group[1], 4) if group[1] else None

    return {
        "benchmark": "scan",
        "images": overall["images"],
        "iou_ok_share": share,
        "mean_iou": overall["mean_iou"],
        "iou_threshold": IOU_OK,
        "accuracy_size": list(ACCURACY_SIZE),
        "per_kind": {kind: _summary(values) for kind, values in by_kind.items()},
        "failures": dict(sorted(failures.items())),
        "reading_order": {
            "upright": reading_share(reading["upright"]),
            "upright_images": reading["upright"][1],
            "turned": reading_share(reading["turned"]),
            "turned_images": reading["turned"][1],
        },
        "timing": {
            "images": timed,
            "size": list(TIMING_SIZE),
            "threads": 1,
            "what": "detect + full-resolution warp, one core (cv2.setNumThreads(1))",
            "p50_ms": _percentile(wall, 50),
            "p95_ms": p95,
            "max_ms": round(max(wall), 1) if wall else None,
            "cpu_p50_ms": _percentile(cpu, 50),
            "cpu_p95_ms": _percentile(cpu, 95),
            "full_size": _summary(full_ious),
        },
        "peak_rss_mb": round(peak_rss_mb, 1),
        "detect_warp_alloc_peak_mb": round(alloc_peak_mb, 1),
        "accuracy_seconds": round(accuracy_s, 1),
        "aim": {"iou_ok_share": AIM_SHARE, "p95_ms": AIM_P95_MS},
        "aim_met": bool(
            share is not None and share >= AIM_SHARE and p95 is not None and p95 < AIM_P95_MS
        ),
    }
