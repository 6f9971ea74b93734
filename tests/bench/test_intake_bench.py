"""``madoguchi bench intake`` at a tiny size: it starts Redis (fsync always) and a hub, submits
over HTTP and straight to the intake, stops everything, and prints one JSON object last."""

from __future__ import annotations

import pytest

from bench.intake import BenchConfigError, IntakeBenchConfig
from tests.bench.conftest import RunBench


def test_submits_every_application_once_and_reports_latencies(run_bench: RunBench) -> None:
    run = run_bench(
        "intake",
        {
            "MADOGUCHI_BENCH_INTAKE_SUBMISSIONS": "12",
            "MADOGUCHI_BENCH_INTAKE_CLIENTS": "3",
            "MADOGUCHI_BENCH_INTAKE_BUNDLE": "certificate",
        },
    )

    result = run.result
    assert run.err == ""  # --json: no progress
    assert {
        "benchmark",
        "submissions",
        "clients",
        "bundle",
        "record_bytes",
        "http",
        "direct",
        "stream_length",
        "acknowledged",
        "duplicates",
        "pdfs_written",
        "redis",
        "machine",
    } <= set(result)
    assert (result["benchmark"], result["submissions"], result["clients"]) == ("intake", 12, 3)
    for phase in ("http", "direct"):
        figures = result[phase]
        assert figures["samples"] == 12 and figures["errors"] == {}
        assert figures["submissions_per_s"] > 0
        assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert result["stream_length"] == 3 + 12 + 12  # warm-up, http, direct
    assert result["acknowledged"] == result["stream_length"]
    assert result["duplicates"] == 0
    assert result["redis"]["appendfsync"] == "always"


def test_settings_fail_fast() -> None:
    assert IntakeBenchConfig.from_env({}) == IntakeBenchConfig(2000, 16, "family")
    with pytest.raises(BenchConfigError, match="MADOGUCHI_BENCH_INTAKE_CLIENTS"):
        IntakeBenchConfig.from_env({"MADOGUCHI_BENCH_INTAKE_CLIENTS": "lots"})
    with pytest.raises(BenchConfigError, match="must be positive"):
        IntakeBenchConfig.from_env({"MADOGUCHI_BENCH_INTAKE_SUBMISSIONS": "0"})
    with pytest.raises(BenchConfigError, match="family, certificate"):
        IntakeBenchConfig.from_env({"MADOGUCHI_BENCH_INTAKE_BUNDLE": "passport"})
