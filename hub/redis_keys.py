"""Every Redis key and pub/sub channel name the hub uses, built here and nowhere else.

Theory of operation
-------------------
All shared state of a deployment lives in one Redis, under ``mdg:``. Each family of keys has one
builder below; the modules that read and write Redis call it instead of formatting names
themselves, and the Lua scripts (:mod:`hub.lua`) get the prefixes they need rendered into their
prelude from :data:`ROUTING_LUA` and :data:`INTAKE_LUA`, so a script never spells a key name
either. The names and the value formats are the stored data's format: existing data, the tests
and the back-office tools depend on them, so a name here changes only with a migration.

``{…}`` is filled in by the caller. Owner: the module that writes the key (others only read
it). Expiry: the defaults of :class:`hub.config.HubConfig` where configurable; "—" is none.

Sessions and routing. Owner: the routing scripts (``hub/lua/dispatch``, run by
:mod:`hub.sessions.dispatch`) unless said otherwise.

=====================================  ======  ==============================================
``mdg:session:{session_id}``           hash    the session; :mod:`hub.sessions.service` sets
                                               the rating and, once it ended, the expiry
                                               (session retention, 90 d);
                                               :mod:`hub.personal.card_data` the ``card_*``
                                               fields
``mdg:terminal_session:{terminal_id}`` string  the terminal's current session id; —
``mdg:q:{queue}``                      zset    waiting session ids by rank; queue = skill or
                                               ``@user``; —
``mdg:specialist:{user}``              hash    routing profile and state (profile written by
                                               ``Dispatch.register``); —
``mdg:avail:{skill}``                  zset    available specialists by available-since; —
``mdg:skill_members:{skill}``          set     ``Dispatch.register`` and set_skills; —
``mdg:deadlines``                      zset    offer/invite/wrap-up deadlines by due time; —
``mdg:handle:{skill}``                 list    the last 50 handling times, seconds; —
``mdg:ticketno:{branch}:{yyyymmdd}``   string  ticket number counter; 2 d
``mdg:day:{yyyymmdd}``                 zset    sessions created that day, by creation time
                                               (``Dispatch.create``); 8 d
=====================================  ======  ==============================================

Terminals, staff, presence (owner named per key):

=====================================  ======  ==============================================
``mdg:terminal:{terminal_id}``         hash    :mod:`hub.sessions.store` (device health:
                                               :mod:`hub.sessions.service`); —
``mdg:terminal_token:{sha256}``        string  :mod:`hub.sessions.store`; —
``mdg:branch_terminals:{branch_id}``   set     :mod:`hub.sessions.store`; —
``mdg:enroll_code:{sha256}``           string  :mod:`hub.accounts.enrollment`; the code's
                                               TTL (10 min)
``mdg:enroll_attempts:{address}``      string  :mod:`hub.accounts.enrollment`; the window
                                               (60 s)
``mdg:account:{username}``             hash    :mod:`hub.accounts.store` (``skills`` also
                                               the set_skills script); —
``mdg:login:{token}``                  string  :mod:`hub.accounts.store`; login TTL (8 h,
                                               renewed on use)
``mdg:logins_of:{username}``           set     :mod:`hub.accounts.store`; —
``mdg:presence``                       zset    :mod:`hub.realtime.endpoint` and
                                               :mod:`hub.sessions.background`; stale members
                                               claimed by the claim_absent script
``mdg:to:{role}:{peer_id}``            pubsub  a peer's channel (:mod:`hub.realtime.relay`)
``mdg:hub:{hub_id}``                   pubsub  a hub's control channel (likewise)
=====================================  ======  ==============================================

Personal data, forms, documents:

=====================================  ======  ==============================================
``mdg:personal:{session_id}``          hash    :mod:`hub.personal.card_data`; session
                                               retention
``mdg:draft:{session_id}``             string  :mod:`hub.forms.drafts`; session retention
``mdg:audit``                          stream  :mod:`hub.personal.audit`; never trimmed
``mdg:doc:{document_id}``              hash    :mod:`hub.documents.store`; deleted by its
                                               retention pass
``mdg:session_docs:{session_id}``      zset    likewise
``mdg:doc_expiry``                     zset    likewise; —
``mdg:lock:docs:{session_id}``         string  likewise; 15 s
``mdg:lock:doc_retention``             string  likewise; 50 s
=====================================  ======  ==============================================

The central intake (owner :mod:`hub.intake.queue` and its scripts, ``hub/lua/intake``; read by
:mod:`hub.supervision`):

=====================================  ======  ==============================================
``P stream``                           stream  the applications; never trimmed
``P dead``                             stream  the dead letters; never trimmed
``P app:{application_id}``             hash    an application's status; —
``P state:{state}``                    zset    application ids by when they entered it; —
``P session:{session_id}``             set     the applications of a session; —
=====================================  ======  ==============================================

``P`` is the intake's prefix, ``mdg:intake:`` by default and configurable
(``Intake(prefix=...)``): :class:`IntakeKeys`. Hash fields and member formats are documented by
the owners. The scripts name keys they compute themselves, which is fine on a single Redis or a
Sentinel pair, not on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

_SESSION: Final = "mdg:session:"
_TERMINAL_SESSION: Final = "mdg:terminal_session:"
_QUEUE: Final = "mdg:q:"
_SPECIALIST: Final = "mdg:specialist:"
_AVAILABLE: Final = "mdg:avail:"
_SKILL_MEMBERS: Final = "mdg:skill_members:"
_DEADLINES: Final = "mdg:deadlines"
_HANDLE_TIMES: Final = "mdg:handle:"
_ACCOUNT: Final = "mdg:account:"
_PRESENCE: Final = "mdg:presence"

INTAKE_PREFIX: Final = "mdg:intake:"

# -- sessions and routing ----------------------------------------------------------------------


def session(session_id: str) -> str:
    return _SESSION + session_id


def terminal_session(terminal_id: str) -> str:
    """The terminal's current session id."""
    return _TERMINAL_SESSION + terminal_id


def queue(name: str) -> str:
    """The waiting sessions of a queue: a skill, or ``@user`` for a named specialist."""
    return _QUEUE + name


def specialist(user: str) -> str:
    return _SPECIALIST + user


def available(skill: str) -> str:
    """The specialists available for a skill, by available-since."""
    return _AVAILABLE + skill


def skill_members(skill: str) -> str:
    return _SKILL_MEMBERS + skill


def deadlines() -> str:
    return _DEADLINES


def handle_times(skill: str) -> str:
    return _HANDLE_TIMES + skill


def ticket_counter(branch_id: str, day: str) -> str:
    """The counter behind a branch's ticket numbers on ``day`` (``yyyymmdd``)."""
    return f"mdg:ticketno:{branch_id}:{day}"


def day_index(day: str) -> str:
    """The sessions created on ``day`` (``yyyymmdd``, Asia/Tokyo)."""
    return f"mdg:day:{day}"


ROUTING_LUA: Final[Mapping[str, str]] = {
    "session": _SESSION,
    "terminal_session": _TERMINAL_SESSION,
    "queue": _QUEUE,
    "specialist": _SPECIALIST,
    "available": _AVAILABLE,
    "skill_members": _SKILL_MEMBERS,
    "deadlines": _DEADLINES,
    "handle_times": _HANDLE_TIMES,
    "account": _ACCOUNT,
    "presence": _PRESENCE,
}
"""What the routing scripts see as ``K``: a prefix (``K.session .. sid``) or, for
``deadlines`` and ``presence``, the whole key. The ticket counter's key is passed in."""

# -- terminals ---------------------------------------------------------------------------------


def terminal(terminal_id: str) -> str:
    return f"mdg:terminal:{terminal_id}"


def terminal_token(token_digest: str) -> str:
    """The terminal a device token (by its SHA-256, hex) belongs to."""
    return f"mdg:terminal_token:{token_digest}"


def branch_terminals(branch_id: str) -> str:
    return f"mdg:branch_terminals:{branch_id}"


def enroll_code(code_digest: str) -> str:
    """A one-time enrollment code, by the SHA-256 (hex) of its canonical form."""
    return f"mdg:enroll_code:{code_digest}"


def enroll_attempts(address: str) -> str:
    return f"mdg:enroll_attempts:{address}"


# -- staff accounts ----------------------------------------------------------------------------


def account(username: str) -> str:
    return _ACCOUNT + username


def accounts_pattern() -> str:
    """A SCAN pattern matching every account (and, mind, anything else under the prefix)."""
    return _ACCOUNT + "*"


def username_of(account_key: str) -> str:
    """The username in an account's key; "" for a key that is not an account's."""
    return account_key[len(_ACCOUNT) :] if account_key.startswith(_ACCOUNT) else ""


def login(token: str) -> str:
    return f"mdg:login:{token}"


def logins_of(username: str) -> str:
    return f"mdg:logins_of:{username}"


# -- presence and delivery ---------------------------------------------------------------------


def presence() -> str:
    """Connected peers (``terminal:{id}``, ``staff:{user}``) by when they were last seen."""
    return _PRESENCE


def peer_channel(role: str, peer_id: str) -> str:
    """The pub/sub channel of a peer (``role`` ``terminal`` or ``staff``), wherever it is
    connected; ``peer_id`` may be a PUBSUB CHANNELS pattern."""
    return f"mdg:to:{role}:{peer_id}"


def hub_channel(hub_id: str) -> str:
    """The control channel of one hub process."""
    return f"mdg:hub:{hub_id}"


# -- personal data, forms, documents -----------------------------------------------------------


def personal(session_id: str) -> str:
    return f"mdg:personal:{session_id}"


def draft(session_id: str) -> str:
    return f"mdg:draft:{session_id}"


def audit_stream() -> str:
    return "mdg:audit"


def document(document_id: str) -> str:
    return f"mdg:doc:{document_id}"


def session_documents(session_id: str) -> str:
    return f"mdg:session_docs:{session_id}"


def document_expiry() -> str:
    return "mdg:doc_expiry"


def documents_lock(session_id: str) -> str:
    """Held briefly while a session's documents change."""
    return f"mdg:lock:docs:{session_id}"


def document_retention_lock() -> str:
    """Held by the hub that deletes expired documents this minute."""
    return "mdg:lock:doc_retention"


# -- the central intake ------------------------------------------------------------------------

INTAKE_LUA: Final[Mapping[str, str]] = {
    "stream": "stream",
    "dead": "dead",
    "application": "app:",
    "state": "state:",
    "session": "session:",
}
"""What the intake's scripts see as ``K``: the part after the prefix ``P`` (an argument), as in
``P .. K.application .. id``."""


@dataclass(frozen=True)
class IntakeKeys:
    """The intake's keys under its prefix (``mdg:intake:`` unless configured otherwise)."""

    prefix: str = INTAKE_PREFIX

    def stream(self) -> str:
        """The applications: ``application_id``, ``payload``."""
        return self.prefix + INTAKE_LUA["stream"]

    def dead(self) -> str:
        """The dead letters."""
        return self.prefix + INTAKE_LUA["dead"]

    def application(self, application_id: str) -> str:
        return self.prefix + INTAKE_LUA["application"] + application_id

    def state(self, state: str) -> str:
        return self.prefix + INTAKE_LUA["state"] + state

    def session(self, session_id: str) -> str:
        return self.prefix + INTAKE_LUA["session"] + session_id
