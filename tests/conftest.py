"""Fixtures shared by every test package: a real, private Redis server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from madoguchi.local_deployment import RedisServer


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A clean database on the shared server for each test."""
    import redis

    client = redis.Redis(port=redis_server.port)
    client.flushall()
    client.close()
    return redis_server.url


@pytest.fixture(scope="session")
def loopback_ice() -> None:
    """aiortc peers in this process offer loopback candidates only: no packet leaves the host."""
    from branch_client.call.ice import restrict_host_candidates

    restrict_host_candidates(("127.0.0.1",))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests run last: Playwright's sync API keeps an event loop running on the main
    thread while its browser lives, which the asyncio tests cannot share."""
    # The call-setup benchmark runs its own Playwright, so it goes before the e2e browser starts.
    items.sort(
        key=lambda item: (
            2 if "/e2e/" in str(item.path) else 1 if "call_setup" in str(item.path) else 0
        )
    )
