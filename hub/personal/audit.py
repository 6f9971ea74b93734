"""The audit trail: every access to a resident's personal data, as an append-only Redis Stream.

A record says who (user and role), what (``card.request``, ``card.read``, ``card.reveal``,
``document.view`` …), which session and terminal, when, and which fields — never the values. The
stream is never trimmed by the hub; operators archive it (see docs/operations.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from hub import redis_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditRecord:
    id: str
    at: float
    actor: str
    role: str
    action: str
    session_id: str
    terminal_id: str
    fields: tuple[str, ...]
    outcome: str

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "fields": list(self.fields)}


async def record(
    redis: aioredis.Redis,
    *,
    actor: str,
    role: str,
    action: str,
    session_id: str,
    terminal_id: str,
    fields: Iterable[str] = (),
    outcome: str = "ok",
    now: float | None = None,
) -> str:
    """Append one record; returns its stream id. Raises if Redis is down: an access that cannot
    be audited must not happen, so callers audit first and act after."""
    entry = {
        "at": f"{time.time() if now is None else now:.3f}",
        "actor": actor,
        "role": role,
        "action": action,
        "session_id": session_id,
        "terminal_id": terminal_id,
        "fields": ",".join(fields),
        "outcome": outcome,
    }
    entry_id = str(await redis.xadd(redis_keys.audit_stream(), entry))
    log.info(
        "audit %s: %s by %s (%s) session %s fields [%s] %s",
        entry_id,
        action,
        actor,
        role,
        session_id,
        entry["fields"],
        outcome,
    )
    return entry_id


def _decode(entry_id: str, raw: dict[str, str]) -> AuditRecord:
    return AuditRecord(
        id=entry_id,
        at=float(raw.get("at", "0")),
        actor=raw.get("actor", ""),
        role=raw.get("role", ""),
        action=raw.get("action", ""),
        session_id=raw.get("session_id", ""),
        terminal_id=raw.get("terminal_id", ""),
        fields=tuple(f for f in raw.get("fields", "").split(",") if f),
        outcome=raw.get("outcome", ""),
    )


async def records(
    redis: aioredis.Redis, *, session_id: str | None = None, limit: int = 1000
) -> list[AuditRecord]:
    """The newest ``limit`` records (of one session when given), oldest first."""
    out: list[AuditRecord] = []
    last = "+"
    while len(out) < limit:
        batch = await redis.xrevrange(redis_keys.audit_stream(), max=last, min="-", count=500)
        if not batch:
            break
        for entry_id, raw in batch:
            rec = _decode(str(entry_id), raw)
            if session_id is None or rec.session_id == session_id:
                out.append(rec)
        last = f"({batch[-1][0]}"
    out = out[:limit]
    out.reverse()
    return out
