"""Running a benchmark as ``madoguchi bench NAME --json`` does, at a size the test chooses."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pytest

import bench


@dataclass(frozen=True)
class BenchRun:
    status: int
    """``madoguchi bench``'s exit status."""
    result: dict[str, Any]
    """The JSON object on the last line printed."""
    out: str
    err: str


class RunBench(Protocol):
    def __call__(self, name: str, settings: Mapping[str, str], runs: int = 10) -> BenchRun: ...


@pytest.fixture
def run_bench(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> RunBench:
    """Run benchmark ``name`` with ``settings`` (environment variables) in the environment; it
    must succeed (exit status 0, no ``error`` in its result)."""

    def run(name: str, settings: Mapping[str, str], runs: int = 10) -> BenchRun:
        for variable, value in settings.items():
            monkeypatch.setenv(variable, value)
        status = bench.main(argparse.Namespace(name=name, json=True, runs=runs))
        captured = capsys.readouterr()
        result = json.loads(captured.out.strip().splitlines()[-1])
        assert status == 0, result
        return BenchRun(status, result, captured.out, captured.err)

    return run
