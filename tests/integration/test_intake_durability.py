"""Nothing acknowledged is lost, nothing lands twice.

A private Redis with ``appendonly yes`` and ``appendfsync always`` and a real hub process. Six
clients submit 300 applications between them, each retrying on any failure with the same
application id until it is acknowledged (some also send an acknowledged one again). Meanwhile the
test kills Redis (``kill -9``) and restarts it on the same data directory, kills the hub and
restarts it, and then kills both at once. Afterwards every application a client saw
acknowledged is in the stream exactly once, under the entry id it was told, and every
application was acknowledged in the end.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from hub.accounts.store import add_account
from madoguchi.local_deployment import HubProcess, RedisServer
from madoguchi.waiting import wait_for_async
from tests.hub.intake.samples import certificate_bundle, open_session

CLIENTS = 6
PER_CLIENT = 50
PASSWORD = "durability-test-password"
SESSION = "sess-durable"
DEADLINE_S = 50.0


class Client:
    def __init__(self, url: str, acked: dict[str, str], attempts: Counter[str]) -> None:
        self.url = url
        self.acked = acked
        self.attempts = attempts
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=5),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # the hub is on 127.0.0.1
        )
        self.origin = {"Origin": url}
        self.rng = random.Random()

    async def login(self) -> None:
        while True:
            try:
                async with self.http.post(
                    self.url + "/api/login",
                    json={"username": "suzuki", "password": PASSWORD},
                    headers=self.origin,
                ) as res:
                    if res.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)  # a retry's pause: the hub may be down for a while

    async def submit(self, application_id: str) -> str:
        body = {
            "application_id": application_id,
            "session_id": SESSION,
            "bundle": certificate_bundle(),
        }
        while True:
            self.attempts[application_id] += 1
            try:
                async with self.http.post(
                    self.url + "/api/intake/applications", json=body, headers=self.origin
                ) as res:
                    if res.status in (200, 201):
                        return str((await res.json())["entry_id"])
                    if res.status == 401:
                        await self.login()
                        continue
                    assert res.status in (500, 502, 503), await res.text()
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.05 + self.rng.random() * 0.1)  # a retry's backoff, jittered

    async def run(self, count: int) -> None:
        await self.login()
        for i in range(count):
            application_id = str(uuid.uuid4())
            entry_id = await self.submit(application_id)
            self.acked[application_id] = entry_id
            if i % 10 == 3:  # the answer "lost": the same application again
                assert await self.submit(application_id) == entry_id

    async def close(self) -> None:
        await self.http.close()


async def _seed(url: str) -> None:
    client = aioredis.from_url(url, decode_responses=True)
    try:
        await add_account(client, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin"])
    finally:
        await client.aclose()
    await open_session(url, "suzuki", SESSION)


async def test_nothing_acknowledged_is_lost_through_kill_9(tmp_path: Path) -> None:
    started = time.monotonic()
    redis_server = RedisServer(tmp_path / "redis", appendfsync="always")
    redis_server.start()
    hub = HubProcess(redis_server.url, tmp_path / "hub", hub_id="hub-durable")
    acked: dict[str, str] = {}
    attempts: Counter[str] = Counter()
    clients: list[Client] = []
    work: asyncio.Future[Any] | None = None

    async def acks(count: int, what: str) -> None:
        await wait_for_async(
            lambda: len(acked) >= count,
            lambda: f"{what} ({len(acked)} of {count} acknowledged)",
            30.0,
            every=0.02,
        )

    try:
        await _seed(redis_server.url)
        await asyncio.to_thread(hub.start)
        clients = [Client(hub.url, acked, attempts) for _ in range(CLIENTS)]
        work = asyncio.gather(*(c.run(PER_CLIENT) for c in clients))
        total = CLIENTS * PER_CLIENT
        crashes: list[str] = []

        await acks(total // 5, "the first acks")
        redis_server.kill()
        crashes.append(f"redis at {len(acked)}")
        await asyncio.sleep(0.3)  # the outage under test: clients meet a dead Redis meanwhile
        await asyncio.to_thread(redis_server.start)

        await acks(2 * total // 5, "acks after redis came back")
        hub.kill()
        crashes.append(f"hub at {len(acked)}")
        await asyncio.to_thread(hub.start)

        await acks(3 * total // 5, "acks after the hub came back")
        hub.kill()
        redis_server.kill()
        crashes.append(f"both at {len(acked)}")
        await asyncio.sleep(0.2)  # the outage under test: both down while the clients retry
        await asyncio.to_thread(redis_server.start)
        await asyncio.to_thread(hub.start)

        await asyncio.wait_for(work, DEADLINE_S - (time.monotonic() - started))

        client = aioredis.from_url(redis_server.url, decode_responses=True)
        try:
            entries = await client.xrange("mdg:intake:stream")
            statuses = {
                app: await client.hget(f"mdg:intake:app:{app}", "entry_id") for app in acked
            }
        finally:
            await client.aclose()
        landed = Counter(fields["application_id"] for _, fields in entries)
        entry_of = {fields["application_id"]: entry_id for entry_id, fields in entries}
        assert len(acked) == total
        assert [app for app, n in landed.items() if n != 1] == []
        assert set(landed) == set(acked)
        assert {app: entry_of[app] for app in acked} == acked
        assert statuses == acked
        retried = sum(1 for n in attempts.values() if n > 1)
        assert retried > 0, f"no submission needed a retry; crashes: {crashes}"
        assert time.monotonic() - started < DEADLINE_S + 5
    finally:
        if work is not None and not work.done():
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        for c in clients:
            await c.close()
        hub.stop()
        redis_server.stop()
