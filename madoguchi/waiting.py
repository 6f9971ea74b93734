"""Waiting for real processes: one bounded poll, for the benchmarks, the scripts and the tests.

A deployment's processes (Redis, the hub, a terminal, a browser) change state on their own
time. Code that drives them waits for the state it needs, never for a guessed number of
seconds: :func:`wait_for` polls a predicate until it returns something truthy and hands that
value back, or fails after ``timeout`` seconds with a :class:`TimeoutError` naming what did not
happen and the predicate's last answer. :func:`wait_for_async` is the same on an event loop, for
predicates that read what other tasks of the loop change (and may themselves be coroutines).

The only sleep is the poll's tick (``every``): short, so that the wait ends soon after the
condition holds, and the only pause a caller needs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


Describe = str | Callable[[], str]
"""What is awaited, for the failure's message: a text, or a function that tells it when the wait
fails (with what the state is by then)."""


def wait_for(
    predicate: Callable[[], T], what: Describe, timeout: float = 25.0, every: float = 0.1
) -> T:
    """The first truthy value of ``predicate()``, polled every ``every`` seconds; after
    ``timeout`` seconds, :class:`TimeoutError` saying ``timed out waiting for {what}``."""
    deadline = time.monotonic() + timeout
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, last)
        time.sleep(every)


async def wait_for_async(
    predicate: Callable[[], T | Awaitable[T]],
    what: Describe,
    timeout: float = 25.0,  # noqa: ASYNC109 -- the poll's own deadline, named when it fails
    every: float = 0.1,
) -> T:
    """:func:`wait_for` without blocking the event loop; ``predicate`` may be a coroutine
    function."""
    deadline = time.monotonic() + timeout
    while True:
        answer = predicate()
        last: T = await answer if inspect.isawaitable(answer) else answer
        if last:
            return last
        if time.monotonic() >= deadline:
            raise _timed_out(what, timeout, last)
        await asyncio.sleep(every)


def _timed_out(what: Describe, timeout: float, last: object) -> TimeoutError:
    told = what() if callable(what) else what
    return TimeoutError(f"timed out waiting for {told} ({timeout:g} s); last {last!r}")
