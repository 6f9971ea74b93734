"""The supervisor's picture: the figures (pure), the same figures read from a real Redis after a
day scripted through the real routing scripts, the supervisor's actions and pushes through the
real hub app, the metrics endpoint, the progress board and the daily report."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

import signaling as sig
from hub import redis_keys
from hub.accounts.store import add_account, get_account
from hub.app import create_app
from hub.config import ConfigError, HubConfig
from hub.intake.queue import Intake
from hub.sessions.dispatch import JST, Dispatch, day_of
from hub.sessions.lifecycle import EndReason
from hub.sessions.router import Specialist, load_rules
from hub.sessions.store import Store
from hub.supervision.figures import (
    SessionRow,
    Supervision,
    SupervisionError,
    figures,
    hourly,
    load_thresholds,
    parse_thresholds,
    snapshot_key,
)
from hub.supervision.live import snapshot_message
from madoguchi.cli import main as cli_main

PASSWORD = "correct horse battery"
Client = TestClient[Any, Any]


# -- pure ------------------------------------------------------------------------------------------


def _row(
    sid: str, *steps: tuple[str, float], reason: str | None = None, rating: int | None = None
) -> SessionRow:
    return SessionRow(
        id=sid,
        ticket="A-001",
        branch_id="kita",
        skill="juumin",
        queue="juumin",
        priority="normal",
        state=steps[-1][0],
        end_reason=reason,
        specialist=None,
        history=steps,
        rating=rating,
    )


def test_figures_follow_the_definitions() -> None:
    rows = [
        # answered after 60 s, 500 s connected + 100 s on hold, completed, rated 5
        _row(
            "a",
            ("waiting", 0),
            ("offered", 50),
            ("connected", 60),
            ("on_hold", 560),
            ("connected", 660),
            ("wrap_up", 660),
            ("ended", 700),
            reason="completed",
            rating=5,
        ),
        # left after 400 s of waiting: abandoned, and late (counts against the service level)
        _row("b", ("waiting", 0), ("ended", 400), reason="abandoned"),
        # left after 30 s: abandoned, but not against the service level
        _row("c", ("waiting", 0), ("offered", 20), ("ended", 30), reason="abandoned"),
        # answered after 400 s, the resident hung up mid-call: not abandoned while waiting
        _row(
            "d",
            ("waiting", 0),
            ("connected", 400),
            ("wrap_up", 450),
            reason="abandoned",
            rating=2,
        ),
        # still waiting
        _row("e", ("waiting", 100)),
    ]
    f = figures(rows, service_level_s=300, entries_avoided=9)
    assert (f.arrivals, f.served, f.over, f.abandoned, f.answered) == (5, 1, 4, 2, 2)
    assert f.avg_wait_s == pytest.approx((60 + 400) / 2)
    assert f.avg_handle_s == pytest.approx((600 + 50) / 2)
    assert f.abandonment_rate == pytest.approx(2 / 4)
    assert f.service_level == pytest.approx(1 / 3)  # a within; d late; b abandoned late
    assert (f.rating_mean, f.rating_count, f.entries_avoided) == (3.5, 2, 9)
    empty = figures([], service_level_s=300)
    assert empty.avg_wait_s is None and empty.abandonment_rate is None
    assert empty.service_level is None and empty.rating_mean is None


def test_hourly_buckets_by_the_hour_a_session_started_in_tokyo() -> None:
    nine = datetime(2024, 5, 1, 9, 15, tzinfo=JST).timestamp()
    rows = [
        _row("a", ("waiting", nine), ("connected", nine + 120), reason=None),
        _row("b", ("waiting", nine + 3600), ("ended", nine + 3660), reason="abandoned"),
    ]
    series = hourly(rows)
    assert len(series) == 24
    assert series[9] == {"hour": 9, "arrivals": 1, "served": 0, "abandoned": 0, "avg_wait_s": 120}
    assert series[10]["abandoned"] == 1 and series[10]["avg_wait_s"] is None
    assert sum(h["arrivals"] for h in series) == 2


def test_thresholds_are_data_and_a_bad_file_names_the_entry(tmp_path: Path) -> None:
    shipped = load_thresholds()
    assert shipped.service_level_s == 300
    assert shipped.for_skill("kaigo", "longest_wait_s").alert < shipped.longest_wait_s.alert
    assert shipped.for_skill("juumin", "waiting") == shipped.waiting
    for text, where in [
        ("[]", "expected an object"),
        ('{"waiting": {"warn": 9, "alert": 3}}', "waiting: warn is above alert"),
        ('{"skills": {"zei": {"colour": 1}}}', "skills.zei"),
        ('{"service_level_s": -1}', "service_level_s"),
        ('{"abandonment_rate": {"warn": 1, "alert": 2}}', "a share"),
        ('{"nonsense": 1}', "unknown key 'nonsense'"),
    ]:
        with pytest.raises(SupervisionError, match=where):
            parse_thresholds(text, "t.json")
    bad = tmp_path / "supervision.json"
    bad.write_text("{", encoding="utf-8")
    with pytest.raises(ConfigError, match="MADOGUCHI_SUPERVISION_FILE"):
        create_app(HubConfig(redis_url="redis://127.0.0.1:1/0", supervision_file=bad))


def test_a_snapshot_too_large_for_one_message_is_trimmed_not_dropped() -> None:
    waiting = [
        {
            "session_id": f"s-{i:06d}",
            "ticket": f"A-{i:03d}",
            "queue": "juumin",
            "skill": "juumin",
            "branch_id": "kita",
            "priority": "normal",
            "state": "waiting",
            "waiting_since": 1.0,
        }
        for i in range(2000)
    ]
    snapshot = {"generated_at": 1.0, "waiting": waiting, "branches": [], "specialists": []}
    frame = snapshot_message(snapshot)
    message = sig.parse_message(frame)
    assert isinstance(message, sig.SupervisorSnapshot)
    assert 0 < len(message.snapshot["waiting"]) < 2000
    assert snapshot_key(snapshot) == snapshot_key({**snapshot, "generated_at": 2.0})


# -- a day through the routing scripts, read back ------------------------------------------------


def _base() -> float:
    """09:00 today in Tokyo: the scripted day happens between 09:00 and 10:00."""
    today = datetime.now(JST).date()
    return datetime(today.year, today.month, today.day, 9, tzinfo=JST).timestamp()


async def _script_a_day(redis: aioredis.Redis, base: float) -> None:
    """Six residents at two branches (see the figures asserted below)."""
    d = Dispatch(redis, load_rules())
    await d.register(Specialist("suzuki", frozenset({"juumin", "zei"})), base - 100)
    await d.register(Specialist("tanaka", frozenset({"zei"})), base - 100)
    await add_account(redis, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin", "zei"])

    async def create(sid: str, skill: str, branch: str, at: float) -> None:
        await d.create(
            sid,
            terminal_id=f"t-{sid}",
            branch_id=branch,
            purpose="moving",
            skill=skill,
            priority="normal",
            now=at,
        )

    await create("s1", "juumin", "kita", base)
    await create("s2", "juumin", "kita", base + 10)
    await create("s3", "zei", "minami", base + 20)
    await create("s4", "juumin", "minami", base + 30)
    offered = await d.set_state("suzuki", "available", base + 60)
    assert offered.offers == (("s1", "suzuki"),)
    assert (await d.accept("s1", "suzuki", base + 60)).ok
    assert (await d.end_waiting("s4", EndReason.ABANDONED, base + 100)).ok
    assert (await d.end_waiting("s2", EndReason.ABANDONED, base + 400)).ok
    assert (await d.set_state("tanaka", "available", base + 420)).offers == (("s3", "tanaka"),)
    assert (await d.accept("s3", "tanaka", base + 420)).ok
    assert (await d.hang_up("s3", EndReason.COMPLETED, base + 520)).ok
    assert (await d.finish("s3", base + 530)).ok
    assert (await d.hang_up("s1", EndReason.COMPLETED, base + 660)).ok
    assert (await d.finish("s1", base + 700)).ok
    assert (await d.set_state("suzuki", "away", base + 800)).ok
    await create("s5", "juumin", "kita", base + 3000)
    await create("s6", "zei", "minami", base + 3100)
    assert (await d.accept("s6", "tanaka", base + 3110)).ok
    await redis.hset("mdg:session:s1", "rating", 5)
    await redis.hset("mdg:session:s3", "rating", 3)
    intake = Intake(redis, require_durable=False)
    for sid, branch, avoided in (("s1", "kita", 12), ("s3", "minami", 7)):
        record = {"session_id": sid, "branch_id": branch, "entries": {"avoided": avoided}}
        await intake.submit(json.dumps(record), f"app-{sid}", session_id=sid)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_the_day_read_back_from_redis(redis: aioredis.Redis) -> None:
    base = _base()
    await _script_a_day(redis, base)
    # Every session is in the day's index, which expires by itself.
    key = redis_keys.day_index(day_of(base))
    assert await redis.zcard(key) == 6
    assert 0 < await redis.ttl(key) <= 8 * 86400

    reader = Supervision(redis, load_rules(), load_thresholds())
    now = base + 3600
    snap = await reader.snapshot(now)
    today = snap["today"]
    assert (today["arrivals"], today["served"], today["over"], today["abandoned"]) == (6, 2, 4, 2)
    assert today["abandonment_rate"] == 0.5
    assert today["avg_wait_s"] == pytest.approx((60 + 400 + 10) / 3, abs=0.1)
    assert today["avg_handle_s"] == pytest.approx((600 + 100) / 2)
    assert today["service_level"] == 0.5  # 60 s and 10 s within 300; 400 s late; s2 left late
    assert (today["rating_mean"], today["rating_count"]) == (4.0, 2)
    assert today["entries_avoided"] == 19
    assert snap["hourly"][9]["arrivals"] == 6 and snap["hourly"][9]["served"] == 2

    skills = {s["skill"]: s for s in snap["skills"]}
    assert skills["juumin"]["waiting"] == 1
    assert skills["juumin"]["oldest_waiting_at"] == pytest.approx(base + 3000)
    assert skills["juumin"]["level"] == "warn"  # 600 s: the shipped warn level
    assert skills["zei"]["waiting"] == 0 and skills["zei"]["level"] == "ok"
    kinds = {(a["kind"], a["skill"], a["level"]) for a in snap["alerts"]}
    assert kinds == {("longest_wait_s", "juumin", "warn"), ("abandonment_rate", None, "alert")}

    people = {s["id"]: s for s in snap["specialists"]}
    assert people["suzuki"]["state"] == "away" and people["suzuki"]["name"] == "鈴木"
    assert people["suzuki"]["since"] == pytest.approx(base + 800)
    assert people["tanaka"]["state"] == "busy" and people["tanaka"]["session_id"] == "s6"
    assert [(w["ticket"], w["branch_id"]) for w in snap["waiting"]] == [("A-003", "kita")]
    branches = {b["branch_id"]: b for b in snap["branches"]}
    assert branches["kita"]["waiting"] == 1 and branches["kita"]["served"] == 1
    assert branches["minami"]["connected"] == 1
    assert [s["ticket"] for s in branches["minami"]["sessions"]] == ["B-003"]

    # Nothing personal: no name, address or number of a resident anywhere in it.
    text = json.dumps(snap, ensure_ascii=False)
    assert "name_kana" not in text and "address" not in text and "my_number" not in text

    # Final rows are kept; a later snapshot reads only what moves, and sees the same day.
    assert "s2" in reader._final and "s5" not in reader._final
    again = await reader.snapshot(now)
    assert snapshot_key(again) == snapshot_key(snap)

    live = await reader.live(now)
    assert live.longest_wait_s("juumin") == pytest.approx(600)
    assert live.specialists_by_state()["busy"] == 1


async def test_move_waiting_keeps_rank_and_ticket_and_refuses_what_no_longer_waits(
    redis: aioredis.Redis,
) -> None:
    d = Dispatch(redis, load_rules())
    now = time.time()
    await d.create(
        "m1",
        terminal_id="t1",
        branch_id="kita",
        purpose="moving",
        skill="juumin",
        priority="elderly",
        now=now,
    )
    await d.create(
        "m2",
        terminal_id="t2",
        branch_id="kita",
        purpose="moving",
        skill="juumin",
        priority="normal",
        now=now + 1,
    )
    rank = await redis.zscore("mdg:q:juumin", "m1")
    ticket = await redis.hget("mdg:session:m1", "ticket")
    moved = await d.move_waiting("m1", "zei", now + 2)
    assert moved.ok and moved.details == ("juumin",) and moved.offers == ()
    assert await redis.zscore("mdg:q:zei", "m1") == rank
    assert await redis.zscore("mdg:q:juumin", "m1") is None
    raw = await redis.hmget("mdg:session:m1", ["state", "queue", "skill", "ticket"])
    assert raw == ["waiting", "zei", "zei", ticket]
    assert (await d.move_waiting("m1", "zei", now + 3)).details == ("same_queue",)
    assert (await d.move_waiting("nope", "zei", now + 3)).details == ("gone",)

    # Offered to a specialist: no longer waiting, so it stays where it is.
    await d.register(Specialist("tanaka", frozenset({"zei"})), now)
    offer = await d.set_state("tanaka", "available", now + 4)
    assert offer.offers == (("m1", "tanaka"),)
    refused = await d.move_waiting("m1", "juumin", now + 5)
    assert not refused.ok and refused.details == ("offered",)
    assert await redis.hget("mdg:session:m1", "queue") == "zei"
    assert (await d.end_waiting("m2", EndReason.ABANDONED, now + 6)).ok
    assert (await d.move_waiting("m2", "zei", now + 7)).details == ("ended",)


async def test_set_skills_moves_routing_membership_consistently(redis: aioredis.Redis) -> None:
    d = Dispatch(redis, load_rules())
    now = time.time()
    await add_account(redis, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin"])
    await add_account(redis, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    await d.register(Specialist("suzuki", frozenset({"juumin"})), now)
    await d.set_state("suzuki", "available", now)
    since = await redis.zscore("mdg:avail:juumin", "suzuki")
    await d.create(
        "k1",
        terminal_id="t1",
        branch_id="kita",
        purpose="tax",
        skill="zei",
        priority="normal",
        now=now + 1,
    )
    changed = await d.set_skills("suzuki", frozenset({"zei", "kokuho"}), now + 2)
    assert changed.ok and changed.offers == (("k1", "suzuki"),)  # the zei ticket rings at once
    assert not await redis.sismember("mdg:skill_members:juumin", "suzuki")
    assert await redis.sismember("mdg:skill_members:zei", "suzuki")
    assert await redis.zscore("mdg:avail:juumin", "suzuki") is None
    assert await redis.zscore("mdg:avail:kokuho", "suzuki") is None  # ringing now
    account = await get_account(redis, "suzuki")
    assert account is not None and set(account.skills) == {"zei", "kokuho"}
    assert json.loads(await redis.hget("mdg:specialist:suzuki", "skills")) == ["kokuho", "zei"]

    # Available again: its available-since is kept in the new skills' sets.
    await d.decline("k1", "suzuki", now + 3)
    await d.set_skills("suzuki", frozenset({"inkan"}), now + 4)
    assert await redis.zscore("mdg:avail:inkan", "suzuki") == pytest.approx(now + 3)
    assert since is not None
    assert not (await d.set_skills("sato", frozenset({"zei"}), now)).ok


# -- through the hub app ---------------------------------------------------------------------------


async def _app(redis_url: str, tmp_path: Path, **config: Any) -> Client:
    settings = HubConfig(redis_url=redis_url, data_dir=tmp_path, hub_id="hub-test", **config)
    client: Client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


@pytest.fixture
async def hub(redis_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    seed = aioredis.from_url(redis_url, decode_responses=True)
    await add_account(seed, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin"])
    await add_account(seed, "tanaka", PASSWORD, "specialist", "田中", skills=["zei"])
    await add_account(seed, "takahashi", PASSWORD, "supervisor", "高橋")
    await seed.aclose()
    client = await _app(redis_url, tmp_path, metrics_token="s3cret-token")
    yield client
    await client.close()


@pytest.fixture
async def terminal_token(redis_url: str) -> str:
    r = aioredis.from_url(redis_url, decode_responses=True)
    token = await Store(r).enroll_terminal("kita-01", "kita", "北支所 1")
    await r.aclose()
    return token


def _origin(client: Client) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port}"}


async def _staff(client: Client, user: str) -> aiohttp.ClientWebSocketResponse:
    """A staff socket with its own cookie jar, so several users can be online at once."""
    jar = aiohttp.CookieJar(unsafe=True)  # the hub is on 127.0.0.1
    session = aiohttp.ClientSession(base_url=client.make_url(""), cookie_jar=jar)
    res = await session.post(
        "/api/login", json={"username": user, "password": PASSWORD}, headers=_origin(client)
    )
    assert res.status == 200
    ws = await session.ws_connect("/ws", headers=_origin(client))
    assert isinstance(await _recv(ws), sig.Hello)
    ws._madoguchi_session = session  # type: ignore[attr-defined]
    return ws


async def _close(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.close()
    await ws._madoguchi_session.close()  # type: ignore[attr-defined]


async def _recv(ws: aiohttp.ClientWebSocketResponse, within: float = 5.0) -> sig.Message:
    return sig.parse_message(await ws.receive_str(timeout=within))


async def _next(ws: aiohttp.ClientWebSocketResponse, kind: type[Any], within: float = 5.0) -> Any:
    deadline = time.monotonic() + within
    while True:
        message = await _recv(ws, max(0.01, deadline - time.monotonic()))
        if isinstance(message, kind):
            return message


async def _snapshot_where(
    ws: aiohttp.ClientWebSocketResponse, check: Any, within: float = 3.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while True:
        message = await _next(ws, sig.SupervisorSnapshot, max(0.01, deadline - time.monotonic()))
        snap: dict[str, Any] = dict(message.snapshot)
        if check(snap):
            return snap


def _skill(snap: dict[str, Any], skill: str) -> dict[str, Any]:
    return next(s for s in snap["skills"] if s["skill"] == skill)


async def test_supervisor_sees_changes_pushed_and_acts_on_routing(
    hub: Client, terminal_token: str
) -> None:
    supervisor = await _staff(hub, "takahashi")
    first = await _snapshot_where(supervisor, lambda s: True, within=2.5)
    assert _skill(first, "juumin")["waiting"] == 0

    # Nothing changes: nothing more is sent.
    with pytest.raises(TimeoutError):
        await _next(supervisor, sig.SupervisorSnapshot, within=2.2)

    terminal = await hub.ws_connect("/ws", headers={"Authorization": f"Bearer {terminal_token}"})
    await _recv(terminal)
    await terminal.send_str(sig.encode(sig.SessionStart(purpose="moving")))
    waiting = await _next(terminal, sig.SessionWaiting)
    started = time.time()
    snap = await _snapshot_where(supervisor, lambda s: _skill(s, "juumin")["waiting"] == 1)
    assert snap["generated_at"] - started <= 1.2
    assert [w["ticket"] for w in snap["waiting"]] == [waiting.ticket]

    # A specialist may not act as a supervisor.
    suzuki = await _staff(hub, "suzuki")
    await suzuki.send_str(
        sig.encode(sig.SupervisorMoveTicket(session_id=waiting.session_id, to_skill="zei"))
    )
    assert (await _next(suzuki, sig.ErrorReply)).code == "not_allowed"

    # Move the ticket to zei: same number, the terminal hears its new place.
    move = sig.SupervisorMoveTicket(session_id=waiting.session_id, to_skill="zei")
    await supervisor.send_str(sig.encode(move))
    position = await _next(terminal, sig.QueuePosition)
    assert position.session_id == waiting.session_id and position.position == 1
    snap = await _snapshot_where(supervisor, lambda s: _skill(s, "zei")["waiting"] == 1)
    assert _skill(snap, "juumin")["waiting"] == 0
    assert snap["waiting"][0]["ticket"] == waiting.ticket and snap["waiting"][0]["queue"] == "zei"

    # tanaka is offline: cannot be made available; suzuki (connected, away) can, and is then
    # given zei and rung for the moved ticket.
    await supervisor.send_str(sig.encode(sig.SupervisorSetState(user="tanaka", state="available")))
    assert (await _next(supervisor, sig.ErrorReply)).code == "offline"
    await supervisor.send_str(sig.encode(sig.SupervisorSetState(user="nobody", state="away")))
    assert (await _next(supervisor, sig.ErrorReply)).code == "no_such_specialist"
    await supervisor.send_str(sig.encode(sig.SupervisorSetState(user="suzuki", state="available")))
    status = await _next(suzuki, sig.SpecialistStatus)
    while status.state != "available":
        status = await _next(suzuki, sig.SpecialistStatus)
    snap = await _snapshot_where(
        supervisor,
        lambda s: any(p["id"] == "suzuki" and p["state"] == "available" for p in s["specialists"]),
    )
    await supervisor.send_str(
        sig.encode(sig.SupervisorSetSkills(user="suzuki", skills=("juumin", "zei")))
    )
    offered = await _next(suzuki, sig.SessionOffered)
    assert offered.session_id == waiting.session_id and offered.ticket == waiting.ticket
    await supervisor.send_str(
        sig.encode(sig.SupervisorSetSkills(user="suzuki", skills=("astrology",)))
    )
    assert (await _next(supervisor, sig.ErrorReply)).code == "unknown_skill"
    await supervisor.send_str(sig.encode(sig.SupervisorSetSkills(user="suzuki", skills=())))
    assert (await _next(supervisor, sig.ErrorReply)).code == "no_skills"

    # Ringing: no longer waiting, so it cannot be moved; suzuki cannot be set away.
    await supervisor.send_str(sig.encode(move))
    assert (await _next(supervisor, sig.ErrorReply)).code == "not_waiting"
    await supervisor.send_str(sig.encode(sig.SupervisorSetState(user="suzuki", state="away")))
    assert (await _next(supervisor, sig.ErrorReply)).code == "busy"

    # The HTTP snapshot says the same, for supervisors only.
    assert (await hub.get("/api/supervisor/snapshot")).status == 401
    mine = await supervisor._madoguchi_session.get("/api/supervisor/snapshot")  # type: ignore[attr-defined]
    assert mine.status == 200 and _skill(await mine.json(), "zei")["ringing"] == 1
    theirs = await suzuki._madoguchi_session.get("/api/supervisor/snapshot")  # type: ignore[attr-defined]
    assert theirs.status == 403
    for ws in (suzuki, supervisor):
        await _close(ws)
    await terminal.close()


async def test_metrics_need_the_token_and_tell_the_load(
    hub: Client, terminal_token: str, redis_url: str, tmp_path: Path
) -> None:
    assert (await hub.get("/metrics")).status == 401
    wrong = await hub.get("/metrics", headers={"Authorization": "Bearer s3cret-tokem"})
    assert wrong.status == 401 and "Bearer" in wrong.headers["WWW-Authenticate"]
    basic = await hub.get("/metrics", headers={"Authorization": "Basic s3cret-token"})
    assert basic.status == 401

    terminal = await hub.ws_connect("/ws", headers={"Authorization": f"Bearer {terminal_token}"})
    await _recv(terminal)
    await terminal.send_str(sig.encode(sig.SessionStart(purpose="tax")))
    await _next(terminal, sig.SessionWaiting)
    await terminal.send_str("{nope")
    await _next(terminal, sig.ErrorReply)
    res = await hub.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
    assert res.status == 200 and res.headers["Content-Type"].startswith("text/plain")
    text = await res.text()
    lines = set(text.splitlines())
    assert 'madoguchi_queue_waiting{queue="zei"} 1' in lines
    assert 'madoguchi_queue_waiting{queue="juumin"} 0' in lines
    assert 'madoguchi_sessions_active{branch="kita",state="waiting"} 1' in lines
    assert 'madoguchi_signaling_connections{hub="hub-test",role="terminal"} 1' in lines
    assert 'madoguchi_intake_applications{state="queued"} 0' in lines
    assert "# TYPE madoguchi_signaling_messages_total counter" in lines
    assert any(
        line.startswith('madoguchi_signaling_messages_total{hub="hub-test",type="session.start"}')
        for line in lines
    )
    assert any(
        line.startswith('madoguchi_signaling_errors_total{hub="hub-test",code="bad_json"}')
        for line in lines
    )
    wait = next(
        x for x in lines if x.startswith('madoguchi_queue_longest_wait_seconds{queue="zei"}')
    )
    assert 0 <= float(wait.split()[-1]) < 30
    for line in text.splitlines():  # every sample line parses as name{labels} value
        if not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
    await terminal.close()

    # No token configured: the endpoint does not exist.
    bare = await _app(redis_url, tmp_path)
    try:
        assert (await bare.get("/metrics", headers={"Authorization": "Bearer x"})).status == 404
    finally:
        await bare.close()


async def test_the_board_shows_tickets_and_what_became_of_them(
    hub: Client, redis_url: str, terminal_token: str
) -> None:
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        base = _base()
        await _script_a_day(redis, base)
        # The scripted sessions are at "kita" and "minami"; the board needs a known branch.
        assert (await hub.get("/api/board/nowhere")).status == 404
        assert (await hub.get("/api/board/..%2F")).status == 404
        res = await hub.get("/board/kita")
        assert res.status == 200 and "board.js" in await res.text()
        body = await (await hub.get("/api/board/kita")).json()
        assert body["tickets"] == [
            {"ticket": "A-001", "state": "submitted"},  # s1: application queued
            {"ticket": "A-003", "state": "waiting"},  # s5 (s2 left: not shown)
        ]
        intake = Intake(redis, require_durable=False)
        claimed = await intake.claim_next("yamada")
        assert claimed is not None and claimed.status.session_id == "s1"
        await asyncio.sleep(1.05)  # the board's answer is cached for a second
        body = await (await hub.get("/api/board/kita")).json()
        assert body["tickets"][0] == {"ticket": "A-001", "state": "processing"}
        await intake.return_(claimed.status.entry_id, "写しが不鮮明", by="yamada")
        await asyncio.sleep(1.05)
        body = await (await hub.get("/api/board/kita")).json()
        assert body["tickets"][0] == {"ticket": "A-001", "state": "returned"}
        assert "s1" not in json.dumps(body) and "写し" not in json.dumps(body)
        minami = await (await hub.get("/api/board/minami")).json()
        assert minami["error"] == "no_such_branch"  # no terminal enrolled there
    finally:
        await redis.aclose()


def test_daily_report_per_branch_and_skill(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async def seed() -> None:
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            await _script_a_day(client, _base())
        finally:
            await client.aclose()

    asyncio.run(seed())
    assert cli_main(["report", "daily", "--redis", redis_url, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["date"] == datetime.now(JST).date().isoformat()
    assert report["total"]["served"] == 2 and report["total"]["entries_avoided"] == 19
    assert report["branches"]["kita"]["arrivals"] == 3
    assert report["branches"]["kita"]["entries_avoided"] == 12
    assert report["branches"]["minami"]["abandoned"] == 1
    assert report["skills"]["zei"]["avg_handle_s"] == 100
    assert report["hourly"][9]["arrivals"] == 6

    assert cli_main(["report", "daily", "--redis", redis_url]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["scope"], r["key"]) for r in rows] == [
        ("total", "all"),
        ("branch", "kita"),
        ("branch", "minami"),
        ("skill", "juumin"),
        ("skill", "zei"),
    ]
    assert rows[0]["abandonment_rate"] == "0.5" and rows[0]["rating_mean"] == "4.0"

    assert cli_main(["report", "daily", "--redis", redis_url, "--date", "2001-01-01"]) == 1
    assert "older than" in capsys.readouterr().err
    assert (
        cli_main(["report", "daily", "--redis", redis_url, "--date", "May 1", "--format", "json"])
        == 1
    )
    assert json.loads(capsys.readouterr().out)["error"] == "bad_date"
