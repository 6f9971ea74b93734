"""The hub's errors: one base, :class:`HubError`, for everything a request or a message can be
refused with.

Theory of operation. Code anywhere in the hub that refuses something raises a ``HubError`` (or
a subclass) carrying a stable machine word (``code``: ``no_such_session``, ``not_allowed``), the
HTTP status it means (``status``) and a sentence for people (``message``). It never builds a
response itself. Exactly two places turn these errors into what a peer sees:

* HTTP: the middleware of :mod:`hub.web` answers ``{"error": code, "message": message}`` (plus
  any ``extra`` fields, e.g. ``fields`` for a form's issues) with ``status`` and ``headers``.
* Signaling: :mod:`hub.realtime.endpoint` replies with an ``error`` frame (code, message, the
  type of the message refused); the status does not travel, the socket stays up.

A package whose errors reach a peer either derives its error from ``HubError`` (the intake,
the documents, the forms, enrollment, the PDF record) or translates its own at its boundary
(the vault's ``wrong_key``/``damaged`` become ``personal_data_unavailable``: a peer learns that
the data cannot be opened, not why). Errors that stop the hub before it serves anything
(:class:`hub.config.ConfigError`, the catalog's and the thresholds' file errors) are not
``HubError``s: no peer ever sees them.

The subclasses name the HTTP status family, so that a raise says what it means:
:class:`BadRequest` 400, :class:`Unauthenticated` 401, :class:`NotAllowed` 403,
:class:`NotFound` 404, :class:`Refused` 409 (understood, but not in the current state),
:class:`TooLarge` 413, :class:`Unprocessable` 422, :class:`Unavailable` 503 and
:class:`StoreUnavailable` (Redis is down). Any of them takes ``status=`` when a code has its own
(an enrollment code that is wrong is 403, too many attempts 429).

Pure: no aiohttp, no Redis; the router's reference model raises :class:`Refused` too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class HubError(Exception):
    """A request or message the hub refuses: ``code`` for machines, ``message`` for people,
    ``status`` for HTTP; ``extra`` fields and ``headers`` for the HTTP answer."""

    status_default: ClassVar[int] = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else self.status_default
        self.extra: Mapping[str, Any] = dict(extra or {})
        self.headers: Mapping[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the HTTP answer."""
        return {"error": self.code, "message": self.message, **self.extra}

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses have their own signatures; rebuild from the state, not from ``args``, so an
        # error raised in a worker process (the PDF record) crosses back intact.
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[HubError], message: str, state: dict[str, Any]) -> HubError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class BadRequest(HubError):
    """Malformed: not JSON, a field of the wrong type, an id that cannot be one."""

    status_default = 400


class Unauthenticated(HubError):
    """No login (or device token), or one that is gone."""

    status_default = 401

    def __init__(
        self,
        code: str = "unauthenticated",
        message: str = "please log in",
        *,
        status: int | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, status=status, extra=extra, headers=headers)


class NotAllowed(HubError):
    """Logged in, but this is not for their role (or not their session)."""

    status_default = 403


class NotFound(HubError):
    """No such thing — or one the caller may not know exists."""

    status_default = 404


class Refused(HubError):
    """Understood, and refused in the current state (a session not offered to you any more, a
    specialist who is busy)."""

    status_default = 409


class TooLarge(HubError):
    """A body or an image beyond its limit."""

    status_default = 413


class Unprocessable(HubError):
    """Well-formed, but its contents do not hold (a bundle with fields to correct)."""

    status_default = 422


class Unavailable(HubError):
    """The hub cannot serve this now; trying again later may work."""

    status_default = 503


class StoreUnavailable(Unavailable):
    """Redis does not answer (what a ``RedisError`` becomes for a peer)."""

    def __init__(self) -> None:
        super().__init__("store_unavailable", "the hub's store is unavailable; try again")
