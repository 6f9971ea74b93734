"""``madoguchi bench scan`` at a tiny size: it generates its scenes, detects and times, and
prints one JSON object last with every figure the benchmark promises."""

from __future__ import annotations

import pytest

from bench.scan import BenchConfigError, ScanBenchConfig, polygon_iou
from bench.scan import run as run_scan
from tests.bench.conftest import RunBench


def test_prints_the_figures_as_one_json_object(run_bench: RunBench) -> None:
    run = run_bench(
        "scan",
        {"MADOGUCHI_BENCH_SCAN_PER_RUN": "4", "MADOGUCHI_BENCH_SCAN_TIMED_PER_RUN": "1"},
        runs=2,
    )

    result = run.result
    assert run.err == ""  # --json: no progress
    assert result["benchmark"] == "scan"
    assert result["images"] == 8
    assert 0 <= result["iou_ok_share"] <= 1 and 0 <= result["mean_iou"] <= 1
    assert set(result["per_kind"]) == {"a4", "card", "receipt"}
    assert sum(k["images"] for k in result["per_kind"].values()) == 8
    assert isinstance(result["failures"], dict)
    assert set(result["reading_order"]) == {
        "upright",
        "upright_images",
        "turned",
        "turned_images",
    }
    timing = result["timing"]
    assert (timing["images"], timing["size"], timing["threads"]) == (2, [4000, 3000], 1)
    assert 0 < timing["p50_ms"] <= timing["p95_ms"] <= timing["max_ms"]
    assert 0 < timing["cpu_p50_ms"] <= timing["cpu_p95_ms"]
    assert timing["full_size"]["images"] == 2
    assert result["peak_rss_mb"] > 0 and result["detect_warp_alloc_peak_mb"] > 0
    assert isinstance(result["aim_met"], bool)


def test_settings_fail_fast() -> None:
    assert ScanBenchConfig.from_env({}) == ScanBenchConfig(per_run=30, timed_per_run=2)
    assert ScanBenchConfig.from_env({"MADOGUCHI_BENCH_SCAN_PER_RUN": "3"}).per_run == 3
    with pytest.raises(BenchConfigError, match="MADOGUCHI_BENCH_SCAN_PER_RUN"):
        ScanBenchConfig.from_env({"MADOGUCHI_BENCH_SCAN_PER_RUN": "many"})
    with pytest.raises(BenchConfigError, match="must be positive"):
        ScanBenchConfig.from_env({"MADOGUCHI_BENCH_SCAN_TIMED_PER_RUN": "0"})


def test_bad_settings_give_an_error_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_BENCH_SCAN_PER_RUN", "lots")
    assert run_scan(runs=1, verbose=False) == {
        "benchmark": "scan",
        "error": "bad_config",
        "message": "Config 'MADOGUCHI_BENCH_SCAN_PER_RUN' has a malformed value 'lots'.",
    }


def test_polygon_iou() -> None:
    square = [[0, 0], [10, 0], [10, 10], [0, 10]]
    assert polygon_iou(square, square) == pytest.approx(1.0)
    shifted = [[5, 0], [15, 0], [15, 10], [5, 10]]
    assert polygon_iou(square, shifted) == pytest.approx(50 / 150)
    assert polygon_iou(square[::-1], shifted) == pytest.approx(50 / 150)  # any vertex order
    assert polygon_iou(square, [[20, 20], [30, 20], [30, 30], [20, 30]]) == 0.0
