"""What every benchmark process needs alike: its settings from the environment (failing fast,
with one error whose message names the setting), the machine it ran on, a summary of timings,
a process's CPU time from ``/proc``, and SIGTERM turned into Ctrl-C so that cleanup runs either
way."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import numpy as np

N = TypeVar("N", int, float)

POLL_S = 0.01
"""How often a timed benchmark looks for what it waits for: often, so that the poll adds next to
nothing to a run."""


class BenchConfigError(Exception):
    """A ``MADOGUCHI_BENCH_*`` setting is malformed. The message names it."""


def number(name: str, raw: str, kind: Callable[[str], N]) -> N:
    """``raw`` (the value of setting ``name``) as ``kind``, or :class:`BenchConfigError`."""
    try:
        return kind(raw)
    except ValueError:
        raise BenchConfigError(f"Config {name!r} has a malformed value {raw!r}.") from None


def setting(
    env: Mapping[str, str],
    name: str,
    default: N,
    kind: Callable[[str], N],
    *,
    zero_ok: bool = False,
) -> N:
    """Setting ``name`` from ``env`` as a positive ``kind`` (or not negative, with ``zero_ok``),
    ``default`` when it is not set; :class:`BenchConfigError` when it is malformed."""
    raw = env.get(name)
    if raw is None:
        return default
    value = number(name, raw, kind)
    if zero_ok and value < 0:
        raise BenchConfigError(f"Config {name!r} must not be negative, not {raw!r}.")
    if not zero_ok and not value > 0:
        raise BenchConfigError(f"Config {name!r} must be positive, not {raw!r}.")
    return value


def machine(**extra: Any) -> dict[str, Any]:
    """What a result's ``machine`` says: cores, Python, platform, and ``extra``."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **extra,
    }


def summary_ms(samples: Sequence[float]) -> dict[str, float | None]:
    """Median, 95th percentile, mean, least and most of ``samples`` (milliseconds), to 0.1 ms;
    all ``None`` when there are none."""
    a = np.asarray(samples, dtype=float)
    figures = {"p50_ms": 50.0, "p95_ms": 95.0, "mean_ms": None, "min_ms": 0.0, "max_ms": 100.0}
    if not a.size:
        return dict.fromkeys(figures)
    return {
        key: round(float(a.mean() if q is None else np.percentile(a, q)), 1)
        for key, q in figures.items()
    }


def cpu_s(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (its own, not its children's)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    after_name = stat.rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
    utime, stime = int(after_name[11]), int(after_name[12])  # fields 14 and 15
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C while the benchmark runs, so cleanup runs either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
