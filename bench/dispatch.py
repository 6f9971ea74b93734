"""``madoguchi bench dispatch``: from "a specialist becomes available" to "the offer reaches their
socket", with a long queue and many specialists on several hub processes.

Starts a private Redis and ``hubs`` hub processes on free loopback ports, creates ``specialists``
specialist accounts (skill ``juumin``), and spreads them round-robin over the hubs. The clients
run in ``client_processes`` worker processes of this benchmark (``python -m bench.dispatch
--worker``), each logging its specialists in and holding their WebSockets as the console does.
Then, for each queue length in ``waiting``:

1. the queue ``mdg:q:juumin`` is filled to that length plus one ticket per specialist (each
   specialist always holds one), with :meth:`hub.sessions.dispatch.Dispatch.create`, the step the
   hub takes for a resident at a kiosk; no terminal needs to be connected for a ticket to wait;
2. a feeder keeps the queue at that length while we measure: for every ticket served it creates
   one, as arriving residents would;
3. every specialist runs, concurrently with all the others, the loop of a working day::

       becomes available ── t0
         → session.offered arrives ── t1: one sample, t1 - t0
         → session.accept → session.assigned
         → session.end (completed) → session.ended: the specialist is in wrap-up
         → a pause of think_s × uniform(0.5, 1.5): the wrap-up
         → session.finish: becomes available again, the next t0

   "Becomes available" is the end of the wrap-up: the hub's ``finish`` script sets the specialist
   ``available`` and, in the same atomic step, runs ``offer_best_for`` for them, the step that
   ``specialist.set_state available`` runs too. It is the way a specialist becomes available most
   often (after every resident), and unlike set_state it can be repeated: set_state ``away`` is
   refused while ringing, busy or in wrap-up, and with a backlog a specialist is always one of
   those. Each specialist's first offer of a queue length (``specialist.set_state available`` at
   the first, ``session.finish`` after a pause) is reported apart as ``first_offer``, not as a
   sample. These first actions are spread over one mean pause (at most half the warm-up), so
   that they do not all land at once;
4. samples are the cycles that start within a window of ``seconds`` after ``warmup_s``. Over the
   same window we take the hub processes' and Redis's CPU time, the whole machine's (to see what
   else ran), Redis's per-command statistics (``INFO commandstats`` and ``latencystats``) and
   each script's own time in Redis (every command goes to the slow log during the window; the
   newest 60,000 are read), and each client process's CPU time and event-loop lag. Every fourth
   pause, a client also times a ``probe``: a frame the hub refuses at once, a round trip through
   the hub without Redis;
5. when the window closes, each specialist stops in wrap-up after their current resident; the
   next queue length continues from there.

t0 is taken just before the client writes the frame, t1 when its socket reader has the frame, in
the same process (``perf_counter``); so a sample includes the hub's work, Redis, the relay through
Redis pub/sub to the hub the specialist is connected to, and the client's own event loop.

Settings come from the environment and fail fast:

=======================================  ===========================================================
``MADOGUCHI_BENCH_DISPATCH_WAITING``     queue lengths to measure, comma-separated, in order
                                         (default ``1000,10000``)
``MADOGUCHI_BENCH_DISPATCH_SPECIALISTS`` specialists, all serving ``juumin`` (default 200)
``MADOGUCHI_BENCH_DISPATCH_HUBS``        hub processes (default 3)
``MADOGUCHI_BENCH_DISPATCH_SECONDS``     measuring window per queue length (default 30)
``MADOGUCHI_BENCH_DISPATCH_WARMUP_S``    not counted, before each window (default 3)
``MADOGUCHI_BENCH_DISPATCH_THINK_S``     mean wrap-up pause in seconds; 0 runs the loop flat out
                                         (default 2: about 100 offers a second with 200)
``MADOGUCHI_BENCH_DISPATCH_CLIENTS``     client processes the specialists are spread over
                                         (default 1)
=======================================  ===========================================================

``--runs`` does not apply and is ignored. The hubs get a copy of the routing data with a wrap-up
of an hour (so that the hub's own wrap-up timer never finishes for a client) and a per-connection
rate limit of 1000 messages a second (so that the limit never paces a client run flat out; at the
default pace a client sends under 2 a second). Everything is stopped and the temporary directory
removed, also on error and on Ctrl-C / SIGTERM, after which the result is
``{"error": "interrupted", ...}``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import random
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import redis.asyncio as aioredis

import signaling as sig
from bench.common import BenchConfigError, cpu_s, machine, number, setting, sigterm_interrupts
from hub import redis_keys
from hub.accounts.store import add_account
from hub.realtime.relay import Relay
from hub.sessions.dispatch import Dispatch
from hub.sessions.lifecycle import EndReason
from hub.sessions.router import ROUTING_FILE, load_rules
from hub.sessions.service import Sessions
from hub.sessions.store import Store
from madoguchi.local_deployment import DeploymentError, HubProcess, RedisServer

SKILL = "juumin"
PURPOSE = "moving"  # a purpose served by SKILL in hub/catalog/routing.json
QUEUE = redis_keys.queue(SKILL)
ANSWER_TIMEOUT_S = 30.0
"""How long a client waits for any one reply before it gives up (a stall)."""
AIM_P99_MS = 20.0
SLOW_US = 1000
"""Commands slower than this in Redis are counted by name."""
SLOWLOG_ENTRIES = 60_000
"""Redis's slow log logs every command during the window (those scripts run too) and keeps this
many, the newest: the last eight seconds or so of the window at the default pace."""
PROBE = '{"type":"nope"}'
"""A frame the hub parses and refuses with ``unknown_type``: a round trip that skips Redis."""
PROBE_EVERY = 4
"""Every this many cycles, a client sends a probe during its pause."""


class BenchFailed(Exception):
    """A server or a client process failed; the message says which and why."""


@dataclass(frozen=True)
class DispatchBenchConfig:
    waiting: tuple[int, ...] = (1000, 10000)
    """Queue lengths to measure at, in order (MADOGUCHI_BENCH_DISPATCH_WAITING)."""

    specialists: int = 200
    """Specialists, round-robin over the hubs (MADOGUCHI_BENCH_DISPATCH_SPECIALISTS)."""

    hubs: int = 3
    """Hub processes sharing the Redis (MADOGUCHI_BENCH_DISPATCH_HUBS)."""

    seconds: float = 30.0
    """Measuring window per queue length (MADOGUCHI_BENCH_DISPATCH_SECONDS)."""

    warmup_s: float = 3.0
    """Time before each window, not counted (MADOGUCHI_BENCH_DISPATCH_WARMUP_S)."""

    think_s: float = 2.0
    """Mean wrap-up pause between two residents; 0 = flat out (MADOGUCHI_BENCH_DISPATCH_THINK_S).
    With 200 specialists, 2 s makes about 100 offers a second: some 200 times a real day's rate
    (a resident every few minutes per specialist), and about half of what this 2-core machine
    can take with all the servers and clients on it."""

    client_processes: int = 1
    """Worker processes running the clients (MADOGUCHI_BENCH_DISPATCH_CLIENTS)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> DispatchBenchConfig:
        env = os.environ if env is None else env
        d = cls()
        p = "MADOGUCHI_BENCH_DISPATCH_"
        waiting = d.waiting
        if (raw := env.get(p + "WAITING")) is not None:
            waiting = tuple(number(p + "WAITING", part.strip(), int) for part in raw.split(","))
            if not waiting or min(waiting) < 1:
                raise BenchConfigError(f"Config {p + 'WAITING'!r} must be positive, not {raw!r}.")
        config = cls(
            waiting=waiting,
            specialists=setting(env, p + "SPECIALISTS", d.specialists, int),
            hubs=setting(env, p + "HUBS", d.hubs, int),
            seconds=setting(env, p + "SECONDS", d.seconds, float),
            warmup_s=setting(env, p + "WARMUP_S", d.warmup_s, float, zero_ok=True),
            think_s=setting(env, p + "THINK_S", d.think_s, float, zero_ok=True),
            client_processes=setting(env, p + "CLIENTS", d.client_processes, int),
        )
        if config.client_processes > config.specialists:
            raise BenchConfigError(
                f"Config {p + 'CLIENTS'!r} must not exceed {p + 'SPECIALISTS'!r}."
            )
        return config


# == the client side: runs in the worker processes ================================================


class ClientFailed(Exception):
    """A specialist's client got an error reply, lost its socket, or waited too long."""


@dataclass
class Plan:
    """One queue length's run, as a worker is told it. Times are ``time.time()``."""

    first: str  # "available": set_state available; "finish": finish the parked wrap-up
    start_at: float
    window_start: float
    window_end: float
    think_s: float
    spread_s: float  # first actions are spread uniformly over this long after start_at


@dataclass
class SpecialistClient:
    username: str
    password: str
    hub_url: str
    ws: aiohttp.ClientWebSocketResponse | None = None
    inbox: asyncio.Queue[tuple[float, sig.Message | None]] = field(default_factory=asyncio.Queue)
    reader: asyncio.Task[None] | None = None
    session_id: str | None = None  # the one in wrap-up, while parked
    failed: str | None = None

    async def send(self, message: sig.Message) -> float:
        """Write ``message``; returns the ``perf_counter`` just before."""
        assert self.ws is not None
        started = time.perf_counter()
        await self.ws.send_str(sig.encode(message))
        return started

    async def expect(
        self, kind: type[sig.Message], skipped: list[tuple[float, sig.Message]] | None = None
    ) -> tuple[float, Any]:
        """The next message of ``kind`` and when it was read. Others (status) are skipped, and
        put in ``skipped`` when given; an error reply (unless expected) is a failure."""
        while True:
            async with asyncio.timeout(ANSWER_TIMEOUT_S):
                at, message = await self.inbox.get()
            if message is None:
                raise ClientFailed("socket_closed")
            if isinstance(message, kind):
                return at, message
            if isinstance(message, sig.ErrorReply):
                raise ClientFailed(f"error:{message.code}:{message.ref_type}")
            if skipped is not None:
                skipped.append((at, message))

    async def probe(self) -> float:
        """Round trip of a frame the hub refuses at once (``unknown_type``), without Redis."""
        assert self.ws is not None
        started = time.perf_counter()
        await self.ws.send_str(PROBE)
        at, reply = await self.expect(sig.ErrorReply)
        if reply.code != "unknown_type":
            raise ClientFailed(f"probe answered with {reply.code}")
        return float(at - started)


async def _read(client: SpecialistClient, ws: aiohttp.ClientWebSocketResponse) -> None:
    """Read the socket for as long as it is open (aiohttp answers the hub's pings meanwhile)."""
    while True:
        frame = await ws.receive()
        at = time.perf_counter()
        if frame.type is aiohttp.WSMsgType.TEXT:
            try:
                client.inbox.put_nowait((at, sig.parse_message(frame.data)))
            except sig.ProtocolError:
                client.inbox.put_nowait((at, None))
                return
        elif frame.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING):
            continue
        else:
            client.inbox.put_nowait((at, None))
            return


async def _connect(http: aiohttp.ClientSession, client: SpecialistClient) -> None:
    origin = {"Origin": client.hub_url}
    async with http.post(
        client.hub_url + "/api/login",
        json={"username": client.username, "password": client.password},
        headers=origin,
    ) as response:
        if response.status != 200:
            raise ClientFailed(f"login {client.username}: HTTP {response.status}")
        cookie = response.cookies.get("mdg_login")
        if cookie is None:
            raise ClientFailed(f"login {client.username}: no cookie")
    ws = await http.ws_connect(
        client.hub_url + "/ws", headers={**origin, "Cookie": f"mdg_login={cookie.value}"}
    )
    client.ws = ws
    client.reader = asyncio.create_task(_read(client, ws), name=f"read-{client.username}")
    _, hello = await client.expect(sig.Hello)
    if hello.peer_id != client.username:
        raise ClientFailed(f"hello for {hello.peer_id}, not {client.username}")
    await client.expect(sig.SpecialistStatus)


@dataclass
class Tally:
    """What one worker saw during one plan."""

    samples_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)
    status_ms: list[float] = field(default_factory=list)  # t0 -> specialist.status (ringing)
    probe_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    cpu_at_start: float | None = None
    cpu_at_end: float | None = None


async def _serve(client: SpecialistClient, plan: Plan, tally: Tally, rng: random.Random) -> None:
    """One specialist's loop until the window closes; leaves them parked in wrap-up."""
    await asyncio.sleep(max(0.0, plan.start_at - time.time()) + rng.uniform(0, plan.spread_s))
    first = True
    cycle = 0
    while True:
        wall = time.time()
        if first and plan.first == "available":
            t0 = await client.send(sig.SpecialistSetState(state="available"))
        elif client.session_id is not None:
            t0 = await client.send(sig.SessionFinish(session_id=client.session_id))
        else:
            raise ClientFailed("nothing to finish: this client never had a resident")
        before: list[tuple[float, sig.Message]] = []
        t1, offered = await client.expect(sig.SessionOffered, before)
        latency_ms = (t1 - t0) * 1000
        if first:
            tally.first_ms.append(latency_ms)
        elif plan.window_start <= wall < plan.window_end:
            tally.samples_ms.append(latency_ms)
            status = [
                at
                for at, m in before
                if isinstance(m, sig.SpecialistStatus) and m.state == "ringing" and at >= t0
            ]
            if status:
                tally.status_ms.append((status[0] - t0) * 1000)
        first = False
        sid = offered.session_id
        await client.send(sig.SessionAccept(session_id=sid))
        await client.expect(sig.SessionAssigned)
        await client.send(sig.SessionEnd(session_id=sid, reason="completed"))
        await client.expect(sig.SessionEnded)
        client.session_id = sid
        if time.time() >= plan.window_end:
            return
        if plan.think_s > 0:
            pause_until = time.perf_counter() + plan.think_s * rng.uniform(0.5, 1.5)
            cycle += 1
            if cycle % PROBE_EVERY == 0:
                await asyncio.sleep(plan.think_s * rng.uniform(0.0, 0.4))
                wall = time.time()
                rtt_ms = await client.probe() * 1000
                if plan.window_start <= wall < plan.window_end:
                    tally.probe_ms.append(rtt_ms)
            await asyncio.sleep(max(0.0, pause_until - time.perf_counter()))


async def _watch_loop(plan: Plan, tally: Tally, done: asyncio.Event) -> None:
    """Event-loop lag and CPU time of this process over the window."""
    period = 0.005
    while not done.is_set():
        before = time.perf_counter()
        await asyncio.sleep(period)
        lag = time.perf_counter() - before - period
        now = time.time()
        if plan.window_start <= now < plan.window_end:
            if tally.cpu_at_start is None:
                tally.cpu_at_start = time.process_time()
            tally.lag_ms.append(lag * 1000)
        elif now >= plan.window_end and tally.cpu_at_end is None:
            tally.cpu_at_end = time.process_time()


async def _run_plan(clients: list[SpecialistClient], plan: Plan, seed: int) -> dict[str, Any]:
    tally = Tally()
    done = asyncio.Event()
    watcher = asyncio.create_task(_watch_loop(plan, tally, done))
    rng = random.Random(seed)
    live = [c for c in clients if c.failed is None]
    results = await asyncio.gather(
        *(_serve(c, plan, tally, random.Random(rng.random())) for c in live),
        return_exceptions=True,
    )
    done.set()
    await watcher
    for client, outcome in zip(live, results, strict=True):
        if isinstance(outcome, BaseException):
            client.failed = f"{type(outcome).__name__}: {outcome}"[:200]
            tally.errors[client.failed] += 1
    cpu_s = None
    if tally.cpu_at_start is not None and tally.cpu_at_end is not None:
        cpu_s = tally.cpu_at_end - tally.cpu_at_start
    return {
        "event": "report",
        "samples_ms": tally.samples_ms,
        "first_ms": tally.first_ms,
        "status_ms": tally.status_ms,
        "probe_ms": tally.probe_ms,
        "lag_ms": tally.lag_ms,
        "cpu_s": cpu_s,
        "errors": dict(tally.errors),
        "clients": len(live),
    }


async def _connect_all(http: aiohttp.ClientSession, clients: list[SpecialistClient]) -> None:
    gate = asyncio.Semaphore(16)  # logins verify a password hash: slow on purpose

    async def connect(client: SpecialistClient) -> None:
        async with gate:
            await _connect(http, client)

    await asyncio.gather(*(connect(c) for c in clients))


async def _worker() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    clients: list[SpecialistClient] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        try:
            while line := await reader.readline():
                command = json.loads(line)
                if command["cmd"] == "connect":
                    clients = [SpecialistClient(u, p, h) for u, p, h in command["clients"]]
                    await _connect_all(http, clients)
                    say({"event": "connected", "count": len(clients)})
                elif command["cmd"] == "run":
                    plan = Plan(**command["plan"])
                    say(await _run_plan(clients, plan, int(command["seed"])))
                elif command["cmd"] == "close":
                    break
        finally:
            for c in clients:
                if c.ws is not None:
                    with contextlib.suppress(Exception):
                        await c.ws.close()
                if c.reader is not None:
                    c.reader.cancel()
    say({"event": "closed"})


def worker_main() -> None:
    """A client process: commands on stdin, one JSON event per line on stdout. Ends at EOF."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us; Ctrl-C goes to it
    asyncio.run(_worker())


# == the orchestrator: the benchmark's own process ================================================


class Worker:
    """A client process, spoken to in JSON lines."""

    def __init__(self, index: int, log_path: Path) -> None:
        self.index = index
        self.log_path = log_path
        self.proc: asyncio.subprocess.Process | None = None
        self.busy = False  # a command is out and its answer not yet read
        self._log = open(log_path, "ab")  # its stderr; closed in stop()
        self._cwd = Path(__file__).resolve().parent.parent

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.dispatch",
            "--worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._log,
            cwd=self._cwd,
            limit=64 * 1024 * 1024,
        )

    async def ask(self, command: dict[str, Any], limit_s: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdin and self.proc.stdout
        self.busy = True
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        await self.proc.stdin.drain()
        async with asyncio.timeout(limit_s):
            line = await self.proc.stdout.readline()
        self.busy = False
        if not line:
            raise BenchFailed(f"client process {self.index} exited:\n{self.tail()}")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        """Politely when it is idle (it closes its sockets), else at once (SIGTERM)."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            if self.busy:
                proc.terminate()
            else:
                with contextlib.suppress(Exception):
                    await self.ask({"cmd": "close"}, limit_s=10.0)
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                async with asyncio.timeout(5.0):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                await proc.wait()
        self._log.close()


def _say(verbose: bool, text: str) -> None:
    if verbose:
        print(f"[bench dispatch] {text}", file=sys.stderr, flush=True)


def _pct(values: Any, q: float) -> float | None:
    return round(float(np.percentile(values, q)), 2) if len(values) else None


async def _sleep_until(at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.time()))


class Feeder:
    """Creates tickets: a backlog, and then one for each served, as residents arriving would."""

    def __init__(self, redis: aioredis.Redis, dispatch: Dispatch, sessions: Sessions) -> None:
        self.redis = redis
        self.dispatch = dispatch
        self.sessions = sessions
        self.created = 0
        self.offered_at_create = 0
        self.seen: list[int] = []  # ZCARD each time it looked, during the window
        self.watching = False

    async def create(self, count: int) -> None:
        gate = asyncio.Semaphore(64)

        async def one() -> None:
            async with gate:
                self.created += 1
                n = self.created
                _, offers = await self.dispatch.create(
                    f"s-bench-{n:06d}",
                    terminal_id=f"bench-t{n:06d}",
                    branch_id="bench",
                    purpose=PURPOSE,
                    skill=SKILL,
                    priority="normal",
                    now=time.time(),
                )
            if offers:  # only if a specialist was available with nothing to do; tell them
                self.offered_at_create += len(offers)
                await self.sessions.announce(offers)

        await asyncio.gather(*(one() for _ in range(count)))

    async def shrink_to(self, target: int) -> None:
        extra = await self.redis.zrange(QUEUE, target, -1)
        for sid in extra:
            await self.dispatch.end_waiting(sid, EndReason.ABANDONED, time.time())

    async def keep(self, target: int, stop: asyncio.Event) -> None:
        while not stop.is_set():
            waiting = int(await self.redis.zcard(QUEUE))
            if self.watching:
                self.seen.append(waiting)
            if waiting < target:
                await self.create(target - waiting)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)


def _machine_cpu_s() -> tuple[float, float]:
    """CPU seconds of the whole machine since boot: (busy, idle), all cores together."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / tick, (idle + iowait) / tick


@dataclass(frozen=True)
class ServerSample:
    at: float
    waiting: int
    hub_cpu_s: tuple[float, ...]
    redis_cpu_s: float
    own_cpu_s: float  # this process: the feeder and the bookkeeping
    machine_busy_s: float
    machine_idle_s: float


async def _server_sample(redis: aioredis.Redis, hubs: list[HubProcess]) -> ServerSample:
    cpu = await redis.info("cpu")
    hub_cpu = []
    for hub in hubs:
        if not hub.running or hub.proc is None:
            raise BenchFailed(f"{hub.name} exited:\n{hub.tail()}")
        hub_cpu.append(cpu_s(hub.proc.pid))
    busy, idle = _machine_cpu_s()
    return ServerSample(
        at=time.time(),
        waiting=int(await redis.zcard(QUEUE)),
        hub_cpu_s=tuple(hub_cpu),
        redis_cpu_s=float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
        own_cpu_s=time.process_time(),
        machine_busy_s=busy,
        machine_idle_s=idle,
    )


async def _redis_stats(redis: aioredis.Redis, dispatch: Dispatch) -> dict[str, Any]:
    """Per-command calls and server-side time over the window, busiest first (commands that
    scripts call count on their own too), and what the slow log caught, by script."""
    commands = await redis.info("commandstats")
    percentiles = await redis.info("latencystats")
    stats: dict[str, Any] = {}
    busiest = sorted(commands.items(), key=lambda kv: -int(kv[1].get("usec", 0)))
    for key, value in busiest[:8]:
        name = key.removeprefix("cmdstat_")
        stats[name] = {
            "calls": int(value["calls"]),
            "usec_per_call": round(float(value["usec_per_call"]), 1),
            "total_ms": round(int(value["usec"]) / 1000, 1),
            **{
                f"{k}_us": v
                for k, v in percentiles.get(f"latency_percentiles_usec_{name}", {}).items()
            },
        }
    # Every command went to the slow log (threshold 0): each script's own time in Redis, over
    # the newest SLOWLOG_ENTRIES commands.
    scripts = {script.sha: name for name, script in dispatch.scripts.items()}
    durations: dict[str, list[int]] = collections.defaultdict(list)
    slow: collections.Counter[str] = collections.Counter()
    entries = await redis.slowlog_get(SLOWLOG_ENTRIES)
    for entry in entries:
        command = entry.get("command", b"")
        words = (command.decode() if isinstance(command, bytes) else str(command)).split()
        label = words[0].lower() if words else "?"
        if label == "evalsha" and len(words) > 1:
            label = f"evalsha {scripts.get(words[1], words[1][:8])}"
        duration_us = int(entry.get("duration", 0))
        durations[label].append(duration_us)
        if duration_us > SLOW_US:
            slow[label] += 1
    by_script = {
        label.removeprefix("evalsha "): {
            "calls": len(values),
            "p50_us": _pct(values, 50),
            "p99_us": _pct(values, 99),
            "max_us": max(values),
        }
        for label, values in sorted(durations.items(), key=lambda kv: -sum(kv[1]))
        if label.startswith("evalsha ")
    }
    return {
        "commands": stats,
        "scripts": by_script,
        "slowlog_entries": len(entries),
        f"over_{SLOW_US}us": dict(slow),
        "slowest_us": max((max(v) for v in durations.values()), default=0),
    }


async def _measure_one(
    config: DispatchBenchConfig,
    target: int,
    first: str,
    seed: int,
    redis: aioredis.Redis,
    hubs: list[HubProcess],
    workers: list[Worker],
    feeder: Feeder,
    verbose: bool,
) -> dict[str, Any]:
    waiting = int(await redis.zcard(QUEUE))
    backlog = target + config.specialists
    started = time.perf_counter()
    if waiting < backlog:
        await feeder.create(backlog - waiting)
    elif waiting > backlog:
        await feeder.shrink_to(backlog)
    _say(verbose, f"{target}: queue filled to {backlog} in {time.perf_counter() - started:.1f}s")

    stop = asyncio.Event()
    feeder.seen = []
    feeding = asyncio.create_task(feeder.keep(target, stop))
    start_at = time.time() + 0.5
    plan = Plan(
        first=first,
        start_at=start_at,
        window_start=start_at + config.warmup_s,
        window_end=start_at + config.warmup_s + config.seconds,
        think_s=config.think_s,
        spread_s=min(config.think_s, config.warmup_s / 2),
    )
    limit = config.warmup_s + config.seconds + 4 * ANSWER_TIMEOUT_S
    asking = [
        asyncio.create_task(w.ask({"cmd": "run", "plan": plan.__dict__, "seed": seed + i}, limit))
        for i, w in enumerate(workers)
    ]
    try:
        await _sleep_until(plan.window_start)
        await redis.config_resetstat()
        await redis.slowlog_reset()
        await redis.config_set("slowlog-log-slower-than", 0)
        before = await _server_sample(redis, hubs)
        feeder.watching = True
        _say(verbose, f"{target}: measuring for {config.seconds:.0f}s, {before.waiting} waiting")
        await _sleep_until(plan.window_end)
        after = await _server_sample(redis, hubs)
        await redis.config_set("slowlog-log-slower-than", -1)  # off
        feeder.watching = False
        server = await _redis_stats(redis, feeder.dispatch)
        reports = await asyncio.gather(*asking)
    finally:
        stop.set()
        await feeding
        for task in asking:
            task.cancel()
    samples = np.array([s for r in reports for s in r["samples_ms"]])
    first_ms = np.array([s for r in reports for s in r["first_ms"]])
    status_ms = np.array([s for r in reports for s in r["status_ms"]])
    probe_ms = np.array([s for r in reports for s in r["probe_ms"]])
    window = after.at - before.at
    errors: collections.Counter[str] = collections.Counter()
    for r in reports:
        errors.update(r["errors"])
    hub_cpu = [round(b - a, 2) for a, b in zip(before.hub_cpu_s, after.hub_cpu_s, strict=True)]
    redis_cpu = after.redis_cpu_s - before.redis_cpu_s
    client_cpu = [r["cpu_s"] for r in reports if r["cpu_s"] is not None]
    own_cpu = after.own_cpu_s - before.own_cpu_s
    busy = after.machine_busy_s - before.machine_busy_s
    idle = after.machine_idle_s - before.machine_idle_s
    ours = sum(hub_cpu) + redis_cpu + sum(client_cpu) + own_cpu
    result: dict[str, Any] = {
        "waiting": target,
        "waiting_start": before.waiting,
        "waiting_end": after.waiting,
        "waiting_min": min(feeder.seen, default=None),
        "waiting_max": max(feeder.seen, default=None),
        "samples": int(samples.size),
        "p50_ms": _pct(samples, 50),
        "p90_ms": _pct(samples, 90),
        "p99_ms": _pct(samples, 99),
        "max_ms": round(float(samples.max()), 2) if samples.size else None,
        "offers_per_s": round(samples.size / window, 1),
        "window_s": round(window, 2),
        "status_before_offer": {
            "what": "t0 -> specialist.status (ringing), which the hub sends before the offer",
            "p50_ms": _pct(status_ms, 50),
            "p99_ms": _pct(status_ms, 99),
        },
        "probe": {
            "what": "round trip of a frame the hub refuses at once, without Redis",
            "samples": int(probe_ms.size),
            "p50_ms": _pct(probe_ms, 50),
            "p99_ms": _pct(probe_ms, 99),
        },
        "first_offer": {
            "via": "specialist.set_state available" if first == "available" else "session.finish",
            "samples": int(first_ms.size),
            "p50_ms": _pct(first_ms, 50),
            "max_ms": round(float(first_ms.max()), 2) if first_ms.size else None,
        },
        "hub_cpu_s": hub_cpu,
        "hub_cpu_percent": round(100 * sum(hub_cpu) / window, 1),
        "redis_cpu_s": round(redis_cpu, 2),
        "client_cpu_s": [round(c, 2) for c in client_cpu],
        "feeder_cpu_s": round(own_cpu, 2),
        "machine": {
            "busy_percent": round(100 * busy / max(busy + idle, 1e-9), 1),
            "cores_busy": round(busy / window, 2),
            "cores_busy_by_others": round(max(0.0, busy - ours) / window, 2),
            "loadavg_end": [round(x, 2) for x in os.getloadavg()],
        },
        "client_loop_lag_ms": [
            {
                "p50": _pct(r["lag_ms"], 50),
                "p99": _pct(r["lag_ms"], 99),
                "max": _pct(r["lag_ms"], 100),
            }
            for r in reports
        ],
        "redis": server,
        "tickets_created": feeder.created,
        "offers_made_at_create": feeder.offered_at_create,
        "client_errors": dict(errors.most_common(5)),
    }
    _say(
        verbose,
        f"{target}: {result['samples']} samples, p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, {result['offers_per_s']} offers/s, "
        f"hubs {result['hub_cpu_percent']}% CPU",
    )
    return result


async def _create_accounts(redis_url: str, count: int, password: str) -> list[str]:
    quiet = logging.getLogger("hub.accounts.store")  # one INFO line per account otherwise
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    redis = aioredis.from_url(redis_url, decode_responses=True)
    gate = asyncio.Semaphore(os.cpu_count() or 2)
    names = [f"bench-sp{i:04d}" for i in range(count)]

    async def one(name: str) -> None:
        async with gate:
            await add_account(redis, name, password, "specialist", name, skills=[SKILL])

    try:
        await asyncio.gather(*(one(n) for n in names))
    finally:
        await redis.aclose()
        quiet.setLevel(level)
    return names


async def _measure(
    config: DispatchBenchConfig,
    tmp: Path,
    redis_url: str,
    hubs: list[HubProcess],
    routing_file: Path,
    verbose: bool,
) -> dict[str, Any]:
    password = secrets.token_hex(12)
    started = time.perf_counter()
    names = await _create_accounts(redis_url, config.specialists, password)
    _say(verbose, f"{len(names)} specialist accounts in {time.perf_counter() - started:.1f}s")

    # A long read timeout: the slow log comes back in one large reply.
    redis = aioredis.from_url(redis_url, decode_responses=True, socket_timeout=60.0)
    dispatch = Dispatch(redis, load_rules(routing_file))
    sessions = Sessions(
        Store(redis), dispatch, Relay(redis, "bench"), dispatch.rules, retention_s=86400
    )
    feeder = Feeder(redis, dispatch, sessions)
    workers = [Worker(i, tmp / f"clients-{i}.log") for i in range(config.client_processes)]
    try:
        await redis.config_set("slowlog-max-len", SLOWLOG_ENTRIES)
        for w in workers:
            await w.start()
        started = time.perf_counter()
        assignments = [[name, password, hubs[i % len(hubs)].url] for i, name in enumerate(names)]
        replies = await asyncio.gather(
            *(
                w.ask({"cmd": "connect", "clients": assignments[w.index :: len(workers)]}, 120.0)
                for w in workers
            )
        )
        for w, reply in zip(workers, replies, strict=True):
            if reply.get("event") != "connected":
                raise BenchFailed(f"client process {w.index}: {reply}\n{w.tail()}")
        _say(verbose, f"logged in and connected in {time.perf_counter() - started:.1f}s")
        sizes: dict[str, Any] = {}
        for k, target in enumerate(config.waiting):
            first = "available" if k == 0 else "finish"
            sizes[str(target)] = await _measure_one(
                config, target, first, 1000 * k, redis, hubs, workers, feeder, verbose
            )
        return {"sizes": sizes}
    finally:
        for w in workers:
            await w.stop()
        with contextlib.suppress(Exception):
            await redis.aclose()


def _where(exc: BaseException) -> str:
    """The innermost frame of the exception's traceback, as ``file:line in function``."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return "?"
    code = tb.tb_frame.f_code
    return f"{Path(code.co_filename).name}:{tb.tb_lineno} in {code.co_name}"


def _routing_file(tmp: Path) -> Path:
    data = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    data["wrap_up_s"] = 3600
    path = tmp / "routing.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def run(
    runs: int = 1, verbose: bool = True, config: DispatchBenchConfig | None = None
) -> dict[str, Any]:
    """The benchmark; ``runs`` is ignored. ``config`` defaults to the environment's."""
    del runs
    try:
        config = config or DispatchBenchConfig.from_env()
    except BenchConfigError as exc:
        return {"benchmark": "dispatch", "error": "bad_config", "message": str(exc)}
    settings = {
        "hubs": config.hubs,
        "specialists": config.specialists,
        "client_processes": config.client_processes,
        "think_s": config.think_s,
        "seconds": config.seconds,
        "warmup_s": config.warmup_s,
        "method": "session.finish (end of wrap-up) -> session.offered",
    }
    host = machine(aiohttp=aiohttp.__version__)
    result: dict[str, Any]
    with sigterm_interrupts(), tempfile.TemporaryDirectory(prefix="mdg-bench-dispatch-") as name:
        tmp = Path(name)
        redis_server: RedisServer | None = None
        hubs: list[HubProcess] = []
        try:
            redis_server = RedisServer(tmp / "redis")
            redis_server.start()
            routing_file = _routing_file(tmp)
            for i in range(config.hubs):
                hub = HubProcess(redis_server.url, tmp / f"hub-{i}", hub_id=f"bench-hub-{i}")
                hub.env.update(
                    {"MADOGUCHI_ROUTING_FILE": str(routing_file), "MADOGUCHI_RATE_PER_S": "1000"}
                )
                hubs.append(hub)
                hub.start()
            _say(verbose, f"redis on {redis_server.port}, hubs on {[h.port for h in hubs]}")
            result = asyncio.run(
                _measure(config, tmp, redis_server.url, hubs, routing_file, verbose)
            )
        except KeyboardInterrupt:
            result = {"error": "interrupted"}
        except Exception as exc:  # a benchmark ends with its JSON line, whatever went wrong
            result = {"error": type(exc).__name__, "message": str(exc)[:2000]}
            if not isinstance(exc, DeploymentError | BenchFailed):
                result["where"] = _where(exc)
            for hub in hubs:
                result[f"{hub.name}_log_tail"] = hub.tail(10)
        finally:
            for child in [*hubs, redis_server]:
                if child is not None:
                    child.stop()
    sizes = result.get("sizes", {})
    p99s = [s["p99_ms"] for s in sizes.values() if s.get("p99_ms") is not None]
    return {
        "benchmark": "dispatch",
        **settings,
        **result,
        "aim_p99_ms": AIM_P99_MS,
        "aim_met": bool(p99s) and max(p99s) < AIM_P99_MS,
        "machine": host,
    }


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker_main()
    else:
        print(json.dumps(run(verbose=True)), flush=True)
