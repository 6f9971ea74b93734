"""``madoguchi bench dispatch`` at a tiny size: it starts its servers and client processes, keeps
the queue at each length, gets offers for every specialist, stops everything, and prints one JSON
object last."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.dispatch import BenchConfigError, DispatchBenchConfig
from bench.dispatch import run as run_dispatch
from tests.bench.conftest import RunBench


def _children() -> set[int]:
    """Processes whose parent is this one."""
    me, found = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            found.add(int(stat.parent.name))
    return found


def test_offers_reach_every_specialist_at_each_queue_length(run_bench: RunBench) -> None:
    settings = {
        "WAITING": "10,30",
        "SPECIALISTS": "4",
        "HUBS": "2",
        "SECONDS": "1.5",
        "WARMUP_S": "0.5",
        "THINK_S": "0.05",
        "CLIENTS": "2",
    }
    children_before = _children()

    run = run_bench("dispatch", {f"MADOGUCHI_BENCH_DISPATCH_{k}": v for k, v in settings.items()})

    result = run.result
    assert run.err == ""  # --json: no progress
    assert result["benchmark"] == "dispatch"
    assert (result["hubs"], result["specialists"], result["client_processes"]) == (2, 4, 2)
    assert list(result["sizes"]) == ["10", "30"]
    for target, size in ((10, result["sizes"]["10"]), (30, result["sizes"]["30"])):
        # Each specialist holds one ticket; the feeder tops the queue up as they are served.
        assert target - 4 <= size["waiting_start"] <= target
        assert target - 4 <= size["waiting_end"] <= target
        assert size["samples"] > 10
        assert 0 < size["p50_ms"] <= size["p99_ms"] <= size["max_ms"]
        assert size["offers_per_s"] > 0
        assert size["first_offer"]["samples"] == 4
        assert size["client_errors"] == {}
        assert size["offers_made_at_create"] == 0
        assert size["probe"]["samples"] > 0
        assert all(cpu > 0 for cpu in size["hub_cpu_s"])
        assert size["redis"]["commands"]["evalsha"]["calls"] > size["samples"]
    assert result["sizes"]["10"]["first_offer"]["via"] == "specialist.set_state available"
    assert result["sizes"]["30"]["first_offer"]["via"] == "session.finish"
    assert isinstance(result["aim_met"], bool)
    assert _children() <= children_before  # hubs, Redis and client processes all stopped


def test_settings_fail_fast() -> None:
    assert DispatchBenchConfig.from_env({}) == DispatchBenchConfig()
    assert DispatchBenchConfig().waiting == (1000, 10000)
    config = DispatchBenchConfig.from_env(
        {"MADOGUCHI_BENCH_DISPATCH_WAITING": "5, 50", "MADOGUCHI_BENCH_DISPATCH_THINK_S": "0"}
    )
    assert (config.waiting, config.think_s) == ((5, 50), 0.0)
    with pytest.raises(BenchConfigError, match="MADOGUCHI_BENCH_DISPATCH_WAITING"):
        DispatchBenchConfig.from_env({"MADOGUCHI_BENCH_DISPATCH_WAITING": "1000,lots"})
    with pytest.raises(BenchConfigError, match="must be positive"):
        DispatchBenchConfig.from_env({"MADOGUCHI_BENCH_DISPATCH_HUBS": "0"})
    with pytest.raises(BenchConfigError, match="must not be negative"):
        DispatchBenchConfig.from_env({"MADOGUCHI_BENCH_DISPATCH_THINK_S": "-1"})
    with pytest.raises(BenchConfigError, match="must not exceed"):
        DispatchBenchConfig.from_env(
            {"MADOGUCHI_BENCH_DISPATCH_SPECIALISTS": "2", "MADOGUCHI_BENCH_DISPATCH_CLIENTS": "3"}
        )


def test_bad_settings_give_an_error_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MADOGUCHI_BENCH_DISPATCH_SECONDS", "soon")
    result = run_dispatch(verbose=False)
    assert result == {
        "benchmark": "dispatch",
        "error": "bad_config",
        "message": "Config 'MADOGUCHI_BENCH_DISPATCH_SECONDS' has a malformed value 'soon'.",
    }
