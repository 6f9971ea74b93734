"""Three hub processes on one real Redis, a thousand tickets, fifty specialists: random accepts,
declines, unanswered offers, transfers, holds and disconnects, and one hub killed (-9) and
restarted mid-run. Afterwards every ticket ended exactly once with a reason, and no session was
ever held by two specialists at once, nor any specialist holding two sessions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

import signaling as sig
from hub.accounts.store import add_account
from hub.sessions.router import ROUTING_FILE
from hub.sessions.store import Store
from madoguchi.local_deployment import HubProcess
from madoguchi.waiting import wait_for_async

HUBS = 3
TERMINALS = 100
TICKETS_EACH = 10
SPECIALISTS = 50
PASSWORD = "load-test-password"
PURPOSES = {"moving": "juumin", "tax": "zei", "insurance": "kokuho", "birth": "kosodate"}
SKILLS = sorted(PURPOSES.values())
RUN_LIMIT_S = 240.0


@dataclass
class Cluster:
    redis_url: str
    hubs: list[HubProcess]
    tokens: dict[str, str]

    @property
    def urls(self) -> list[str]:
        return [h.url for h in self.hubs]


@pytest.fixture
async def cluster(tmp_path: Path, redis_url: str) -> AsyncIterator[Cluster]:
    """Three hubs on the shared Redis (emptied for this test), with short routing timers."""
    routing = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    routing.update(offer_timeout_s=1.5, decline_cooldown_s=0.5, wrap_up_s=3)
    routing_file = tmp_path / "routing.json"
    routing_file.write_text(json.dumps(routing), encoding="utf-8")
    env = {"MADOGUCHI_ROUTING_FILE": str(routing_file), "MADOGUCHI_PRESENCE_GRACE_S": "60"}
    hubs = [
        HubProcess(redis_url, tmp_path / "hubs", hub_id=f"hub{i}", env=env) for i in range(HUBS)
    ]
    try:
        r = aioredis.from_url(redis_url, decode_responses=True)
        await asyncio.gather(
            *(
                add_account(
                    r,
                    f"sp{i:02d}",
                    PASSWORD,
                    "specialist",
                    f"専門員{i}",
                    skills=[SKILLS[i % 4], SKILLS[(i + 1 + i // 4) % 4]],
                )
                for i in range(SPECIALISTS)
            )
        )
        store = Store(r)
        tokens = {
            f"t{i:03d}": await store.enroll_terminal(f"t{i:03d}", f"b{i % 7}", "端末")
            for i in range(TERMINALS)
        }
        await r.aclose()
        for hub in hubs:
            await asyncio.to_thread(hub.start)
        yield Cluster(redis_url, hubs, tokens)
    finally:
        for hub in hubs:
            hub.stop()


class Link:
    """A signaling client that reconnects, with backoff, to a random hub."""

    def __init__(
        self,
        urls: list[str],
        headers: Callable[[str], dict[str, str]],
        on_message: Callable[[Link, sig.Message], Any],
        on_connect: Callable[[Link], Any],
        http: aiohttp.ClientSession,
    ) -> None:
        self.urls, self.headers, self.on_message, self.on_connect = (
            urls,
            headers,
            on_message,
            on_connect,
        )
        self.http = http
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.rng = random.Random()
        self.connects = 0

    async def send(self, message: sig.Message) -> None:
        ws = self.ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_str(sig.encode(message))

    async def drop(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def run(self) -> None:
        attempt = 0
        while True:
            url = self.rng.choice(self.urls)
            try:
                async with self.http.ws_connect(
                    url + "/ws", headers=self.headers(url), heartbeat=5.0
                ) as ws:
                    self.ws, attempt = ws, 0
                    self.connects += 1
                    await self.on_connect(self)
                    async for frame in ws:
                        if frame.type is aiohttp.WSMsgType.TEXT:
                            await self.on_message(self, sig.parse_message(frame.data))
            except (aiohttp.ClientError, OSError):
                pass
            self.ws = None
            attempt += 1
            # A reconnect's backoff, exponential and jittered, as the terminal's and console's.
            await asyncio.sleep(min(2.0, 0.05 * 2**attempt) * self.rng.uniform(0.5, 1.0))


@dataclass
class Ledger:
    """What the clients saw: who held which session when, and every fault found."""

    holds: dict[str, str] = field(default_factory=dict)  # specialist -> session held now
    holder: dict[str, str] = field(default_factory=dict)  # session -> specialist holding now
    faults: list[str] = field(default_factory=list)
    ended_seen: dict[str, str] = field(default_factory=dict)  # session -> reason
    events: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    started: set[str] = field(default_factory=set)
    accepts: int = 0
    declines: int = 0
    ignored: int = 0
    transfers: int = 0

    def take(self, who: str, sid: str) -> None:
        if self.holds.get(who) not in (None, sid):
            self.faults.append(f"{who} holds {self.holds[who]} and got {sid}")
        if self.holder.get(sid) not in (None, who):
            self.faults.append(f"{sid} held by {self.holder[sid]} and given to {who}")
        self.holds[who], self.holder[sid] = sid, who

    def release(self, who: str) -> None:
        sid = self.holds.pop(who, None)
        if sid is not None and self.holder.get(sid) == who:
            del self.holder[sid]


async def _terminal(
    cluster: Cluster,
    tid: str,
    ledger: Ledger,
    http: aiohttp.ClientSession,
    done: asyncio.Event,
    remaining: list[int],
) -> Link:
    rng = random.Random(tid)
    state: dict[str, Any] = {"sid": None, "count": 0, "purpose": rng.choice(list(PURPOSES))}

    async def start(link: Link) -> None:
        ledger.events[tid].append(f"{time.monotonic():.2f} >{link.connects} start {state['sid']}")
        await link.send(
            sig.SessionStart(
                purpose=state["purpose"],
                resume=state["sid"],
                priority=rng.choice(["normal", "normal", "elderly"]),
            )
        )

    async def on_connect(link: Link) -> None:
        if state["count"] < TICKETS_EACH:
            await start(link)  # resumes the current session, or starts the next

    async def finished_one(link: Link) -> None:
        state["count"] += 1
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set()
        state["sid"] = None
        state["purpose"] = rng.choice(list(PURPOSES))
        if state["count"] < TICKETS_EACH:
            await asyncio.sleep(rng.uniform(0, 0.05))  # the load's jitter: the next resident
            await start(link)

    async def on_message(link: Link, m: sig.Message) -> None:
        if not isinstance(m, sig.QueuePosition):
            ledger.events[tid].append(
                f"{time.monotonic():.2f} <{link.connects} {m.type} "
                f"{getattr(m, 'session_id', '')} {state['sid']}"
            )
        match m:
            case sig.SessionWaiting(session_id=sid) | sig.SessionConnected(session_id=sid) if (
                sid in ledger.ended_seen
            ):
                pass  # a late notice about a session that is over
            case sig.SessionWaiting(session_id=sid) | sig.SessionConnected(session_id=sid):
                if state["sid"] not in (None, sid):
                    ledger.ended_seen.setdefault(state["sid"], "missed-notice")
                    state["count"] += 1
                    remaining[0] -= 1
                state["sid"] = sid  # (a reply to a start whose first answer was lost, too)
                ledger.started.add(sid)
                waiting = isinstance(m, sig.SessionWaiting) and not m.transferred
                if waiting and rng.random() < 0.03:
                    await link.send(sig.SessionEnd(session_id=sid, reason="abandoned"))
            case sig.SessionEnded(session_id=sid, reason=reason) if sid == state["sid"]:
                ledger.ended_seen[sid] = reason
                await finished_one(link)
            case sig.ErrorReply(code=code) if code not in ("illegal_state", "rate_limited"):
                ledger.faults.append(f"terminal {tid}: {m}")

    token = cluster.tokens[tid]
    return Link(
        cluster.urls,
        lambda _url: {"Authorization": f"Bearer {token}"},
        on_message,
        on_connect,
        http,
    )


async def _specialist(
    cluster: Cluster, who: str, ledger: Ledger, http: aiohttp.ClientSession
) -> Link:
    rng = random.Random(who)
    skills = SKILLS
    pending: set[asyncio.Task[None]] = set()
    seen = [0]  # the newest status version

    def spawn(work: Any) -> None:
        task = asyncio.create_task(work)
        pending.add(task)
        task.add_done_callback(pending.discard)

    async def later(delay: float, message: sig.Message, link: Link) -> None:
        await asyncio.sleep(delay)  # the load's pacing: a specialist acts after a while
        await link.send(message)

    async def act(link: Link, sid: str) -> None:
        await asyncio.sleep(rng.uniform(0.02, 0.2))  # the load's jitter: time with the resident
        if ledger.holds.get(who) != sid:
            return
        roll = rng.random()
        if roll < 0.15:
            ledger.transfers += 1
            ledger.release(who)
            await link.send(sig.SessionTransfer(session_id=sid, to_skill=rng.choice(skills)))
        elif roll < 0.25:
            await link.send(sig.SessionHold(session_id=sid, on=True))
            await later(0.05, sig.SessionHold(session_id=sid, on=False), link)
            ledger.release(who)
            await link.send(sig.SessionEnd(session_id=sid, reason="completed"))
        else:
            ledger.release(who)
            await link.send(sig.SessionEnd(session_id=sid, reason="completed"))

    async def on_connect(link: Link) -> None:
        pass  # the hub greets with our status (and our session, if any)

    async def on_message(link: Link, m: sig.Message) -> None:
        match m:
            case sig.SpecialistStatus(version=version) if version < seen[0]:
                pass  # stale: published by another hub before a newer one we already have
            case sig.SpecialistStatus(state=state, session_id=sid):
                seen[0] = m.version
                # The hub's word on what we hold now. (A notice sent while we were cut off is
                # lost; the status on reconnecting tells.)
                if state != "busy" or ledger.holds.get(who) != sid:
                    ledger.release(who)
                if state == "away":
                    spawn(
                        later(rng.uniform(0, 0.1), sig.SpecialistSetState(state="available"), link)
                    )
                elif state == "wrap_up" and sid:
                    spawn(later(rng.uniform(0.01, 0.05), sig.SessionFinish(session_id=sid), link))
            case sig.SessionOffered(session_id=sid):
                roll = rng.random()
                if roll < 0.80:
                    ledger.accepts += 1
                    await link.send(sig.SessionAccept(session_id=sid))
                elif roll < 0.92:
                    ledger.declines += 1
                    await link.send(sig.SessionDecline(session_id=sid))
                else:
                    ledger.ignored += 1  # let it time out
            case sig.SessionAssigned(session_id=sid):
                ledger.take(who, sid)
                spawn(act(link, sid))
            case sig.ErrorReply(code=code) if code not in (
                "illegal_state",
                "not_offered",
                "no_such_session",
                "not_primary",
                "busy",
            ):
                ledger.faults.append(f"{who}: {m}")

    jar_host = {url: {"Origin": url} for url in cluster.urls}
    return Link(cluster.urls, lambda url: jar_host[url], on_message, on_connect, http)


@pytest.mark.timeout(RUN_LIMIT_S + 120)
async def test_a_thousand_tickets_across_three_hubs_with_a_hub_killed(cluster: Cluster) -> None:
    ledger = Ledger()
    done = asyncio.Event()
    remaining = [TERMINALS * TICKETS_EACH]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        # Each specialist logs in once, through a session of their own; the login cookie is
        # good on every hub, since logins live in Redis.
        specialists: list[Link] = []
        sessions: list[aiohttp.ClientSession] = []
        for i in range(SPECIALISTS):
            url = cluster.urls[i % HUBS]
            s = aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True), connector=aiohttp.TCPConnector(limit=0)
            )
            sessions.append(s)
            res = await s.post(
                url + "/api/login",
                json={"username": f"sp{i:02d}", "password": PASSWORD},
                headers={"Origin": url},
            )
            assert res.status == 200
            specialists.append(await _specialist(cluster, f"sp{i:02d}", ledger, s))
        terminals = [
            await _terminal(cluster, tid, ledger, http, done, remaining) for tid in cluster.tokens
        ]
        links = specialists + terminals
        tasks = [asyncio.create_task(link.run()) for link in links]

        kills: list[int] = []

        async def chaos() -> None:
            rng = random.Random(7)
            killed = False
            while not done.is_set():
                await asyncio.sleep(0.5)  # the chaos's pace: three drops every half second
                for link in rng.sample(links, 3):  # random network drops
                    await link.drop()
                if not killed and remaining[0] < TERMINALS * TICKETS_EACH * 0.6:
                    killed = True
                    kills.append(remaining[0])
                    cluster.hubs[1].kill()
                    await asyncio.sleep(2.0)  # the outage under test: its clients move elsewhere
                    await asyncio.to_thread(cluster.hubs[1].start)

        chaos_task = asyncio.create_task(chaos())
        started = time.monotonic()
        try:
            await asyncio.wait_for(done.wait(), RUN_LIMIT_S)
        finally:
            chaos_task.cancel()
            for task in tasks:
                task.cancel()
            for link in links:
                await link.drop()
            await asyncio.gather(*tasks, chaos_task, return_exceptions=True)
            for s in sessions:
                await s.close()
        elapsed = time.monotonic() - started

    assert kills, "the hub was never killed: the run ended too soon"
    assert sum(link.connects for link in links) > len(links) + 20  # drops and the kill
    assert ledger.faults == [], ledger.faults[:10]
    assert ledger.accepts > 500 and ledger.declines > 20 and ledger.transfers > 50
    assert ledger.ignored > 10

    r = aioredis.from_url(cluster.redis_url, decode_responses=True)
    try:
        # Wrap-ups left open close by themselves within wrap_up_s.
        views: dict[str, dict[str, str]] = {}

        async def all_ended() -> bool:
            views.clear()
            async for key in r.scan_iter(match="mdg:session:*", count=500):
                views[key.removeprefix("mdg:session:")] = await r.hgetall(key)
            return all(v["state"] == "ended" for v in views.values())

        def still_open() -> str:
            open_ = [(sid, v["state"]) for sid, v in views.items() if v["state"] != "ended"]
            return f"every session to end by itself; open: {open_[:5]}"

        await wait_for_async(all_ended, still_open, 15, every=0.5)
        per_terminal: dict[str, list[str]] = defaultdict(list)
        for sid, v in views.items():
            per_terminal[v["terminal_id"]].append(sid)
        extra = {
            t: sorted(sids, key=lambda s: float(views[s]["waiting_at"]))
            for t, sids in per_terminal.items()
            if len(sids) != TICKETS_EACH
        }
        for t, sids in extra.items():  # the whole story, when it goes wrong (not truncated)
            print(f"terminal {t}: {len(sids)} sessions")
            for sid in sids:
                v = views[sid]
                print(f"  {sid} {v['end_reason']} {v.get('specialist')} {v['history']}")
            for event in ledger.events.get(t, []):
                print(f"    {event}")
        assert not extra, [
            (
                t,
                [(s, views[s]["end_reason"], json.loads(views[s]["history"])) for s in sids],
                ledger.events.get(t, [])[-12:],
            )
            for t, sids in extra.items()
        ]
        assert len(views) == TERMINALS * TICKETS_EACH
        assert set(views) == ledger.started
        reasons: dict[str, int] = defaultdict(int)
        for sid, v in views.items():
            history = [s for s, _ in json.loads(v["history"])]
            assert history.count("ended") == 1 and history[-1] == "ended", (sid, history)
            assert v["end_reason"], sid
            reasons[v["end_reason"]] += 1
            times = [at for _, at in json.loads(v["history"])]
            assert times == sorted(times), sid
        assert reasons["completed"] > 700 and reasons["abandoned"] > 0
        for skill in SKILLS:
            assert await r.zcard(f"mdg:q:{skill}") == 0
        for i in range(SPECIALISTS):
            state = await r.hget(f"mdg:specialist:sp{i:02d}", "state")
            assert state not in ("ringing", "busy", "wrap_up"), (i, state)
    finally:
        await r.aclose()
    print(
        f"\n{TERMINALS * TICKETS_EACH} tickets in {elapsed:.1f}s; ends {dict(reasons)}; "
        f"accepts {ledger.accepts}, declines {ledger.declines}, ignored {ledger.ignored}, "
        f"transfers {ledger.transfers}"
    )
