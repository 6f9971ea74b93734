"""The hub's HTTP routes and signaling, through its real app on loopback, against a real Redis."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

import signaling as sig
from hub.accounts.store import add_account
from hub.app import create_app
from hub.config import ConfigError, HubConfig
from hub.sessions.router import ROUTING_FILE
from hub.sessions.store import Store
from madoguchi.local_deployment import RedisServer

PASSWORD = "correct horse battery"
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"


async def _client(redis_url: str, tmp_path: Path) -> TestClient[web.Request, web.Application]:
    config = HubConfig(redis_url=redis_url, data_dir=tmp_path, hub_id="hub-test")
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    return client


@pytest.fixture
async def hub(redis_url: str, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    seed = aioredis.from_url(redis_url, decode_responses=True)
    await add_account(seed, "suzuki", PASSWORD, "specialist", "鈴木", skills=["juumin", "zei"])
    await add_account(seed, "tanaka", PASSWORD, "specialist", "田中", skills=["zei"])
    await add_account(seed, "sato", PASSWORD, "branch_staff", "佐藤", branch_id="kita")
    await seed.aclose()
    client = await _client(redis_url, tmp_path)
    yield client
    await client.close()


@pytest.fixture
async def terminal_token(redis_url: str) -> str:
    r = aioredis.from_url(redis_url, decode_responses=True)
    token = await Store(r).enroll_terminal("kita-01", "kita", "北支所 1")
    await r.aclose()
    return token


def _origin(client: TestClient[Any, Any]) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port}"}


async def _login(client: TestClient[Any, Any], user: str) -> None:
    res = await client.post(
        "/api/login", json={"username": user, "password": PASSWORD}, headers=_origin(client)
    )
    assert res.status == 200, await res.text()


async def _staff_ws(client: TestClient[Any, Any], user: str) -> aiohttp.ClientWebSocketResponse:
    await _login(client, user)
    ws = await client.ws_connect("/ws", headers=_origin(client))
    assert await _recv(ws) == sig.Hello(role="staff", peer_id=user)
    return ws


async def _terminal_ws(client: TestClient[Any, Any], token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await client.ws_connect("/ws", headers={"Authorization": f"Bearer {token}"})
    assert await _recv(ws) == sig.Hello(role="terminal", peer_id="kita-01", purposes=PURPOSES)
    return ws


def _catalog_purposes() -> tuple[sig.Purpose, ...]:
    data = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))
    return tuple(sig.Purpose(key, p["ja"], p["en"]) for key, p in data["purposes"].items())


PURPOSES = _catalog_purposes()
"""What a terminal is told it may offer: the catalog's purposes, in its order, with their names."""


async def _recv(ws: aiohttp.ClientWebSocketResponse) -> sig.Message:
    return sig.parse_message(await ws.receive_str(timeout=5))


async def _send(ws: aiohttp.ClientWebSocketResponse, message: sig.Message) -> None:
    await ws.send_str(sig.encode(message))


# -- HTTP ----------------------------------------------------------------------------------------


async def test_healthz(hub: TestClient[Any, Any]) -> None:
    res = await hub.get("/healthz")
    assert res.status == 200
    assert (await res.json())["redis"] == "ok"


async def test_login_sets_an_httponly_strict_cookie(hub: TestClient[Any, Any]) -> None:
    res = await hub.post(
        "/api/login", json={"username": "suzuki", "password": PASSWORD}, headers=_origin(hub)
    )
    assert res.status == 200
    assert (await res.json())["role"] == "specialist"
    cookie = res.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    me = await hub.get("/api/me")
    assert (await me.json())["username"] == "suzuki"
    await hub.post("/api/logout", headers=_origin(hub))
    assert (await hub.get("/api/me")).status == 401


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"username": "suzuki", "password": "wrong password"}, 401, "bad_credentials"),
        ({"username": "nobody", "password": PASSWORD}, 401, "bad_credentials"),
        ({"username": "suzuki"}, 400, "bad_request"),
        ([1, 2], 400, "bad_json"),
    ],
)
async def test_bad_logins_get_a_clear_error(
    hub: TestClient[Any, Any], body: Any, status: int, code: str
) -> None:
    res = await hub.post("/api/login", json=body, headers=_origin(hub))
    assert res.status == status
    assert (await res.json())["error"] == code
    assert "Set-Cookie" not in res.headers


async def test_cross_origin_posts_are_refused(hub: TestClient[Any, Any]) -> None:
    body = {"username": "suzuki", "password": PASSWORD}
    for headers in ({"Origin": "http://evil.example"}, {}):
        res = await hub.post("/api/login", json=body, headers=headers)
        assert res.status == 403
        assert (await res.json())["error"] == "cross_origin"


async def test_oversized_body_is_refused(hub: TestClient[Any, Any]) -> None:
    res = await hub.post("/api/login", data=b"x" * 100_000, headers=_origin(hub))
    assert res.status == 413


async def test_console_is_served_with_a_strict_csp(hub: TestClient[Any, Any]) -> None:
    res = await hub.get("/console/")
    assert res.status == 200
    assert "script-src 'self'" in res.headers["Content-Security-Policy"]
    assert "職員" in await res.text()
    assert (await hub.get("/static/console.js")).status == 200


def test_config_fails_fast_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="MADOGUCHI_REDIS_URL"):
        HubConfig.from_env({})
    with pytest.raises(ConfigError, match="MADOGUCHI_PORT"):
        HubConfig.from_env({"MADOGUCHI_REDIS_URL": "redis://x", "MADOGUCHI_PORT": "eighty"})
    config = HubConfig.from_env({"MADOGUCHI_REDIS_URL": "redis://x", "MADOGUCHI_PORT": "81"})
    assert config.port == 81


# -- signaling -----------------------------------------------------------------------------------


async def test_websocket_needs_a_login_or_a_device_token(hub: TestClient[Any, Any]) -> None:
    for headers in ({}, {"Authorization": "Bearer kita-01.forged"}):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await hub.ws_connect("/ws", headers=headers)
        assert info.value.status == 401


async def test_cross_site_websocket_is_refused(hub: TestClient[Any, Any]) -> None:
    await _login(hub, "suzuki")
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await hub.ws_connect("/ws", headers={"Origin": "http://evil.example"})


async def test_bad_messages_get_an_error_and_the_connection_stays_up(
    hub: TestClient[Any, Any], terminal_token: str
) -> None:
    ws = await _terminal_ws(hub, terminal_token)
    bad = [
        ("{not json", "bad_json"),
        ('{"type": "launch.missiles"}', "unknown_type"),
        ('{"type": "session.start"}', "missing_field"),
        ('{"type": "session.start", "purpose": "<script>"}', "bad_field"),
        (json.dumps({"type": "session.start", "purpose": "x" * 70_000}), "too_large"),
        (sig.encode(sig.SpecialistSetState(state="available")), "not_allowed"),
        (sig.encode(sig.SessionStart(purpose="astrology")), "unknown_purpose"),
        (sig.encode(sig.SdpAnswer(session_id="s-nope", sdp=SDP)), "no_such_session"),
    ]
    for text, code in bad:
        await ws.send_str(text)
        reply = await _recv(ws)
        assert isinstance(reply, sig.ErrorReply), text
        assert reply.code == code, text
    await ws.send_bytes(b"\x00\x01")
    reply = await _recv(ws)
    assert isinstance(reply, sig.ErrorReply) and reply.code == "not_text"
    # Still up: a valid message works.
    await _send(ws, sig.SessionStart(purpose="moving"))
    assert isinstance(await _recv(ws), sig.SessionWaiting)
    await ws.close()


async def _expect(ws: aiohttp.ClientWebSocketResponse, kind: type[sig.Message]) -> Any:
    """The next message of this type, skipping status updates in between."""
    while True:
        message = await _recv(ws)
        if isinstance(message, kind):
            return message
        assert isinstance(
            message,
            sig.SpecialistStatus
            | sig.SessionWaiting
            | sig.QueuePosition  # position pushes, every second while waiting
            | sig.SessionParticipants
            | sig.PeerLeft,
        ), message


async def _expect_status(ws: aiohttp.ClientWebSocketResponse, state: str) -> Any:
    while True:
        status = await _expect(ws, sig.SpecialistStatus)
        if status.state == state:
            return status


async def test_a_session_from_start_to_end(
    hub: TestClient[Any, Any], terminal_token: str, redis_url: str
) -> None:
    terminal = await _terminal_ws(hub, terminal_token)
    await _send(terminal, sig.SessionStart(purpose="moving"))
    waiting = await _recv(terminal)
    assert isinstance(waiting, sig.SessionWaiting) and waiting.position == 1
    assert waiting.ticket == "A-001" and waiting.estimated_wait_s > 0
    sid = waiting.session_id

    # Asking again (as after a reconnect) resumes the same session instead of queueing twice.
    await _send(terminal, sig.SessionStart(purpose="moving"))
    again = await _recv(terminal)
    assert isinstance(again, sig.SessionWaiting) and again.session_id == sid

    specialist = await _staff_ws(hub, "suzuki")
    greeting = await _recv(specialist)
    assert isinstance(greeting, sig.SpecialistStatus)
    assert (greeting.state, greeting.session_id) == ("away", None)
    await _send(specialist, sig.SpecialistSetState(state="available"))
    offered = await _expect(specialist, sig.SessionOffered)
    assert offered.session_id == sid and offered.ticket == "A-001"
    assert offered.skill == "juumin" and offered.terminal_id == "kita-01"
    await _send(specialist, sig.SessionAccept(session_id=sid))
    assigned = await _expect(specialist, sig.SessionAssigned)
    assert assigned.session_id == sid and assigned.primary == "suzuki"
    assert await _expect(terminal, sig.SessionConnected) == sig.SessionConnected(session_id=sid)

    # A busy specialist cannot make themselves available again.
    await _send(specialist, sig.SpecialistSetState(state="available"))
    busy = await _expect(specialist, sig.ErrorReply)
    assert busy.code == "busy"

    # Offer and answer are relayed between exactly these two; the hub stamps who offered.
    await _send(specialist, sig.SdpOffer(session_id=sid, sdp=SDP + "a=offer\r\n"))
    relayed = await _expect(terminal, sig.SdpOffer)
    assert relayed.peer_id == "suzuki" and relayed.sdp.endswith("a=offer\r\n")
    answer = sig.SdpAnswer(session_id=sid, sdp=SDP + "a=answer\r\n", peer_id="suzuki")
    await _send(terminal, answer)
    assert await _expect(specialist, sig.SdpAnswer) == answer

    # Another specialist cannot reach into this session.
    other = await _staff_ws(hub, "tanaka")
    await _send(other, sig.SdpOffer(session_id=sid, sdp=SDP))
    refused = await _expect(other, sig.ErrorReply)
    assert refused.code == "no_such_session"

    await _send(specialist, sig.SessionEnd(session_id=sid, reason="completed"))
    ended = sig.SessionEnded(session_id=sid, reason="completed")
    assert await _expect(specialist, sig.SessionEnded) == ended
    assert await _expect(terminal, sig.SessionEnded) == ended
    wrap_up = await _expect_status(specialist, "wrap_up")
    assert wrap_up.session_id == sid
    await _send(specialist, sig.SessionFinish(session_id=sid))
    assert (await _expect_status(specialist, "available")).session_id is None

    r = aioredis.from_url(redis_url, decode_responses=True)
    record = await r.hgetall(f"mdg:session:{sid}")
    await r.aclose()
    assert record["state"] == "ended" and record["end_reason"] == "completed"
    assert [s for s, _ in json.loads(record["history"])] == [
        "waiting",
        "offered",
        "connected",
        "wrap_up",
        "ended",
    ]

    # Ending twice is refused with a code, not a crash.
    await _send(terminal, sig.SessionEnd(session_id=sid, reason="abandoned"))
    twice = await _expect(terminal, sig.ErrorReply)
    assert twice.code == "illegal_state"
    for ws in (terminal, specialist, other):
        await ws.close()


async def test_decline_transfer_and_a_colleague_joining(
    hub: TestClient[Any, Any], terminal_token: str
) -> None:
    terminal = await _terminal_ws(hub, terminal_token)
    suzuki = await _staff_ws(hub, "suzuki")
    tanaka = await _staff_ws(hub, "tanaka")
    await _send(suzuki, sig.SpecialistSetState(state="available"))
    await _send(terminal, sig.SessionStart(purpose="moving", priority="elderly"))
    sid = (await _expect(terminal, sig.SessionWaiting)).session_id
    offered = await _expect(suzuki, sig.SessionOffered)
    assert offered.priority == "elderly"

    # Declined: nobody else has the skill, so it waits; suzuki is not rung again at once.
    await _send(suzuki, sig.SessionDecline(session_id=sid))
    await _expect_status(suzuki, "available")
    await _send(terminal, sig.SessionEnd(session_id=sid, reason="abandoned"))
    await _expect(terminal, sig.SessionEnded)
    await _send(terminal, sig.SessionStart(purpose="certificate"))
    sid = (await _expect(terminal, sig.SessionWaiting)).session_id
    offered = await _expect(suzuki, sig.SessionOffered)
    await _send(suzuki, sig.SessionAccept(session_id=sid))
    await _expect(suzuki, sig.SessionAssigned)
    await _expect(terminal, sig.SessionConnected)

    # Invite tanaka to join; tanaka accepts; both are in the session.
    await _send(tanaka, sig.SpecialistSetState(state="available"))
    await _expect_status(tanaka, "available")
    await _send(suzuki, sig.SessionInvite(session_id=sid, user="tanaka"))
    invitation = await _expect(tanaka, sig.SessionOffered)
    assert invitation.invited and invitation.session_id == sid
    await _send(tanaka, sig.SessionAccept(session_id=sid))
    joined = await _expect(tanaka, sig.SessionAssigned)
    assert joined.primary == "suzuki" and joined.others == ("tanaka",)

    # suzuki leaves: tanaka leads; the terminal hears suzuki's call is over.
    await _send(suzuki, sig.SessionLeave(session_id=sid))
    assert await _expect(terminal, sig.PeerLeft) == sig.PeerLeft(session_id=sid, peer_id="suzuki")
    lead = await _expect(tanaka, sig.SessionAssigned)
    assert lead.primary == "tanaka" and lead.others == ()

    # tanaka transfers to the juumin queue: the terminal waits again, at the head, and suzuki
    # (juumin, available again) is offered it.
    await _send(tanaka, sig.SessionTransfer(session_id=sid, to_skill="juumin"))
    back = await _expect(terminal, sig.SessionWaiting)
    assert back.transferred and back.session_id == sid
    again = await _expect(suzuki, sig.SessionOffered)
    assert again.session_id == sid and again.transferred_from == "tanaka"
    for ws in (terminal, suzuki, tanaka):
        await ws.close()


async def test_only_specialists_take_residents(hub: TestClient[Any, Any]) -> None:
    ws = await _staff_ws(hub, "sato")
    await _send(ws, sig.SpecialistSetState(state="available"))
    reply = await _recv(ws)
    assert isinstance(reply, sig.ErrorReply) and reply.code == "not_allowed"
    await ws.close()


async def test_abandoned_while_waiting_leaves_the_queue(
    hub: TestClient[Any, Any], terminal_token: str
) -> None:
    terminal = await _terminal_ws(hub, terminal_token)
    await _send(terminal, sig.SessionStart(purpose="birth"))
    waiting = await _recv(terminal)
    assert isinstance(waiting, sig.SessionWaiting)
    await _send(terminal, sig.SessionEnd(session_id=waiting.session_id, reason="abandoned"))
    assert await _expect(terminal, sig.SessionEnded) == sig.SessionEnded(
        session_id=waiting.session_id, reason="abandoned"
    )
    await _send(terminal, sig.SessionEnd(session_id=waiting.session_id, reason="cancelled"))
    assert (await _expect(terminal, sig.ErrorReply)).code == "bad_reason"
    await terminal.close()


async def test_flooding_is_rate_limited(hub: TestClient[Any, Any], terminal_token: str) -> None:
    terminal = await _terminal_ws(hub, terminal_token)
    for _ in range(100):
        await terminal.send_str('{"type":"nope"}')
    codes = [(await _recv(terminal)).code for _ in range(100)]  # type: ignore[union-attr]
    assert codes.count("rate_limited") >= 40
    assert "unknown_type" in codes
    await terminal.close()


async def test_redis_outage_gives_clear_errors_and_recovers(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path / "own-redis")
    server.start()
    try:
        seed = aioredis.from_url(server.url, decode_responses=True)
        await add_account(seed, "suzuki", PASSWORD, "specialist", "鈴木")
        await seed.aclose()
        client = await _client(server.url, tmp_path)
        try:
            server.stop()
            res = await client.get("/healthz")
            assert res.status == 503
            res = await client.post(
                "/api/login",
                json={"username": "suzuki", "password": PASSWORD},
                headers=_origin(client),
            )
            assert res.status == 503
            assert (await res.json())["error"] == "store_unavailable"

            server.start()  # same data directory: the AOF brings the account back
            assert (await client.get("/healthz")).status == 200
            await _login(client, "suzuki")
        finally:
            await client.close()
    finally:
        server.stop()


async def test_branch_staff_start_and_cancel_sessions_on_their_own_terminals(
    hub: TestClient[Any, Any], terminal_token: str, redis_url: str
) -> None:
    seed = aioredis.from_url(redis_url, decode_responses=True)
    await add_account(seed, "kato", PASSWORD, "branch_staff", "加藤", branch_id="minami")
    await seed.aclose()
    terminal = await _terminal_ws(hub, terminal_token)
    sato = await _staff_ws(hub, "sato")

    await _send(
        sato,
        sig.TerminalStart(
            terminal_id="kita-01", purpose="tax", priority="elderly", needs_hearing=True
        ),
    )
    request = await _expect(terminal, sig.SessionRequest)
    assert (request.purpose, request.priority, request.needs_hearing) == ("tax", "elderly", True)
    await _send(
        terminal,
        sig.SessionStart(
            purpose=request.purpose, priority=request.priority, needs_hearing=request.needs_hearing
        ),
    )
    waiting = await _expect(terminal, sig.SessionWaiting)
    assert waiting.ticket == "B-001"  # tax -> zei -> B

    # The branch view lists the terminal, online, with its waiting session.
    res = await hub.get("/api/branch/terminals")
    body = await res.json()
    assert res.status == 200 and body["branch_id"] == "kita"
    (row,) = body["terminals"]
    assert row["terminal_id"] == "kita-01" and row["online"] is True
    assert row["session"]["state"] == "waiting" and row["session"]["priority"] == "elderly"

    # A second start on a busy terminal is refused; so is anything from another branch's staff.
    await _send(sato, sig.TerminalStart(terminal_id="kita-01", purpose="moving"))
    assert (await _expect(sato, sig.ErrorReply)).code == "busy"
    kato = await _staff_ws(hub, "kato")
    await _send(kato, sig.TerminalCancel(terminal_id="kita-01"))
    assert (await _expect(kato, sig.ErrorReply)).code == "no_such_terminal"
    suzuki = await _staff_ws(hub, "suzuki")
    await _send(suzuki, sig.TerminalCancel(terminal_id="kita-01"))
    assert (await _expect(suzuki, sig.ErrorReply)).code == "not_allowed"

    await _send(sato, sig.TerminalCancel(terminal_id="kita-01"))
    ended = await _expect(terminal, sig.SessionEnded)
    assert ended == sig.SessionEnded(session_id=waiting.session_id, reason="cancelled")
    for ws in (terminal, sato, kato, suzuki):
        await ws.close()
