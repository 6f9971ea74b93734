"""``madoguchi bench intake``: how fast the central intake acknowledges submissions, durably.

Starts a private Redis with ``appendonly yes`` and ``appendfsync always`` (every acknowledged
write is fsynced first) and one hub process on free loopback ports, creates a specialist in a
connected session, and logs ``clients`` HTTP clients in as that specialist. Then:

1. **http**: the clients submit ``submissions`` applications between them, each waiting for its
   answer before sending the next, through ``POST /api/intake/applications``: validation, the
   idempotent append, the fsync, the answer. One submission per client first, not counted, warms
   the hub up. The hub draws each PDF record in its worker process meanwhile, as in production.
   ``hub_cpu_ms_per_submission`` is the hub process's own CPU time (not its PDF worker's).
2. **direct**: the same number of appends of a record of the same size straight through
   :meth:`hub.intake.queue.Intake.submit` from ``clients`` concurrent tasks of this process: Redis
   and its fsync alone, without HTTP or validation.

A sample is one submission's time from sending to its answer (``perf_counter``). Afterwards the
stream must hold every submission exactly once. Settings come from the environment and fail fast:

=====================================  ==========================================================
``MADOGUCHI_BENCH_INTAKE_SUBMISSIONS``  submissions per phase (default 2000)
``MADOGUCHI_BENCH_INTAKE_CLIENTS``      concurrent clients (default 16)
``MADOGUCHI_BENCH_INTAKE_BUNDLE``       ``family`` (転入 with children: 4 forms) or
                                        ``certificate`` (住民票の写し: 1 form); default family
=====================================  ==========================================================

``--runs`` does not apply and is ignored. Everything is stopped and the temporary directory
removed, also on error and on Ctrl-C / SIGTERM (then the result is ``{"error": "interrupted"}``).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import redis.asyncio as aioredis

from bench.bundles import certificate_bundle, tennyu_bundle
from bench.common import BenchConfigError, cpu_s, machine, setting, sigterm_interrupts
from hub import redis_keys
from hub.accounts.store import add_account
from hub.intake.queue import Intake
from hub.sessions.dispatch import Dispatch
from hub.sessions.router import Specialist, load_rules
from madoguchi.local_deployment import DeploymentError, HubProcess, RedisServer

PASSWORD = "bench-intake-password"  # noqa: S105 -- a throwaway account in a private Redis
SPECIALIST = "bench-specialist"
SESSION = "bench-intake-session"

BUNDLES: Mapping[str, Mapping[str, Any]] = {
    "family": tennyu_bundle(),
    "certificate": certificate_bundle(),
}


@dataclass(frozen=True)
class IntakeBenchConfig:
    submissions: int = 2000
    clients: int = 16
    bundle: str = "family"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> IntakeBenchConfig:
        env = os.environ if env is None else env
        d = cls()
        key = "MADOGUCHI_BENCH_INTAKE_BUNDLE"
        bundle = env.get(key, d.bundle)
        if bundle not in BUNDLES:
            raise BenchConfigError(f"Config {key!r} is one of {', '.join(BUNDLES)}.")
        return cls(
            submissions=setting(env, "MADOGUCHI_BENCH_INTAKE_SUBMISSIONS", d.submissions, int),
            clients=setting(env, "MADOGUCHI_BENCH_INTAKE_CLIENTS", d.clients, int),
            bundle=bundle,
        )


def _say(verbose: bool, text: str) -> None:
    if verbose:
        print(f"[bench intake] {text}", file=sys.stderr, flush=True)


async def open_session(
    redis_url: str,
    specialist: str,
    session_id: str,
    terminal_id: str = "bench-01",
    branch_id: str = "bench",
) -> None:
    """A connected session served by ``specialist`` (an account that exists), made through the
    dispatch scripts as a resident at a terminal and a specialist taking them would."""
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        dispatch = Dispatch(client, load_rules())
        now = time.time()
        await dispatch.register(Specialist(specialist, frozenset({"juumin"})), now)
        await dispatch.create(
            session_id,
            terminal_id=terminal_id,
            branch_id=branch_id,
            purpose="moving",
            skill="juumin",
            priority="normal",
            now=now,
        )
        await dispatch.set_state(specialist, "available", now)
        outcome = await dispatch.accept(session_id, specialist, now)
        if not outcome.ok:
            raise DeploymentError(f"could not open a session: {outcome}")
    finally:
        await client.aclose()


def _cpu_s(pid: int | None) -> float:
    """:func:`bench.common.cpu_s`, or 0 for a process that is not (or no longer) there."""
    if pid is None:
        return 0.0
    try:
        return cpu_s(pid)
    except OSError:
        return 0.0


def _stats(latencies_ms: list[float], seconds: float, errors: Counter[str]) -> dict[str, Any]:
    values = np.array(latencies_ms)
    return {
        "samples": len(latencies_ms),
        "seconds": round(seconds, 2),
        "submissions_per_s": round(len(latencies_ms) / seconds, 1) if seconds > 0 else None,
        "p50_ms": round(float(np.percentile(values, 50)), 2) if values.size else None,
        "p99_ms": round(float(np.percentile(values, 99)), 2) if values.size else None,
        "max_ms": round(float(values.max()), 2) if values.size else None,
        "errors": dict(errors.most_common(5)),
    }


async def _http_phase(
    config: IntakeBenchConfig, hub: HubProcess, verbose: bool
) -> tuple[dict[str, Any], int]:
    hub_url = hub.url
    hub_pid = hub.proc.pid if hub.proc else None
    bundle = BUNDLES[config.bundle]
    origin = {"Origin": hub_url}
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    sessions = [
        aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
        )
        for _ in range(config.clients)
    ]
    sent = 0

    async def one(http: aiohttp.ClientSession, record: bool) -> None:
        nonlocal sent
        body = {
            "application_id": str(uuid.uuid4()),
            "session_id": SESSION,
            "bundle": copy.deepcopy(bundle),
        }
        t0 = time.perf_counter()
        try:
            async with http.post(
                hub_url + "/api/intake/applications", json=body, headers=origin
            ) as res:
                await res.read()
                status = res.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[type(exc).__name__] += 1
            return
        if status != 201:
            errors[f"http_{status}"] += 1
            return
        sent += 1
        if record:
            latencies.append((time.perf_counter() - t0) * 1000)

    try:
        for http in sessions:
            async with http.post(
                hub_url + "/api/login",
                json={"username": SPECIALIST, "password": PASSWORD},
                headers=origin,
            ) as res:
                if res.status != 200:
                    raise DeploymentError(f"login failed: {res.status} {await res.text()}")
        await asyncio.gather(*(one(http, False) for http in sessions))
        _say(verbose, f"warmed up; {config.submissions} submissions over HTTP")
        shares = [config.submissions // config.clients] * config.clients
        for i in range(config.submissions % config.clients):
            shares[i] += 1

        async def client(http: aiohttp.ClientSession, count: int) -> None:
            for _ in range(count):
                await one(http, True)

        cpu0, t0 = _cpu_s(hub_pid), time.perf_counter()
        await asyncio.gather(*(client(http, n) for http, n in zip(sessions, shares, strict=True)))
        seconds, cpu = time.perf_counter() - t0, _cpu_s(hub_pid) - cpu0
    finally:
        for http in sessions:
            await http.close()
    stats = _stats(latencies, seconds, errors)
    stats["hub_cpu_ms_per_submission"] = round(cpu * 1000 / max(len(latencies), 1), 2)
    return stats, sent


async def _direct_phase(
    config: IntakeBenchConfig, redis_url: str, payload: str, verbose: bool
) -> tuple[dict[str, Any], int]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    errors: Counter[str] = Counter()
    latencies: list[float] = []
    sent = 0
    quiet = logging.getLogger("hub.intake.queue")  # a line per application would drown the figures
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        intake = Intake(client)
        await intake.check_durability()
        _say(verbose, f"{config.submissions} submissions straight to the intake")
        queue = list(range(config.submissions))

        async def worker() -> None:
            nonlocal sent
            while queue:
                queue.pop()
                t0 = time.perf_counter()
                try:
                    await intake.submit(payload, f"direct-{uuid.uuid4()}", session_id=SESSION)
                except Exception as exc:  # counted, not raised: the figures say how many
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                sent += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(config.clients)))
        seconds = time.perf_counter() - t0
    finally:
        quiet.setLevel(level)
        await client.aclose()
    return _stats(latencies, seconds, errors), sent


async def _measure(
    config: IntakeBenchConfig, redis_url: str, hub: HubProcess, data_dir: Path, verbose: bool
) -> dict[str, Any]:
    seed = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await add_account(seed, SPECIALIST, PASSWORD, "specialist", "ベンチ", skills=["juumin"])
    finally:
        await seed.aclose()
    await open_session(redis_url, SPECIALIST, SESSION)
    http, http_sent = await _http_phase(config, hub, verbose)
    _say(verbose, f"http: {http['submissions_per_s']}/s, p50 {http['p50_ms']} ms")
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        stream = redis_keys.IntakeKeys().stream()
        last = await client.xrevrange(stream, count=1)
        payload = last[0][1]["payload"] if last else json.dumps(BUNDLES[config.bundle])
        direct, direct_sent = await _direct_phase(config, redis_url, payload, verbose)
        _say(verbose, f"direct: {direct['submissions_per_s']}/s, p50 {direct['p50_ms']} ms")
        stream_length = int(await client.xlen(stream))
        ids = [f["application_id"] for _, f in await client.xrange(stream)]
        config_fsync = await client.config_get("appendfsync")
        info = await client.info("server")
    finally:
        await client.aclose()
    pdfs = data_dir / "intake"
    return {
        "benchmark": "intake",
        "submissions": config.submissions,
        "clients": config.clients,
        "bundle": config.bundle,
        "record_bytes": len(payload.encode()),
        "http": http,
        "direct": direct,
        "stream_length": stream_length,
        "acknowledged": http_sent + direct_sent,
        "duplicates": len(ids) - len(set(ids)),
        "pdfs_written": len(list(pdfs.glob("*.pdf"))) if pdfs.exists() else 0,
        "redis": {
            "version": info.get("redis_version"),
            "appendfsync": config_fsync.get("appendfsync"),
        },
    }


def run(
    runs: int = 1, verbose: bool = True, config: IntakeBenchConfig | None = None
) -> dict[str, Any]:
    """The benchmark; ``runs`` is ignored. ``config`` defaults to the environment's."""
    del runs
    try:
        config = config or IntakeBenchConfig.from_env()
    except BenchConfigError as exc:
        return {"benchmark": "intake", "error": "bad_config", "message": str(exc)}
    result: dict[str, Any]
    hub: HubProcess | None = None
    with sigterm_interrupts(), tempfile.TemporaryDirectory(prefix="mdg-bench-intake-") as tmp:
        redis_server: RedisServer | None = None
        try:
            redis_server = RedisServer(Path(tmp) / "redis", appendfsync="always")
            redis_server.start()
            hub = HubProcess(redis_server.url, Path(tmp) / "hub")
            hub.start()
            _say(verbose, f"hub on {hub.url}, redis on {redis_server.url} (appendfsync always)")
            result = asyncio.run(
                _measure(config, redis_server.url, hub, Path(tmp) / "hub", verbose)
            )
        except KeyboardInterrupt:
            result = {"benchmark": "intake", "error": "interrupted"}
        except (DeploymentError, aiohttp.ClientError, OSError) as exc:
            result = {"benchmark": "intake", "error": type(exc).__name__, "message": str(exc)}
            if hub is not None:
                result["hub_log_tail"] = hub.tail(20)
        finally:
            for child in (hub, redis_server):
                if child is not None:
                    child.stop()
    result["machine"] = machine()
    return result


if __name__ == "__main__":  # pragma: no cover - `madoguchi bench intake` is the way in
    print(json.dumps(run(verbose=True), ensure_ascii=False))
