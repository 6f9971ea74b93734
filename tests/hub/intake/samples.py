"""Bundles as the console sends them (:mod:`bench.bundles`, shared with the intake benchmark), a
Redis that fsyncs every write, and a specialist in a session: what the intake tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from bench.bundles import MY_NUMBER, SIGNATURE, certificate_bundle, tennyu_bundle
from bench.intake import open_session as bench_open_session
from madoguchi.local_deployment import RedisServer

__all__ = [
    "MY_NUMBER",
    "SIGNATURE",
    "certificate_bundle",
    "durable_redis",
    "open_session",
    "tennyu_bundle",
]


def durable_redis(tmp: Path) -> Iterator[RedisServer]:
    """A private Redis with appendonly yes and appendfsync always, as the intake needs."""
    server = RedisServer(tmp, appendfsync="always")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def open_session(
    redis_url: str, specialist: str, session_id: str, terminal_id: str = "kita-01"
) -> None:
    """A connected session at branch ``kita`` with ``specialist`` serving it."""
    await bench_open_session(redis_url, specialist, session_id, terminal_id, "kita")
