"""The signaling WebSocket: authenticates a peer, parses what it sends, and acts on it.

Terminals authenticate with ``Authorization: Bearer <device token>``; staff with their login
cookie (and a same-origin ``Origin``, against cross-site WebSocket hijacking). A message that does
not parse, is not the sender's to send, or names a session the sender is not part of gets an
``error`` reply with a code; the connection stays up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from aiohttp import WSMsgType, web

import signaling as sig
from hub import keys
from hub.accounts import account_for_login
from hub.lifecycle import EndReason, Event, IllegalTransition, State
from hub.relay import peer_channel
from hub.store import NoSuchSession, SessionRecord

log = logging.getLogger(__name__)

WS_MAX_FRAME = 256 * 1024
"""Frames up to this size get a ``too_large`` error reply; larger ones close the socket (1009)."""


@dataclass(frozen=True)
class Peer:
    role: str  # "terminal" | "staff"
    peer_id: str
    staff_role: str | None = None  # the account's role for staff

    @property
    def channel(self) -> str:
        return peer_channel(self.role, self.peer_id)


class Refused(Exception):
    """A message we understood but will not act on. Becomes an ``error`` reply."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


async def authenticate(request: web.Request) -> Peer | None:
    app = request.app
    auth = request.headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        terminal_id = await app[keys.STORE].terminal_for_token(auth.removeprefix("Bearer "))
        return Peer("terminal", terminal_id) if terminal_id else None
    origin = request.headers.get("Origin")
    if origin is not None and origin.split("://", 1)[-1] != request.host:
        return None
    token = request.cookies.get(keys.LOGIN_COOKIE, "")
    account = await account_for_login(app[keys.REDIS], token, app[keys.CONFIG].login_ttl_s)
    if account is None:
        return None
    return Peer("staff", account.username, account.role)


async def handle(request: web.Request) -> web.StreamResponse:
    peer = await authenticate(request)
    if peer is None:
        raise web.HTTPUnauthorized(
            text='{"error":"unauthenticated"}', content_type="application/json"
        )
    ws = web.WebSocketResponse(heartbeat=15.0, max_msg_size=WS_MAX_FRAME)
    await ws.prepare(request)
    app = request.app
    relay = app[keys.RELAY]
    app[keys.SOCKETS].add(ws)

    async def deliver(text: str) -> None:
        if not ws.closed:
            await ws.send_str(text)

    await relay.attach(peer.channel, deliver)
    log.info("%s %s connected", peer.role, peer.peer_id)
    try:
        await ws.send_str(sig.encode(sig.Hello(role=peer.role, peer_id=peer.peer_id)))
        async for frame in ws:
            if frame.type is WSMsgType.TEXT:
                await _receive(app, ws, peer, frame.data)
            elif frame.type is WSMsgType.BINARY:
                await _reply_error(ws, "not_text", "messages are JSON text frames", None)
            elif frame.type is WSMsgType.ERROR:
                log.info("%s %s socket error: %s", peer.role, peer.peer_id, ws.exception())
    finally:
        app[keys.SOCKETS].discard(ws)
        await relay.detach(peer.channel, deliver)
        log.info("%s %s disconnected (code %s)", peer.role, peer.peer_id, ws.close_code)
    return ws


async def _reply_error(
    ws: web.WebSocketResponse, code: str, message: str, ref_type: str | None
) -> None:
    await ws.send_str(
        sig.encode(sig.ErrorReply(code=code, message=message[:512], ref_type=ref_type))
    )


async def _receive(app: web.Application, ws: web.WebSocketResponse, peer: Peer, text: str) -> None:
    try:
        message = sig.parse_message(text)
    except sig.ProtocolError as exc:
        await _reply_error(ws, exc.code, str(exc), None)
        return
    try:
        if peer.role not in message.senders:
            raise Refused("not_allowed", f"a {peer.role} does not send {message.type}")
        await _dispatch(app, ws, peer, message)
    except Refused as exc:
        await _reply_error(ws, exc.code, str(exc), message.type)
    except NoSuchSession:
        await _reply_error(ws, "no_such_session", "no such session", message.type)
    except IllegalTransition as exc:
        await _reply_error(ws, exc.code, str(exc), message.type)


async def _dispatch(
    app: web.Application, ws: web.WebSocketResponse, peer: Peer, message: sig.Message
) -> None:
    store = app[keys.STORE]
    relay = app[keys.RELAY]
    now = time.time()
    match message:
        case sig.SessionStart(purpose=purpose):
            record = await store.current_session(peer.peer_id)
            if record is None:
                record = await store.create(peer.peer_id, purpose, now)
                log.info(
                    "session %s: created waiting (terminal %s)", record.session.id, peer.peer_id
                )
            position = await store.position(record.session.id)
            if record.session.state is State.CONNECTED:
                await ws.send_str(sig.encode(sig.SessionConnected(session_id=record.session.id)))
            else:
                await ws.send_str(
                    sig.encode(sig.SessionWaiting(session_id=record.session.id, position=position))
                )

        case sig.QueueNext():
            if peer.staff_role != "specialist":
                raise Refused("not_allowed", "only a specialist takes residents")
            if await store.specialist_session(peer.peer_id):
                raise Refused("busy", "finish the current session first")
            record = await store.take_next(peer.peer_id, now)
            if record is None:
                await ws.send_str(sig.encode(sig.QueueEmpty()))
                return
            log.info(
                "session %s: state waiting -> connected (specialist %s)",
                record.session.id,
                peer.peer_id,
            )
            await relay.publish(
                peer_channel("terminal", record.terminal_id),
                sig.encode(sig.SessionConnected(session_id=record.session.id)),
            )
            await ws.send_str(
                sig.encode(
                    sig.SessionAssigned(
                        session_id=record.session.id,
                        terminal_id=record.terminal_id,
                        purpose=record.purpose,
                    )
                )
            )

        case (
            sig.SdpOffer(session_id=sid)
            | sig.SdpAnswer(session_id=sid)
            | sig.IceCandidate(session_id=sid)
        ):
            record = await _participant(app, peer, sid)
            if record.session.state is not State.CONNECTED:
                raise Refused("illegal_state", f"session is {record.session.state.value}")
            await relay.publish(_other_side(peer, record), sig.encode(message))

        case sig.SessionEnd(session_id=sid, reason=reason):
            record = await _participant(app, peer, sid)
            ended = await store.transition(sid, Event.END, now, reason=EndReason(reason))
            log.info(
                "session %s: state %s -> ended (%s, by %s %s)",
                sid,
                record.session.state.value,
                reason,
                peer.role,
                peer.peer_id,
            )
            notice = sig.encode(sig.SessionEnded(session_id=sid, reason=reason))
            await relay.publish(peer_channel("terminal", ended.terminal_id), notice)
            if ended.session.specialist:
                await relay.publish(peer_channel("staff", ended.session.specialist), notice)

        case _:
            raise Refused("not_allowed", f"{message.type} is not handled here")


async def _participant(app: web.Application, peer: Peer, session_id: str) -> SessionRecord:
    """The session, if ``peer`` takes part in it; otherwise a refusal that reveals nothing."""
    record = await app[keys.STORE].get(session_id)
    if peer.role == "terminal" and record.terminal_id == peer.peer_id:
        return record
    if peer.role == "staff" and record.session.specialist == peer.peer_id:
        return record
    raise NoSuchSession(session_id)


def _other_side(peer: Peer, record: SessionRecord) -> str:
    if peer.role == "staff":
        return peer_channel("terminal", record.terminal_id)
    if record.session.specialist is None:
        raise Refused("illegal_state", "no specialist on this session yet")
    return peer_channel("staff", record.session.specialist)
