"""``madoguchi bench signaling`` at a tiny size: it starts its servers, holds every connection,
gets every answer, stops everything, and prints one JSON object last."""

from __future__ import annotations

import resource

import pytest

from bench.signaling import BenchConfigError, SignalingBenchConfig
from tests.bench.conftest import RunBench


def test_holds_and_hears_from_every_connection(run_bench: RunBench) -> None:
    limits_before = resource.getrlimit(resource.RLIMIT_NOFILE)

    run = run_bench(
        "signaling",
        {
            "MADOGUCHI_BENCH_CONNECTIONS": "20",
            "MADOGUCHI_BENCH_HOLD_S": "0.5",
            "MADOGUCHI_BENCH_CONCURRENCY": "5",
        },
    )

    result = run.result
    assert result["benchmark"] == "signaling"
    assert result["connections_target"] == 20
    assert result["connections_held"] == 20
    assert result["failed"] == 0
    assert result["replies"] == 20
    assert result["relayed"] == 20
    assert result["relay_channels"] == {"connected": 20, "after_close": 0}
    assert result["rss_connected_mb"] >= result["rss_baseline_mb"] > 0
    assert result["hub_open_files"]["connected"] >= result["hub_open_files"]["idle"] + 20
    assert result["connect_p99_ms"] > 0
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == limits_before


def test_settings_fail_fast() -> None:
    assert SignalingBenchConfig.from_env({}) == SignalingBenchConfig(5000, 30.0, 200)
    assert SignalingBenchConfig.from_env({"MADOGUCHI_BENCH_HOLD_S": "2.5"}).hold_s == 2.5
    with pytest.raises(BenchConfigError, match="MADOGUCHI_BENCH_CONNECTIONS"):
        SignalingBenchConfig.from_env({"MADOGUCHI_BENCH_CONNECTIONS": "many"})
    with pytest.raises(BenchConfigError, match="must be positive"):
        SignalingBenchConfig.from_env({"MADOGUCHI_BENCH_CONCURRENCY": "0"})
