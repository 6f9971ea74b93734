"""``madoguchi bench signaling``: how many signaling WebSockets one hub process holds.

Starts a private Redis and one hub process on free loopback ports, enrolls ``connections``
terminals, and opens that many WebSockets to ``/ws`` from this process, ``concurrency`` at a time.
Each client authenticates with its device token, must get the hub's ``hello`` first, and then
reads for as long as it is open, answering the hub's heartbeat pings and sending its own (both
sides use a 15 s heartbeat, as the terminal and the hub do). All connections are held open for
``hold_s`` seconds; then every one must still be open and still answer twice:

* directly: a frame of an unknown type gets an ``error`` reply with code ``unknown_type``;
* through Redis: a ``session.connected`` published on the terminal's relay channel reaches it.

We read the hub's memory (``VmRSS``), CPU time and open files from ``/proc`` when it is idle (after
one warm-up connection), with every client connected, after the hold, and after every client has
closed. Settings come from the environment and fail fast:

``MADOGUCHI_BENCH_CONNECTIONS``  how many clients (default 5000)
``MADOGUCHI_BENCH_HOLD_S``       seconds to hold them all open (default 30: every connection
                                 then lives through at least one ping and its pong deadline)
``MADOGUCHI_BENCH_CONCURRENCY``  connection attempts in flight at once (default 200)

``--runs`` does not apply to this benchmark and is ignored. The soft limit on open files is raised
to the hard limit before the hub starts (the hub inherits it) and restored afterwards. Every server
is stopped and the temporary directory removed, also on error and on Ctrl-C / SIGTERM, after which
the result is ``{"error": "interrupted", ...}``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import resource
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import redis.asyncio as aioredis

import signaling as sig
from bench.common import BenchConfigError, cpu_s, machine, setting, sigterm_interrupts
from hub.redis_keys import peer_channel
from hub.sessions.store import Store
from madoguchi.local_deployment import DeploymentError, HubProcess, RedisServer

HEARTBEAT_S = 15.0
"""The clients' heartbeat, as the terminal's (``branch_client.link``); the hub's is 15 s too."""

ANSWER_TIMEOUT_S = 30.0
"""How long to wait for a hello, for every probe reply, and for every client to close."""

PROBE = '{"type":"nope"}'
"""A frame the hub parses and refuses with ``unknown_type``: a reply without touching Redis."""


@dataclass(frozen=True)
class SignalingBenchConfig:
    connections: int = 5000
    """WebSocket clients to open and hold (MADOGUCHI_BENCH_CONNECTIONS)."""

    hold_s: float = 30.0
    """Seconds to hold them all open before checking them (MADOGUCHI_BENCH_HOLD_S)."""

    concurrency: int = 200
    """Connection attempts in flight at once (MADOGUCHI_BENCH_CONCURRENCY)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SignalingBenchConfig:
        env = os.environ if env is None else env
        defaults = cls()
        return cls(
            connections=setting(env, "MADOGUCHI_BENCH_CONNECTIONS", defaults.connections, int),
            hold_s=setting(env, "MADOGUCHI_BENCH_HOLD_S", defaults.hold_s, float),
            concurrency=setting(env, "MADOGUCHI_BENCH_CONCURRENCY", defaults.concurrency, int),
        )


class HubExited(Exception):
    """The hub process under test exited during the benchmark."""


# -- the hub process, as /proc sees it ------------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1])
    raise ValueError(f"no {field_name} in /proc/{pid}/status")


def _open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _tcp_ext() -> dict[str, int]:
    """This network namespace's TcpExt counters (ListenOverflows, ListenDrops, ...)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return {}
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            return dict(zip(names.split()[1:], map(int, values.split()[1:]), strict=False))
    return {}


@dataclass(frozen=True)
class HubSample:
    at: float
    rss_kib: int
    cpu_s: float
    redis_cpu_s: float
    open_files: int
    redis_used_bytes: int
    hub_redis_connections: int

    def mb(self) -> float:
        return round(self.rss_kib / 1024, 1)


async def _sample(hub: HubProcess, redis: aioredis.Redis) -> HubSample:
    if not hub.running or hub.proc is None:
        raise HubExited(f"the hub exited:\n{hub.tail()}")
    pid = hub.proc.pid
    memory = await redis.info("memory")
    clients = await redis.info("clients")
    cpu = await redis.info("cpu")
    return HubSample(
        at=time.monotonic(),
        rss_kib=_status_kib(pid, "VmRSS"),
        cpu_s=cpu_s(pid),
        redis_cpu_s=float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        open_files=_open_files(pid),
        redis_used_bytes=int(memory["used_memory"]),
        # Ours is one: _measure drops the enrollment's connections before the first sample.
        hub_redis_connections=int(clients["connected_clients"]) - 1,
    )


# -- the clients ----------------------------------------------------------------------------------


@dataclass
class Client:
    """One simulated terminal's signaling connection."""

    terminal_id: str
    token: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    connect_s: float | None = None
    error: str | None = None
    pings: int = 0  # heartbeats from the hub, answered by us
    pongs: int = 0  # answers to our heartbeats
    replies: int = 0  # `error` replies with code unknown_type
    relayed: int = 0  # session.connected delivered through Redis
    other: collections.Counter[str] = field(default_factory=collections.Counter)
    reader: asyncio.Task[None] | None = None

    @property
    def open(self) -> bool:
        return self.ws is not None and not self.ws.closed


async def _connect(
    http: aiohttp.ClientSession, url: str, client: Client, gate: asyncio.Semaphore
) -> None:
    async with gate:
        started = time.perf_counter()
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                ws = await http.ws_connect(
                    url,
                    headers={"Authorization": f"Bearer {client.token}"},
                    heartbeat=HEARTBEAT_S,
                    autoping=False,  # we answer pings ourselves, to count them
                )
                first = await ws.receive()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            client.error = f"{type(exc).__name__}: {exc}"[:160]
            if ws is not None:
                await ws.close()
            return
        hello = _parse(first)
        if not isinstance(hello, sig.Hello) or hello.peer_id != client.terminal_id:
            client.error = f"first message was not our hello: {first.type.name} {first.data!r}"
            await ws.close()
            return
        client.connect_s = time.perf_counter() - started
        client.ws = ws
        client.reader = asyncio.create_task(_read(client, ws), name=f"read-{client.terminal_id}")


def _parse(frame: aiohttp.WSMessage) -> sig.Message | None:
    if frame.type is not aiohttp.WSMsgType.TEXT:
        return None
    try:
        return sig.parse_message(frame.data)
    except sig.ProtocolError:
        return None


async def _read(client: Client, ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read until the socket closes, answering pings and counting what arrives."""
    while True:
        frame = await ws.receive()
        kind = frame.type
        if kind is aiohttp.WSMsgType.PING:
            client.pings += 1
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.pong(frame.data)
        elif kind is aiohttp.WSMsgType.PONG:
            client.pongs += 1
        elif kind is aiohttp.WSMsgType.TEXT:
            message = _parse(frame)
            if isinstance(message, sig.ErrorReply) and message.code == "unknown_type":
                client.replies += 1
            elif isinstance(message, sig.SessionConnected):
                client.relayed += 1
            else:
                client.other[message.type if message else "unparsed"] += 1
        elif kind in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
            continue  # aiohttp answers the close; CLOSED follows
        else:  # CLOSED or ERROR
            return


async def _until(condition: Any, limit_s: float) -> bool:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def _in_batches(coros: list[Any], size: int) -> None:
    for start in range(0, len(coros), size):
        await asyncio.gather(*coros[start : start + size], return_exceptions=True)


# -- the measurement ------------------------------------------------------------------------------


def _say(verbose: bool, text: str) -> None:
    if verbose:
        print(f"[bench signaling] {text}", file=sys.stderr, flush=True)


async def _enroll(redis: aioredis.Redis, count: int, prefix: str) -> list[Client]:
    store = Store(redis)
    gate = asyncio.Semaphore(64)

    async def one(i: int) -> Client:
        terminal_id = f"{prefix}-{i}"
        async with gate:
            token = await store.enroll_terminal(terminal_id, "bench", "bench")
        return Client(terminal_id, token)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def _measure(
    config: SignalingBenchConfig, redis_url: str, hub: HubProcess, verbose: bool
) -> dict[str, Any]:
    n = config.connections
    ws_url = hub.url.replace("http://", "ws://") + "/ws"
    redis = aioredis.from_url(redis_url, decode_responses=True)
    everyone: list[Client] = []
    try:
        t0 = time.perf_counter()
        everyone = await _enroll(redis, n + 1, "bench")
        warmup, *clients = everyone
        enroll_s = time.perf_counter() - t0
        await redis.connection_pool.disconnect()
        _say(verbose, f"enrolled {n} terminals in {enroll_s:.1f}s")

        connector = aiohttp.TCPConnector(limit=0)  # a WebSocket holds its connection
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=ANSWER_TIMEOUT_S)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
            try:
                result = await _hold(config, http, ws_url, redis, hub, warmup, clients, verbose)
                return {**result, "enroll_seconds": round(enroll_s, 2)}
            finally:
                # After an error too: the hub would close what is left when it stops, but a
                # client closing first is the ordinary way, and leaves nothing to warn about.
                await _close_all(everyone, config.concurrency)
    finally:
        readers = [c.reader for c in everyone if c.reader is not None]
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await redis.aclose()


async def _close_all(clients: list[Client], size: int) -> float:
    started = time.perf_counter()

    async def close(c: Client) -> None:
        if c.ws is not None and not c.ws.closed:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                await c.ws.close()

    await _in_batches([close(c) for c in clients], size)
    return time.perf_counter() - started


async def _hold(
    config: SignalingBenchConfig,
    http: aiohttp.ClientSession,
    ws_url: str,
    redis: aioredis.Redis,
    hub: HubProcess,
    warmup: Client,
    clients: list[Client],
    verbose: bool,
) -> dict[str, Any]:
    n = config.connections
    gate = asyncio.Semaphore(config.concurrency)

    # One connection through the whole path first, so that code loaded and caches filled on
    # first use count in the baseline rather than against the connections.
    await _connect(http, ws_url, warmup, gate)
    if warmup.ws is None:
        raise DeploymentError(f"the warm-up connection failed: {warmup.error}")
    await warmup.ws.send_str(PROBE)
    await _until(lambda: warmup.replies == 1, ANSWER_TIMEOUT_S)
    await _close_all([warmup], 1)
    await asyncio.sleep(1.0)
    idle = await _sample(hub, redis)
    _say(verbose, f"hub idle: {idle.mb()} MB RSS, {idle.open_files} open files")

    tcp_before = _tcp_ext()
    started = time.perf_counter()
    connecting = asyncio.gather(*(_connect(http, ws_url, c, gate) for c in clients))
    while not connecting.done():
        await asyncio.wait([connecting], timeout=5.0)
        done = sum(c.connect_s is not None or c.error is not None for c in clients)
        _say(verbose, f"connecting: {done}/{n} done")
    await connecting
    connect_s = time.perf_counter() - started
    tcp_after = _tcp_ext()
    connected = [c for c in clients if c.ws is not None]
    _say(verbose, f"{len(connected)}/{n} connected in {connect_s:.1f}s")

    await asyncio.sleep(1.0)
    full = await _sample(hub, redis)
    relay_channels = len(await redis.pubsub_channels(peer_channel("terminal", "bench-*")))
    _say(verbose, f"hub with {len(connected)} connections: {full.mb()} MB RSS; holding")

    hold_until = time.monotonic() + config.hold_s
    while (left := hold_until - time.monotonic()) > 0:
        await asyncio.sleep(min(left, 5.0))
        _say(verbose, f"holding: {sum(c.open for c in connected)} open, {left:.0f}s left")
    held_sample = await _sample(hub, redis)
    held = [c for c in connected if c.open]

    probe_started = time.perf_counter()
    await _in_batches([c.ws.send_str(PROBE) for c in held if c.ws], config.concurrency)
    await _until(lambda: sum(c.replies for c in held) >= len(held), ANSWER_TIMEOUT_S)
    probe_s = time.perf_counter() - probe_started

    relay_started = time.perf_counter()
    async with redis.pipeline(transaction=False) as pipe:
        for i, c in enumerate(held):
            text = sig.encode(sig.SessionConnected(session_id=f"s-bench-{i}"))
            pipe.publish(peer_channel("terminal", c.terminal_id), text)
        await pipe.execute()
    await _until(lambda: sum(c.relayed for c in held) >= len(held), ANSWER_TIMEOUT_S)
    relay_s = time.perf_counter() - relay_started
    answered = sum(c.replies for c in held), sum(c.relayed for c in held)
    _say(verbose, "answered: {} direct, {} through Redis, of {}".format(*answered, len(held)))

    close_started = time.perf_counter()
    close_s = await _close_all(clients, config.concurrency)
    # The hub has let a connection go when it has left its relay channel.
    channels_left = relay_channels
    while channels_left and time.perf_counter() - close_started < ANSWER_TIMEOUT_S:
        await asyncio.sleep(0.1)
        channels_left = len(await redis.pubsub_channels(peer_channel("terminal", "bench-*")))
    release_s = time.perf_counter() - close_started
    await asyncio.sleep(0.5)
    closed = await _sample(hub, redis)

    times_ms = np.array([c.connect_s * 1000 for c in connected if c.connect_s is not None])
    errors = collections.Counter(c.error for c in clients if c.error is not None)
    other: collections.Counter[str] = collections.Counter()
    for c in clients:
        other.update(c.other)
    added = max(len(connected), 1)
    result: dict[str, Any] = {
        "benchmark": "signaling",
        "connections_target": n,
        "connections_held": len(held),
        "failed": n - len(connected),
        "dropped_during_hold": len(connected) - len(held),
        "replies": sum(min(c.replies, 1) for c in held),
        "relayed": sum(min(c.relayed, 1) for c in held),
        "heartbeats": {
            "pings_from_hub": sum(c.pings for c in connected),
            "pongs_from_hub": sum(c.pongs for c in connected),
            "connections_with_heartbeat": sum(c.pings + c.pongs > 0 for c in connected),
        },
        "rss_baseline_mb": idle.mb(),
        "rss_connected_mb": full.mb(),
        "rss_after_hold_mb": held_sample.mb(),
        "rss_after_close_mb": closed.mb(),
        "kib_per_connection": round((full.rss_kib - idle.rss_kib) / added, 1),
        "kib_per_connection_after_hold": round((held_sample.rss_kib - idle.rss_kib) / added, 1),
        "redis_kib_per_connection": round(
            (full.redis_used_bytes - idle.redis_used_bytes) / 1024 / added, 2
        ),
        "connect_seconds": round(connect_s, 2),
        "connect_concurrency": config.concurrency,
        "connect_p50_ms": _pct(times_ms, 50),
        "connect_p99_ms": _pct(times_ms, 99),
        "connect_max_ms": round(float(times_ms.max()), 1) if times_ms.size else None,
        "hold_seconds": round(held_sample.at - full.at, 1),
        "hub_cpu_seconds_during_connect": round(full.cpu_s - idle.cpu_s, 2),
        "hub_cpu_seconds_during_hold": round(held_sample.cpu_s - full.cpu_s, 2),
        "redis_cpu_seconds_during_hold": round(held_sample.redis_cpu_s - full.redis_cpu_s, 2),
        "hub_open_files": {
            "idle": idle.open_files,
            "connected": full.open_files,
            "after_close": closed.open_files,
        },
        "relay_channels": {"connected": relay_channels, "after_close": channels_left},
        "hub_redis_connections": {
            "idle": idle.hub_redis_connections,
            "connected": full.hub_redis_connections,
            "after_close": closed.hub_redis_connections,
        },
        "probe_seconds": round(probe_s, 2),
        "relay_probe_seconds": round(relay_s, 2),
        "close_seconds": round(close_s, 2),
        "hub_release_seconds": round(release_s, 2),
        "listen_overflows": {
            k: tcp_after.get(k, 0) - tcp_before.get(k, 0)
            for k in ("ListenOverflows", "ListenDrops")
        },
        "errors": dict(errors.most_common(5)),
        "unexpected_messages": dict(other),
    }
    if errors or len(held) < n:
        result["hub_log_problems"] = _log_problems(hub.log_path)
    return result


def _log_problems(log_path: Path, limit: int = 10) -> list[str]:
    """The first few distinct WARNING/ERROR lines of the hub's log, without their timestamps."""
    seen: dict[str, None] = {}
    with contextlib.suppress(OSError), open(log_path, errors="replace") as log:
        for line in log:
            if " WARNING " in line or " ERROR " in line:
                seen.setdefault(line.split(" ", 2)[-1].strip()[:300], None)
                if len(seen) >= limit:
                    break
    return list(seen)


def _pct(values: Any, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if len(values) else None


# -- the run --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _open_files_limit() -> Iterator[dict[str, int]]:
    """Raise the soft limit on open files to the hard one (children inherit it), then restore."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        yield {"nofile_soft_before": soft, "nofile": hard}
    finally:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _somaxconn() -> int | None:
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return None


def run(
    runs: int = 1, verbose: bool = True, config: SignalingBenchConfig | None = None
) -> dict[str, Any]:
    """The benchmark; ``runs`` is ignored. ``config`` defaults to the environment's."""
    del runs
    try:
        config = config or SignalingBenchConfig.from_env()
    except BenchConfigError as exc:
        return {"benchmark": "signaling", "error": "bad_config", "message": str(exc)}
    host = machine(aiohttp=aiohttp.__version__, somaxconn=_somaxconn())
    hub: HubProcess | None = None
    result: dict[str, Any]
    with sigterm_interrupts(), _open_files_limit() as limits:
        host.update(limits)
        needed = config.connections + 100
        if limits["nofile"] < needed:
            _say(verbose, f"warning: {limits['nofile']} open files allowed, {needed} wanted")
        with tempfile.TemporaryDirectory(prefix="mdg-bench-signaling-") as tmp:
            redis_server: RedisServer | None = None
            try:
                redis_server = RedisServer(Path(tmp) / "redis")
                redis_server.start()
                hub = HubProcess(redis_server.url, Path(tmp) / "hub")
                hub.start()
                _say(verbose, f"hub pid {hub.proc.pid if hub.proc else '?'} on {hub.url}")
                result = asyncio.run(_measure(config, redis_server.url, hub, verbose))
            except KeyboardInterrupt:
                result = {"error": "interrupted"}
            except (DeploymentError, HubExited, aiohttp.ClientError, OSError) as exc:
                result = {"error": type(exc).__name__, "message": str(exc)[:2000]}
                if hub is not None:
                    result["hub_log_tail"] = hub.tail(20)
            finally:
                for child in (hub, redis_server):
                    if child is not None:
                        child.stop()
    if "error" in result:
        result = {"benchmark": "signaling", **result, "connections_target": config.connections}
    result["machine"] = host
    return result
