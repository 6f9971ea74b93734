"""The call-setup benchmark runs end to end at its smallest size and reports what it promises."""

from __future__ import annotations

import pytest

from bench.call_setup import run


@pytest.mark.timeout(180)
def test_one_call() -> None:
    result = run(runs=1, verbose=False)
    assert "error" not in result, result
    assert result["runs"] == 1 and len(result["browser_samples_ms"]) == 1
    assert 0 < result["p50_ms"] < 5000
    assert 0 < result["terminal"]["p50_ms"] < 5000
    assert set(result["browser_phases_p50_ms"]) >= {"offerSentAt", "firstFrameAt"}
