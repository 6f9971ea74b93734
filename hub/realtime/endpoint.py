"""The signaling WebSocket: authenticates a peer, parses what it sends, checks that the sender
may send it, and hands it to :mod:`hub.sessions.service`.

Terminals authenticate with ``Authorization: Bearer <device token>``; staff with their login
cookie (and a same-origin ``Origin``, against cross-site WebSocket hijacking), looked up as every
HTTP route looks it up (:func:`hub.web.login_account`). A message that does not parse, is not the
sender's to send, names a session the sender is not part of, or comes too fast gets an ``error``
reply with a code; the connection stays up.

:func:`_reply_error` is the one place a :class:`hub.errors.HubError` becomes an ``error`` frame
(the code, the message, the type of the message refused), as the middleware of :mod:`hub.web` is
for HTTP answers. A signaling parse error is translated to a HubError first, a Redis failure to
:class:`~hub.errors.StoreUnavailable`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, WSMsgType, web
from redis.exceptions import RedisError

import signaling as sig
from hub import redis_keys
from hub.accounts.store import get_account
from hub.documents.store import DOCUMENTS
from hub.errors import BadRequest, HubError, NotAllowed, Refused, StoreUnavailable, Unauthenticated
from hub.forms.drafts import DRAFTS
from hub.personal.card_data import PERSONAL
from hub.realtime.relay import RELAY
from hub.sessions.lifecycle import EndReason, State
from hub.sessions.router import Specialist
from hub.sessions.service import SESSIONS, Sessions
from hub.sessions.store import STORE, NoSuchSession
from hub.supervision.live import SUPERVISOR_MESSAGES, SUPERVISOR_ROLES
from hub.supervision.live import act as supervisor_act
from hub.supervision.metrics import count_error, count_message
from hub.web import (
    CONFIG,
    LOCAL_PEERS,
    REDIS,
    RULES,
    SOCKETS,
    bearer_token,
    device_terminal,
    from_this_hub,
    login_account,
)

log = logging.getLogger(__name__)

WS_MAX_FRAME = 256 * 1024
"""Frames up to this size get a ``too_large`` error reply; larger ones close the socket (1009)."""

SPECIALIST_ONLY = frozenset(
    {
        "specialist.set_state",
        "session.accept",
        "session.decline",
        "session.hold",
        "session.transfer",
        "session.invite",
        "session.leave",
        "session.finish",
        "sdp.offer",
    }
)
BRANCH_STAFF_ONLY = frozenset({"terminal.start", "terminal.cancel"})
MAX_REFUSED_IN_A_ROW = 200
"""A peer that keeps sending what is refused for rate is cut off (policy violation)."""


@dataclass(frozen=True)
class Peer:
    role: str  # "terminal" | "staff"
    peer_id: str
    staff_role: str | None = None  # the account's role, for staff

    @property
    def channel(self) -> str:
        return redis_keys.peer_channel(self.role, self.peer_id)

    @property
    def presence(self) -> str:
        return f"{self.role}:{self.peer_id}"


@dataclass
class TokenBucket:
    """Rate limit per connection: ``rate`` per second on average, bursts up to ``burst``."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    at: float = field(init=False)

    def __post_init__(self) -> None:
        self.tokens, self.at = self.burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


async def authenticate(request: web.Request) -> Peer | None:
    """The peer behind the upgrade request: a terminal by its device token (a wrong one is no
    one: the cookie is not looked at then), or staff by their login cookie from a page of this
    hub (a client without an ``Origin`` is not a browser, and not open to hijacking)."""
    if bearer_token(request) is not None:
        terminal_id = await device_terminal(request)
        return Peer("terminal", terminal_id) if terminal_id else None
    origin = request.headers.get("Origin")
    if origin is not None and not from_this_hub(origin, request):
        return None
    account = await login_account(request)
    if account is None:
        return None
    return Peer("staff", account.username, account.role)


async def handle(request: web.Request) -> web.StreamResponse:
    peer = await authenticate(request)
    if peer is None:
        raise Unauthenticated()  # an HTTP answer: the socket is not open yet
    ws = web.WebSocketResponse(heartbeat=15.0, max_msg_size=WS_MAX_FRAME)
    await ws.prepare(request)
    app = request.app
    relay, sessions = app[RELAY], app[SESSIONS]
    app[SOCKETS].add(ws)
    local = app[LOCAL_PEERS]
    local[peer.presence] = local.get(peer.presence, 0) + 1

    async def deliver(text: str) -> None:
        if not ws.closed:
            await ws.send_str(text)

    bucket = TokenBucket(app[CONFIG].rate_per_s, 2 * app[CONFIG].rate_per_s)
    limited = 0
    try:
        # Everything after the upgrade stays inside this try: the socket is a WebSocket now,
        # so failures close it with a code (and clean up below) instead of answering HTTP.
        await relay.attach(peer.channel, deliver)
        await app[REDIS].zadd(redis_keys.presence(), {peer.presence: time.time()})
        log.info("%s %s connected", peer.role, peer.peer_id)
        purposes = app[RULES].terminal_purposes if peer.role == "terminal" else ()
        hello = sig.Hello(role=peer.role, peer_id=peer.peer_id, purposes=purposes)
        await ws.send_str(sig.encode(hello))
        if peer.staff_role == "specialist":
            await _greet_specialist(app, sessions, peer, ws)
        async for frame in ws:
            if not bucket.take():
                limited += 1
                await _reply_error(
                    ws, HubError("rate_limited", "too many messages; slow down", status=429), None
                )
                if limited >= MAX_REFUSED_IN_A_ROW:
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"rate limit")
                continue
            limited = 0
            if frame.type is WSMsgType.TEXT:
                await _receive(app, ws, peer, frame.data)
            elif frame.type is WSMsgType.BINARY:
                await _reply_error(
                    ws, BadRequest("not_text", "messages are JSON text frames"), None
                )
            elif frame.type is WSMsgType.ERROR:
                log.info("%s %s socket error: %s", peer.role, peer.peer_id, ws.exception())
    except RedisError as exc:
        log.warning("%s %s: store unavailable (%s); closing", peer.role, peer.peer_id, exc)
        await ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"store unavailable")
    finally:
        app[SOCKETS].discard(ws)
        local[peer.presence] -= 1
        if not local[peer.presence]:
            del local[peer.presence]
        await relay.detach(peer.channel, deliver)
        log.info("%s %s disconnected (code %s)", peer.role, peer.peer_id, ws.close_code)
    return ws


async def _greet_specialist(
    app: web.Application, sessions: Sessions, peer: Peer, ws: web.WebSocketResponse
) -> None:
    """Register who the specialist is (skills from their account) and resume their session."""
    account = await get_account(app[REDIS], peer.peer_id)
    if account is None:
        return
    specialist = Specialist(
        account.username,
        frozenset(account.skills),
        frozenset(account.languages),
        account.hearing_support,
    )
    await sessions.register(peer.peer_id, specialist, time.time())
    for message in await sessions.resume(peer.peer_id):
        await ws.send_str(sig.encode(message))


def error_frame(error: HubError, ref_type: str | None) -> sig.ErrorReply:
    """A HubError as the ``error`` frame: its code and message (cut to fit), and the type of the
    message it answers (None when the frame did not parse)."""
    return sig.ErrorReply(code=error.code, message=error.message[:512], ref_type=ref_type)


async def _reply_error(ws: web.WebSocketResponse, error: HubError, ref_type: str | None) -> None:
    """The one place a refusal reaches a socket; each is counted by code for the metrics."""
    count_error(error.code)
    await ws.send_str(sig.encode(error_frame(error, ref_type)))


def _check_sender(peer: Peer, message: sig.Message) -> None:
    """NotAllowed unless this peer (its role, and a staff member's account role) sends this."""
    if peer.role not in message.senders:
        raise NotAllowed("not_allowed", f"a {peer.role} does not send {message.type}")
    if message.type in SPECIALIST_ONLY and peer.staff_role != "specialist":
        raise NotAllowed("not_allowed", f"only a specialist sends {message.type}")
    if message.type in BRANCH_STAFF_ONLY and peer.staff_role != "branch_staff":
        raise NotAllowed("not_allowed", f"only branch staff send {message.type}")
    if message.type in SUPERVISOR_MESSAGES and peer.staff_role not in SUPERVISOR_ROLES:
        raise NotAllowed("not_allowed", f"only a supervisor sends {message.type}")


async def _receive(app: web.Application, ws: web.WebSocketResponse, peer: Peer, text: str) -> None:
    try:
        message = sig.parse_message(text)
    except sig.ProtocolError as exc:
        await _reply_error(ws, BadRequest(exc.code, str(exc)), exc.message_type)
        return
    count_message(message.type)
    try:
        _check_sender(peer, message)
        await _dispatch(app, ws, peer, message)
    except HubError as exc:
        await _reply_error(ws, exc, message.type)
    except RedisError as exc:
        log.warning("%s on %s: store unavailable (%s)", message.type, peer.peer_id, exc)
        await _reply_error(ws, StoreUnavailable(), message.type)


async def _dispatch(
    app: web.Application, ws: web.WebSocketResponse, peer: Peer, message: sig.Message
) -> None:
    sessions = app[SESSIONS]
    now = time.time()
    user = peer.peer_id
    match message:
        case sig.SessionStart():
            reply, offers = await sessions.start(user, message, now)
            await ws.send_str(sig.encode(reply))
            await sessions.announce(offers)
        case sig.SpecialistSetState(state=state):
            await sessions.set_state(user, state, now)
        case sig.SessionAccept(session_id=sid):
            await sessions.accept(user, sid, now)
        case sig.SessionDecline(session_id=sid):
            await sessions.decline(user, sid, now)
        case sig.SessionHold(session_id=sid, on=on):
            await sessions.hold(user, sid, on, now)
        case sig.SessionTransfer(session_id=sid, to_skill=skill, to_user=target):
            known = False
            if target is not None:
                account = await get_account(app[REDIS], target)
                known = account is not None and account.role == "specialist"
            await sessions.transfer(user, sid, skill, target, now, known)
        case sig.SessionInvite(session_id=sid, user=target):
            await sessions.invite(user, sid, target, now)
        case sig.SessionLeave(session_id=sid):
            await sessions.leave(user, sid, now)
        case sig.SessionFinish(session_id=sid):
            await sessions.finish(user, sid, now)
        case sig.SessionEnd(session_id=sid, reason=reason):
            if peer.role == "terminal":
                await sessions.end(sid, reason, now, by_terminal=user)
            else:
                await sessions.end(sid, reason, now, by_staff=user)
        case sig.TerminalStart(terminal_id=tid):
            await _own_branch_terminal(app, peer, tid)
            rules = app[RULES]
            if rules.skill_for(message.purpose) is None:
                raise Refused("unknown_purpose", f"no procedure {message.purpose!r}")
            if message.priority is not None and message.priority not in rules.priorities:
                raise Refused("unknown_priority", f"no priority {message.priority!r}")
            if await app[STORE].current_session(tid) is not None:
                raise Refused("busy", "that terminal already has a session; cancel it first")
            log.info("terminal %s: session started by branch staff %s", tid, user)
            await sessions.to_terminal(
                tid,
                sig.SessionRequest(
                    purpose=message.purpose,
                    priority=message.priority,
                    needs_language=message.needs_language,
                    needs_hearing=message.needs_hearing,
                ),
            )
        case sig.TerminalCancel(terminal_id=tid):
            await _own_branch_terminal(app, peer, tid)
            view = await app[STORE].current_session(tid)
            if view is None:
                raise Refused("no_session", "that terminal has no session")
            log.info("session %s: cancelled by branch staff %s", view.id, user)
            await sessions.close(view, EndReason.CANCELLED, now)
        case sig.SessionRating(session_id=sid, score=score):
            await sessions.rate(sid, score, by_terminal=user)
        case sig.DeviceStatus():
            await sessions.device_status(user, message, now)
        case sig.SessionProcedures():
            await app[PERSONAL].select_procedures(user, message, now)
        case sig.FormEdit():
            await app[DRAFTS].edit(user, message)
        case sig.FormSync(session_id=sid):
            view = await sessions.live_for_staff(user, sid)
            draft = await app[DRAFTS].load(view.id)
            await ws.send_str(sig.encode(app[DRAFTS].state_message(view.id, draft)))
            card = await app[PERSONAL].card_data(user, view.id)
            if card is not None:
                await ws.send_str(sig.encode(card))
        case sig.FormReview():
            await app[DRAFTS].review(user, message)
        case sig.FormConfirm():
            await app[DRAFTS].confirm(user, message)
        case sig.FormSign():
            await app[DRAFTS].sign_request(user, message)
        case sig.FormSignature():
            await app[DRAFTS].signature(user, message)
        case sig.CardRequest():
            await app[PERSONAL].request(user, message, now)
        case sig.CardCancel():
            await app[PERSONAL].cancel(user, message)
        case sig.CardStatus():
            await app[PERSONAL].status(user, message)
        case sig.CardResult():
            await app[PERSONAL].result(user, message, now)
        case sig.CardReveal():
            await ws.send_str(sig.encode(await app[PERSONAL].reveal(user, message, now)))
        case sig.DocumentCapture():
            await app[DOCUMENTS].capture(user, message)
        case sig.DocumentStatus():
            await app[DOCUMENTS].status(user, message)
        case sig.DocumentMark():
            await app[DOCUMENTS].mark(user, message)
        case sig.SdpOffer() | sig.SdpAnswer() | sig.IceCandidate():
            await _relay_media(app, peer, message)
        case sig.SupervisorSetState() | sig.SupervisorSetSkills() | sig.SupervisorMoveTicket():
            await supervisor_act(app, user, message, now)
        case _:
            raise NotAllowed("not_allowed", f"{message.type} is not handled here")


async def _own_branch_terminal(app: web.Application, peer: Peer, terminal_id: str) -> None:
    """Branch staff reach only their own branch's terminals; any other looks like no terminal."""
    account = await get_account(app[REDIS], peer.peer_id)
    branch = await app[STORE].terminal_branch(terminal_id)
    if account is None or not branch or account.branch_id != branch:
        raise Refused("no_such_terminal", "no such terminal in your branch")


async def _relay_media(
    app: web.Application, peer: Peer, message: sig.SdpOffer | sig.SdpAnswer | sig.IceCandidate
) -> None:
    """Offers, answers and candidates go between the terminal and one staff member of a live
    session. From staff the hub stamps who sent it; from the terminal it must name whom for."""
    view = await app[STORE].get(message.session_id)
    if view.state not in (State.CONNECTED, State.ON_HOLD):
        raise Refused("illegal_state", f"session is {view.state.value}")
    sessions = app[SESSIONS]
    if peer.role == "staff":
        if not view.takes_part(peer.peer_id):
            raise NoSuchSession(message.session_id)
        stamped = _with_peer(message, peer.peer_id)
        await sessions.to_terminal(view.terminal_id, stamped)
        return
    if view.terminal_id != peer.peer_id:
        raise NoSuchSession(message.session_id)
    target = message.peer_id or view.specialist
    if target is None or not view.takes_part(target):
        raise Refused("no_such_peer", "that staff member is not in this session")
    await sessions.to_staff(target, message)


def _with_peer(
    message: sig.SdpOffer | sig.SdpAnswer | sig.IceCandidate, peer_id: str
) -> sig.Message:
    from dataclasses import replace

    return replace(message, peer_id=peer_id)
