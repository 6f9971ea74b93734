"""What the hub does for each request on a session: one atomic step in Redis
(:mod:`hub.sessions.dispatch`), then the messages that step owes to the people involved.

The signaling socket handler and the background sweeper both call this; neither changes a
session any other way. Messages go out through the relay, so they reach each peer on whichever
hub process it is connected to. A step the state does not allow raises
:class:`hub.errors.Refused` with a code (a session the caller is not part of:
:class:`~hub.sessions.store.NoSuchSession`); the socket handler turns it into an ``error`` reply.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Iterable
from typing import Final

from aiohttp import web

import signaling as sig
from hub import redis_keys
from hub.errors import Refused
from hub.realtime.relay import Relay
from hub.sessions.dispatch import Dispatch, Outcome
from hub.sessions.lifecycle import EndReason, State
from hub.sessions.router import Rules, Specialist
from hub.sessions.store import NoSuchSession, SessionView, Store

log = logging.getLogger(__name__)

TERMINAL_END_REASONS = frozenset({"abandoned", "completed"})
STAFF_END_REASONS = frozenset({"completed", "cancelled", "no_answer"})


class Sessions:
    def __init__(
        self, store: Store, dispatch: Dispatch, relay: Relay, rules: Rules, retention_s: int
    ) -> None:
        self.store = store
        self.dispatch = dispatch
        self.relay = relay
        self.rules = rules
        self.retention_s = retention_s

    async def _retain(self, session_id: str) -> None:
        """An ended session's record is kept for the retention period, then Redis drops it."""
        await self.store.retain(session_id, self.retention_s)

    # -- sending ---------------------------------------------------------------------------------

    async def to_staff(self, user: str, message: sig.Message) -> None:
        await self.relay.publish(redis_keys.peer_channel("staff", user), sig.encode(message))

    async def to_terminal(self, terminal_id: str, message: sig.Message) -> None:
        channel = redis_keys.peer_channel("terminal", terminal_id)
        await self.relay.publish(channel, sig.encode(message))

    async def status(self, user: str) -> None:
        state, session_id, version = await self.store.specialist_state(user)
        await self.to_staff(
            user, sig.SpecialistStatus(state=state, session_id=session_id, version=version)
        )

    def offered_message(self, view: SessionView, *, invited: bool) -> sig.SessionOffered:
        return sig.SessionOffered(
            session_id=view.id,
            ticket=view.ticket or "-",
            terminal_id=view.terminal_id,
            branch_id=view.branch_id or "-",
            purpose=view.purpose,
            skill=view.skill,
            priority=view.priority,
            needs_language=view.needs_language,
            needs_hearing=view.needs_hearing,
            deadline_s=int(self.rules.offer_timeout_s),
            transferred_from=view.transferred_from,
            invited=invited,
        )

    def assigned_message(self, view: SessionView) -> sig.SessionAssigned:
        assert view.specialist is not None
        return sig.SessionAssigned(
            session_id=view.id,
            terminal_id=view.terminal_id,
            purpose=view.purpose,
            ticket=view.ticket or "-",
            state=view.state.value,
            primary=view.specialist,
            others=view.others,
        )

    async def waiting_message(
        self,
        view: SessionView,
        *,
        transferred: bool = False,
        rates: dict[str, tuple[float, int]] | None = None,
    ) -> sig.SessionWaiting:
        position = await self.store.position(view)
        return sig.SessionWaiting(
            session_id=view.id,
            ticket=view.ticket or "-",
            position=position,
            estimated_wait_s=await self.estimate(view, position, rates),
            transferred=transferred,
        )

    async def estimate(
        self, view: SessionView, position: int, rates: dict[str, tuple[float, int]] | None = None
    ) -> int:
        """Seconds until served: position × recent handling time ÷ specialists at work.
        ``rates`` caches (handling time, specialists) per queue across one pass of pushes."""
        if position <= 0:
            return 0
        rates = {} if rates is None else rates
        if view.queue not in rates:
            skill = view.queue[1:] if view.queue.startswith("@") else view.skill
            handle = await self.store.handle_time(skill, self.rules.default_handle_time_s)
            staffed = 1 if view.queue.startswith("@") else max(1, await self.store.staffed(skill))
            rates[view.queue] = (handle, staffed)
        handle, staffed = rates[view.queue]
        return min(86_400, math.ceil(position * handle / staffed))

    async def announce(self, offers: Iterable[tuple[str, str]]) -> None:
        """Ring the specialists the router just offered sessions to."""
        for session_id, user in offers:
            view = await self.store.get(session_id)
            invited = view.invited == user
            log.info(
                "session %s: offered to %s%s", session_id, user, " (invitation)" if invited else ""
            )
            await self.to_staff(user, self.offered_message(view, invited=invited))
            await self.status(user)

    async def _participants(self, view: SessionView) -> None:
        if view.specialist is None:
            return
        notice = sig.SessionParticipants(
            session_id=view.id, primary=view.specialist, others=view.others
        )
        for user in view.staff:
            await self.to_staff(user, notice)

    # -- the resident's side ---------------------------------------------------------------------

    async def start(
        self, terminal_id: str, request: sig.SessionStart, now: float
    ) -> tuple[sig.Message, tuple[tuple[str, str], ...]]:
        """A resident asks for a counter, or a reconnected terminal asks for its session.
        Returns the terminal's answer and the offers made: the caller sends the answer first,
        then :meth:`announce`s the offers, so the terminal hears it waits before it can hear
        that someone answered."""
        if request.resume is not None:
            try:
                had = await self.store.get(request.resume)
            except NoSuchSession:
                had = None
            if had is not None and had.terminal_id == terminal_id:
                # The terminal asks about the session it had: answer about that one, never
                # start another (it may end between two reads; a resident who left is gone).
                return await self._resumed(had), ()
        current = await self.store.current_session(terminal_id)
        if current is not None:
            return await self._resumed(current), ()
        skill = self.rules.skill_for(request.purpose)
        if skill is None:
            raise Refused("unknown_purpose", f"no procedure {request.purpose!r} in the catalog")
        priority = request.priority or "normal"
        if priority not in self.rules.priorities:
            raise Refused("unknown_priority", f"no priority {priority!r}")
        session_id = f"s-{secrets.token_hex(8)}"
        branch = await self.store.terminal_branch(terminal_id) or "-"
        ticket, offers = await self.dispatch.create(
            session_id,
            terminal_id=terminal_id,
            branch_id=branch,
            purpose=request.purpose,
            skill=skill,
            priority=priority,
            now=now,
            needs_language=request.needs_language,
            needs_hearing=request.needs_hearing,
        )
        if ticket == "existing":  # a concurrent start made one first
            return await self._resumed(await self.store.get(offers[0][0])), ()
        log.info(
            "session %s: created waiting, ticket %s, queue %s (terminal %s)",
            session_id,
            ticket,
            skill,
            terminal_id,
        )
        return await self.waiting_message(await self.store.get(session_id)), offers

    async def _resumed(self, view: SessionView) -> sig.Message:
        """What a terminal asking about this session is told: connected, waiting, or ended."""
        if view.state in (State.CONNECTED, State.ON_HOLD):
            return sig.SessionConnected(session_id=view.id)
        if view.active:
            return await self.waiting_message(view)
        reason = (view.end_reason or EndReason.TERMINAL_LOST).value
        return sig.SessionEnded(session_id=view.id, reason=reason)

    async def device_status(self, terminal_id: str, report: sig.DeviceStatus, now: float) -> None:
        """Keep the terminal's device health, and tell the staff in its session."""
        await self.store.redis.hset(
            redis_keys.terminal(terminal_id),
            mapping={
                "camera": report.camera,
                "microphone": report.microphone,
                "devices_at": f"{now:.3f}",
            },
        )
        view = await self.store.current_session(terminal_id)
        if view is None:
            return
        log.info(
            "terminal %s: camera %s, microphone %s", terminal_id, report.camera, report.microphone
        )
        stamped = sig.DeviceStatus(
            camera=report.camera, microphone=report.microphone, terminal_id=terminal_id
        )
        for user in view.staff:
            await self.to_staff(user, stamped)

    # -- the specialist's side -------------------------------------------------------------------

    async def register(self, user: str, specialist: Specialist, now: float) -> None:
        await self.dispatch.register(specialist, now)
        state, _, _ = await self.store.specialist_state(user)
        if state == "offline":
            await self.dispatch.set_state(user, "away", now)

    async def resume(self, user: str) -> list[sig.Message]:
        """What a (re)connected specialist needs to see: their state and their session."""
        state, session_id, version = await self.store.specialist_state(user)
        out: list[sig.Message] = [
            sig.SpecialistStatus(state=state, session_id=session_id, version=version)
        ]
        if session_id:
            try:
                view = await self.store.get(session_id)
            except NoSuchSession:
                return out
            if state == "ringing":
                out.append(self.offered_message(view, invited=view.invited == user))
            elif view.specialist is not None and (view.takes_part(user)):
                out.append(self.assigned_message(view))
        return out

    async def set_state(self, user: str, state: str, now: float) -> None:
        outcome = await self.dispatch.set_state(user, state, now)
        if not outcome.ok:
            raise Refused("busy", f"you are {outcome.details[0]}: finish that first")
        log.info("specialist %s: state -> %s", user, state)
        await self.status(user)
        await self.announce(outcome.offers)

    async def accept(self, user: str, session_id: str, now: float) -> None:
        outcome = await self.dispatch.accept(session_id, user, now)
        if not outcome.ok:
            raise Refused("not_offered", "this session is not offered to you (any more)")
        view = await self.store.get(session_id)
        if outcome.status == "accepted":
            log.info("session %s: state offered -> connected (specialist %s)", session_id, user)
            await self.to_terminal(view.terminal_id, sig.SessionConnected(session_id=session_id))
        else:
            log.info("session %s: %s joined", session_id, user)
            await self._participants(view)
        await self.to_staff(user, self.assigned_message(view))
        await self.status(user)

    async def decline(
        self, user: str, session_id: str, now: float, *, timed_out: bool = False
    ) -> None:
        outcome = await self.dispatch.decline(session_id, user, now, timed_out=timed_out)
        if not outcome.ok:
            if timed_out:
                return  # answered or withdrawn in the meantime
            raise Refused("not_offered", "this session is not offered to you (any more)")
        log.info(
            "session %s: %s by %s", session_id, "offer timed out" if timed_out else "declined", user
        )
        if timed_out:
            await self.to_staff(user, sig.SessionWithdrawn(session_id=session_id, reason="timeout"))
        await self.status(user)
        await self.announce(outcome.offers)

    async def _led_by(self, user: str, session_id: str) -> SessionView:
        view = await self.store.get(session_id)
        if not view.takes_part(user):
            raise NoSuchSession(session_id)
        if view.specialist != user:
            raise Refused("not_primary", "only the specialist leading the session can do that")
        return view

    async def hold(self, user: str, session_id: str, on: bool, now: float) -> None:
        view = await self._led_by(user, session_id)
        outcome = await self.dispatch.hold(session_id, user, on, now)
        if not outcome.ok:
            raise Refused("illegal_state", f"session is {outcome.details[0] or 'gone'}")
        notice = sig.SessionHeld(session_id=session_id, on=on)
        await self.to_terminal(view.terminal_id, notice)
        for person in view.staff:
            await self.to_staff(person, notice)

    async def transfer(
        self,
        user: str,
        session_id: str,
        to_skill: str | None,
        to_user: str | None,
        now: float,
        known_user: bool,
    ) -> None:
        await self._led_by(user, session_id)
        if (to_skill is None) == (to_user is None):
            raise Refused("bad_target", "transfer to exactly one of a skill or a colleague")
        if to_skill is not None and to_skill not in self.rules.ticket_prefix:
            raise Refused("bad_target", f"no skill {to_skill!r}")
        if to_user is not None and (not known_user or to_user == user):
            raise Refused("bad_target", f"no other specialist {to_user!r}")
        queue = to_skill if to_skill is not None else f"@{to_user}"
        outcome = await self.dispatch.transfer(session_id, user, queue, now)
        if not outcome.ok:
            raise Refused("illegal_state", f"session is {outcome.details[0] or 'gone'}")
        log.info("session %s: transferred by %s to %s", session_id, user, queue)
        view = await self.store.get(session_id)
        released = [p for p in outcome.details[0].split(",") if p]
        for person in released:
            await self.to_terminal(
                view.terminal_id, sig.PeerLeft(session_id=session_id, peer_id=person)
            )
            await self.status(person)
        await self.to_terminal(view.terminal_id, await self.waiting_message(view, transferred=True))
        await self.announce(outcome.offers)

    async def invite(self, user: str, session_id: str, target: str, now: float) -> None:
        await self._led_by(user, session_id)
        outcome = await self.dispatch.invite(session_id, user, target, now)
        if not outcome.ok:
            raise Refused(
                outcome.details[0] if outcome.details else "refused", f"cannot invite {target}"
            )
        log.info("session %s: %s invites %s", session_id, user, target)
        await self.announce([(session_id, target)])

    async def leave(self, user: str, session_id: str, now: float) -> None:
        view = await self.store.get(session_id)
        if not view.takes_part(user):
            raise NoSuchSession(session_id)
        outcome = await self.dispatch.leave(session_id, user, now)
        if not outcome.ok:
            raise Refused("cannot_leave", "the last specialist ends or transfers the session")
        log.info("session %s: %s left; %s leads", session_id, user, outcome.details[0])
        await self.to_terminal(view.terminal_id, sig.PeerLeft(session_id=session_id, peer_id=user))
        after = await self.store.get(session_id)
        if view.specialist == user and after.specialist:
            await self.to_staff(after.specialist, self.assigned_message(after))
        await self._participants(after)
        await self.status(user)
        await self.announce(outcome.offers)

    async def finish(self, user: str | None, session_id: str, now: float) -> None:
        if user is not None:
            view = await self.store.get(session_id)
            if view.specialist != user:
                raise NoSuchSession(session_id)
        outcome = await self.dispatch.finish(session_id, now)
        if not outcome.ok:
            if user is None:
                return  # finished by hand in the meantime
            raise Refused("illegal_state", "the session is not in wrap-up")
        log.info("session %s: state wrap_up -> ended", session_id)
        await self._retain(session_id)
        await self.status(outcome.details[0])
        await self.announce(outcome.offers)

    # -- the end ---------------------------------------------------------------------------------

    async def end(
        self,
        session_id: str,
        reason: str,
        now: float,
        *,
        by_terminal: str | None = None,
        by_staff: str | None = None,
    ) -> None:
        view = await self.store.get(session_id)
        if by_terminal is not None:
            if view.terminal_id != by_terminal:
                raise NoSuchSession(session_id)
            if reason not in TERMINAL_END_REASONS:
                raise Refused("bad_reason", f"a terminal does not end with {reason!r}")
        if by_staff is not None:
            if not view.takes_part(by_staff):
                raise NoSuchSession(session_id)
            if reason not in STAFF_END_REASONS:
                raise Refused("bad_reason", f"staff do not end with {reason!r}")
        await self.close(view, EndReason(reason), now)

    async def live_for_staff(self, user: str, session_id: str) -> SessionView:
        """The session, when ``user`` takes part in it and it is connected or on hold."""
        view = await self.store.get(session_id)
        if not view.takes_part(user):
            raise NoSuchSession(session_id)
        return _live(view)

    async def live_for_terminal(self, terminal_id: str, session_id: str) -> SessionView:
        """The session, when it is ``terminal_id``'s and connected or on hold."""
        view = await self.store.get(session_id)
        if view.terminal_id != terminal_id:
            raise NoSuchSession(session_id)
        return _live(view)

    async def rate(self, session_id: str, score: int, *, by_terminal: str) -> None:
        """The resident's satisfaction for a session that ended, from its own terminal, once."""
        view = await self.store.get(session_id)
        if view.terminal_id != by_terminal:
            raise NoSuchSession(session_id)
        if view.state is not State.ENDED:
            raise Refused("not_ended", "a session is rated once it has ended")
        if not await self.store.rate(session_id, score):
            raise Refused("already_rated", "this session has been rated")
        log.info("session %s: rated %d", session_id, score)

    async def close(self, view: SessionView, reason: EndReason, now: float) -> bool:
        """End the resident's part of the session, however it is; False when already over."""
        outcome: Outcome
        if view.state in (State.WAITING, State.OFFERED):
            outcome = await self.dispatch.end_waiting(view.id, reason, now)
            if not outcome.ok:
                return False
            await self._retain(view.id)
            ringing = outcome.details[0]
            if ringing:
                await self.to_staff(
                    ringing, sig.SessionWithdrawn(session_id=view.id, reason=reason.value)
                )
                await self.status(ringing)
        elif view.state in (State.CONNECTED, State.ON_HOLD):
            outcome = await self.dispatch.hang_up(view.id, reason, now)
            if not outcome.ok:
                return False
            released = [p for p in outcome.details[1].split(",") if p]
            for person in [outcome.details[0], *released]:
                await self.to_staff(
                    person, sig.SessionEnded(session_id=view.id, reason=reason.value)
                )
                await self.status(person)
        else:
            raise Refused("illegal_state", f"session is {view.state.value}")
        log.info(
            "session %s: state %s -> %s (%s)",
            view.id,
            view.state.value,
            "ended" if view.state in (State.WAITING, State.OFFERED) else "wrap_up",
            reason.value,
        )
        await self.to_terminal(
            view.terminal_id, sig.SessionEnded(session_id=view.id, reason=reason.value)
        )
        await self.announce(outcome.offers)
        return True

    # -- losses (from the sweeper) ---------------------------------------------------------------

    async def lose_terminal(self, terminal_id: str, now: float) -> None:
        view = await self.store.current_session(terminal_id)
        if view is not None:
            log.warning("terminal %s lost; session %s ends", terminal_id, view.id)
            await self.close(view, EndReason.TERMINAL_LOST, now)

    async def lose_specialist(self, user: str, now: float) -> None:
        outcome = await self.dispatch.lose_specialist(user, now)
        session_id, what = outcome.details
        if what == "finished":
            await self._retain(session_id)
        if what != "none":
            log.warning("specialist %s lost; session %s %s", user, session_id, what)
        if session_id and what in ("requeued", "handover", "left"):
            view = await self.store.get(session_id)
            await self.to_terminal(
                view.terminal_id, sig.PeerLeft(session_id=session_id, peer_id=user)
            )
            if what == "requeued" and view.state is State.WAITING and view.queue:
                await self.to_terminal(
                    view.terminal_id, await self.waiting_message(view, transferred=True)
                )
            elif what == "handover" and view.specialist:
                await self.to_staff(view.specialist, self.assigned_message(view))
                await self._participants(view)
            elif what == "left":
                await self._participants(view)
        await self.announce(outcome.offers)


def _live(view: SessionView) -> SessionView:
    if view.state not in (State.CONNECTED, State.ON_HOLD):
        raise Refused("illegal_state", f"session is {view.state.value}")
    return view


SESSIONS: Final = web.AppKey("sessions", Sessions)
