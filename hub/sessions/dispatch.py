"""Routing and session state in Redis, applied atomically by Lua scripts.

Several hub processes share one Redis. Every operation that reads a queue or a specialist and
changes it is one Lua script, so no two hubs can offer one session twice or give one specialist
two sessions. The rules are those of :mod:`hub.sessions.router` (whose
:class:`~hub.sessions.router.Model` is the
specification, checked against these scripts by a differential test), and every state change goes
through the transition table of :mod:`hub.sessions.lifecycle`, rendered into the scripts.

Keys (besides those in :mod:`hub.sessions.store`):

====================================  ===========================================================
``mdg:q:{queue}``                     zset of waiting session ids by rank; queue = skill or @user
``mdg:specialist:{user}``             hash: state, since, session_id, skills, languages,
                                      hearing_support (JSON lists, "1"/"0")
``mdg:avail:{skill}``                 zset of available specialists by available-since
``mdg:deadlines``                     zset of ``offer:{sid}:{user}``, ``invite:{sid}:{user}``,
                                      ``wrapup:{sid}`` by due time
``mdg:handle:{skill}``                list of the last 50 handling times, seconds
``mdg:ticketno:{branch}:{yyyymmdd}``  counter behind the human ticket numbers
``mdg:day:{yyyymmdd}``                zset of the session ids created that day (Asia/Tokyo), by
                                      creation time; the supervisor's figures read it instead of
                                      scanning the keyspace. Kept :data:`DAY_INDEX_TTL_S`.
====================================  ===========================================================

Session hash fields used here: state, history, ``{state}_at``, queue, rank, skill, priority,
needs_language, needs_hearing ("1"/"0"), declined (JSON {user: until}), specialist (offered to or
leading), others (comma-separated), invited, end_reason, transferred_from, terminal_id, ticket.

The scripts name keys they compute themselves, which is fine on a single Redis or a Sentinel
pair, not on Redis Cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import redis.asyncio as aioredis
from aiohttp import web

from hub.sessions.lifecycle import EndReason, lua_table
from hub.sessions.router import Rules, Specialist

JST: Final = timezone(timedelta(hours=9), "JST")
DAY_INDEX_TTL_S: Final = 8 * 86400
"""How long a day's session index is kept: a week of daily reports, and a day's grace."""


def day_of(now: float) -> str:
    """The day (Asia/Tokyo) a time falls on, as ``yyyymmdd``."""
    return datetime.fromtimestamp(now, JST).strftime("%Y%m%d")


def day_index_key(day: str) -> str:
    return f"mdg:day:{day}"


_PRELUDE = """
local T = %(table)s

local function skey(sid) return 'mdg:session:' .. sid end
local function ukey(u) return 'mdg:specialist:' .. u end
local function list_of(s)
  if not s or s == '' or s == '[]' then return {} end
  return cjson.decode(s)
end
local function split(s)
  local out = {}
  if s and s ~= '' then
    for part in string.gmatch(s, '[^,]+') do out[#out + 1] = part end
  end
  return out
end

local function transition(sid, event, now)
  local k = skey(sid)
  local state = redis.call('HGET', k, 'state')
  if not state then return nil end
  local target = T[state .. ':' .. event]
  if not target then return nil end
  local h = cjson.decode(redis.call('HGET', k, 'history'))
  -- Hub processes read their clocks before their scripts run, so a later step can carry an
  -- earlier time by a few milliseconds: keep each session's history in order.
  if #h > 0 and now < h[#h][2] then now = h[#h][2] end
  h[#h + 1] = {target, now}
  redis.call('HSET', k, 'state', target, target .. '_at', string.format('%%.6f', now),
             'history', cjson.encode(h))
  return target
end

local function set_spec(u, state, now, sid)
  local k = ukey(u)
  redis.call('HSET', k, 'state', state, 'since', string.format('%%.6f', now),
             'session_id', sid or '')
  redis.call('HINCRBY', k, 'version', 1)
  for _, skill in ipairs(list_of(redis.call('HGET', k, 'skills'))) do
    if state == 'available' then
      redis.call('ZADD', 'mdg:avail:' .. skill, now, u)
    else
      redis.call('ZREM', 'mdg:avail:' .. skill, u)
    end
  end
end

local function eligible(sid, u, now)
  local f = redis.call('HMGET', skey(sid), 'needs_language', 'needs_hearing', 'declined', 'state')
  if f[4] ~= 'waiting' then return false end
  if f[1] and f[1] ~= '' then
    local ok = false
    for _, lang in ipairs(list_of(redis.call('HGET', ukey(u), 'languages'))) do
      if lang == f[1] then ok = true end
    end
    if not ok then return false end
  end
  if f[2] == '1' and redis.call('HGET', ukey(u), 'hearing_support') ~= '1' then return false end
  if f[3] and f[3] ~= '' and f[3] ~= '{}' then
    local until_ = cjson.decode(f[3])[u]
    if until_ and tonumber(until_) > now then return false end
  end
  return true
end

local function offer_best_for(u, now, timeout, depth)
  if redis.call('HGET', ukey(u), 'state') ~= 'available' then return {} end
  local queues = {'@' .. u}
  local skills = list_of(redis.call('HGET', ukey(u), 'skills'))
  table.sort(skills)
  for _, skill in ipairs(skills) do queues[#queues + 1] = skill end
  local best, best_rank = nil, nil
  for _, q in ipairs(queues) do
    local items = redis.call('ZRANGE', 'mdg:q:' .. q, 0, depth - 1, 'WITHSCORES')
    for i = 1, #items, 2 do
      local sid, rank = items[i], tonumber(items[i + 1])
      if best_rank and (rank > best_rank or (rank == best_rank and sid >= best)) then break end
      if eligible(sid, u, now) then best, best_rank = sid, rank; break end
    end
  end
  if not best then return {} end
  local q = redis.call('HGET', skey(best), 'queue')
  redis.call('ZREM', 'mdg:q:' .. q, best)
  transition(best, 'offer', now)
  redis.call('HSET', skey(best), 'specialist', u)
  set_spec(u, 'ringing', now, best)
  redis.call('ZADD', 'mdg:deadlines', now + timeout, 'offer:' .. best .. ':' .. u)
  return {best, u}
end

local function offer_ticket(sid, now, timeout, depth)
  local f = redis.call('HMGET', skey(sid), 'state', 'queue')
  if f[1] ~= 'waiting' then return {} end
  local candidates
  if string.sub(f[2], 1, 1) == '@' then
    candidates = {string.sub(f[2], 2)}
  else
    candidates = redis.call('ZRANGE', 'mdg:avail:' .. f[2], 0, depth - 1)
  end
  for _, u in ipairs(candidates) do
    if redis.call('HGET', ukey(u), 'state') == 'available' and eligible(sid, u, now) then
      return offer_best_for(u, now, timeout, depth)
    end
  end
  return {}
end

local function release(u, now, timeout, depth)
  set_spec(u, 'available', now, '')
  return offer_best_for(u, now, timeout, depth)
end

local function append(out, more)
  for _, v in ipairs(more) do out[#out + 1] = v end
  return out
end
"""

# Each script: KEYS unused; ARGV documented per script. Offers made are returned as a flat
# list [sid, user, sid, user, ...] after a status word.
_SCRIPTS: dict[str, str] = {
    # ARGV: sid, terminal_id, branch_id, purpose, skill, priority, rank, needs_language,
    #       needs_hearing, now, day, prefix, timeout, depth
    "create": """
local sid, now = ARGV[1], tonumber(ARGV[10])
-- One resident at a time per terminal: a second start (a retry through another hub process)
-- gets the session the terminal already has.
local current = redis.call('GET', 'mdg:terminal_session:' .. ARGV[2])
if current then
  local st = redis.call('HGET', skey(current), 'state')
  if st and st ~= 'ended' and st ~= 'wrap_up' then return {'existing', current} end
end
local counter = 'mdg:ticketno:' .. ARGV[3] .. ':' .. ARGV[11]
local n = redis.call('INCR', counter)
redis.call('EXPIRE', counter, 172800)
local ticket = ARGV[12] .. '-' .. string.format('%03d', n)
redis.call('HSET', skey(sid), 'state', 'waiting', 'terminal_id', ARGV[2], 'branch_id', ARGV[3],
  'purpose', ARGV[4], 'skill', ARGV[5], 'priority', ARGV[6], 'rank', ARGV[7], 'queue', ARGV[5],
  'needs_language', ARGV[8], 'needs_hearing', ARGV[9], 'declined', '{}', 'specialist', '',
  'others', '', 'invited', '', 'end_reason', '', 'transferred_from', '', 'ticket', ticket,
  'waiting_at', string.format('%.6f', now), 'history', cjson.encode({{'waiting', now}}))
redis.call('ZADD', 'mdg:q:' .. ARGV[5], tonumber(ARGV[7]), sid)
redis.call('SET', 'mdg:terminal_session:' .. ARGV[2], sid)
return append({ticket}, offer_ticket(sid, now, tonumber(ARGV[13]), tonumber(ARGV[14])))
""",
    # ARGV: user, state (available|away|offline), now, timeout, depth
    "set_state": """
local u, want, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cur = redis.call('HGET', ukey(u), 'state')
if cur == 'ringing' or cur == 'busy' or cur == 'wrap_up' then return {'refused', cur} end
set_spec(u, want, now, '')
if want ~= 'available' then return {'ok'} end
return append({'ok'}, offer_best_for(u, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
""",
    # ARGV: user, now, timeout, depth
    "offer_best_for": """
return append({'ok'}, offer_best_for(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
                                     tonumber(ARGV[4])))
""",
    # ARGV: sid, now, timeout, depth
    "offer_ticket": """
return append({'ok'}, offer_ticket(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]),
                                   tonumber(ARGV[4])))
""",
    # ARGV: sid, user, now
    "accept": """
local sid, u, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', skey(sid), 'state', 'specialist', 'invited', 'others')
if f[1] == 'offered' and f[2] == u then
  transition(sid, 'accept', now)
  set_spec(u, 'busy', now, sid)
  redis.call('ZREM', 'mdg:deadlines', 'offer:' .. sid .. ':' .. u)
  return {'accepted'}
end
if f[3] == u and (f[1] == 'connected' or f[1] == 'on_hold') then
  local others = split(f[4])
  others[#others + 1] = u
  redis.call('HSET', skey(sid), 'others', table.concat(others, ','), 'invited', '')
  set_spec(u, 'busy', now, sid)
  redis.call('ZREM', 'mdg:deadlines', 'invite:' .. sid .. ':' .. u)
  return {'joined'}
end
return {'refused', f[1] or ''}
""",
    # ARGV: sid, user, now, event (decline|offer_timeout), cooldown, next state, timeout, depth
    "decline": """
local sid, u, now, event = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local timeout, depth = tonumber(ARGV[7]), tonumber(ARGV[8])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'invited', 'queue', 'rank', 'declined')
local status
if f[1] == 'offered' and f[2] == u then
  transition(sid, event, now)
  local declined = {}
  if f[6] and f[6] ~= '' and f[6] ~= '{}' then declined = cjson.decode(f[6]) end
  declined[u] = now + tonumber(ARGV[5])
  redis.call('HSET', k, 'declined', cjson.encode(declined), 'specialist', '')
  redis.call('ZADD', 'mdg:q:' .. f[4], tonumber(f[5]), sid)
  redis.call('ZREM', 'mdg:deadlines', 'offer:' .. sid .. ':' .. u)
  status = 'requeued'
elseif f[3] == u then
  redis.call('HSET', k, 'invited', '')
  redis.call('ZREM', 'mdg:deadlines', 'invite:' .. sid .. ':' .. u)
  status = 'invite_declined'
else
  return {'refused', f[1] or ''}
end
set_spec(u, ARGV[6], now, '')
local out = append({status}, offer_ticket(sid, now, timeout, depth))
return append(out, offer_best_for(u, now, timeout, depth))
""",
    # ARGV: sid, user, on ('1'|'0'), now
    "hold": """
local sid, u, now = ARGV[1], ARGV[2], tonumber(ARGV[4])
if redis.call('HGET', skey(sid), 'specialist') ~= u then return {'refused', 'not_yours'} end
local target = transition(sid, ARGV[3] == '1' and 'hold' or 'resume', now)
if not target then return {'refused', redis.call('HGET', skey(sid), 'state') or ''} end
return {'ok', target}
""",
    # ARGV: sid, user, to_queue, head_rank, now, timeout, depth, cooldown
    "transfer": """
local sid, u, q, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local timeout, depth = tonumber(ARGV[6]), tonumber(ARGV[7])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'others', 'invited')
if f[2] ~= u or not (f[1] == 'connected' or f[1] == 'on_hold') then
  return {'refused', f[1] or ''}
end
transition(sid, 'transfer', now)
-- The one who transferred it does not get it straight back.
redis.call('HSET', k, 'queue', q, 'rank', ARGV[4], 'specialist', '', 'others', '', 'invited', '',
  'declined', cjson.encode({[u] = now + tonumber(ARGV[8])}), 'transferred_from', u)
redis.call('ZADD', 'mdg:q:' .. q, tonumber(ARGV[4]), sid)
local released = {u}
for _, o in ipairs(split(f[3])) do released[#released + 1] = o end
if f[4] and f[4] ~= '' then
  released[#released + 1] = f[4]
  redis.call('ZREM', 'mdg:deadlines', 'invite:' .. sid .. ':' .. f[4])
end
for _, p in ipairs(released) do set_spec(p, 'available', now, '') end
local out = append({'ok', table.concat(released, ',')}, offer_ticket(sid, now, timeout, depth))
for _, p in ipairs(released) do append(out, offer_best_for(p, now, timeout, depth)) end
return out
""",
    # ARGV: sid, user, target, now, timeout
    "invite": """
local sid, u, target, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local f = redis.call('HMGET', skey(sid), 'state', 'specialist', 'others', 'invited')
if f[2] ~= u or not (f[1] == 'connected' or f[1] == 'on_hold') then
  return {'refused', 'not_yours'}
end
if f[4] and f[4] ~= '' then return {'refused', 'already_inviting'} end
if target == u or redis.call('HGET', ukey(target), 'state') ~= 'available' then
  return {'refused', 'not_available'}
end
for _, o in ipairs(split(f[3])) do if o == target then return {'refused', 'already_in'} end end
redis.call('HSET', skey(sid), 'invited', target)
set_spec(target, 'ringing', now, sid)
redis.call('ZADD', 'mdg:deadlines', now + tonumber(ARGV[5]), 'invite:' .. sid .. ':' .. target)
return {'ok'}
""",
    # ARGV: sid, user, now, timeout, depth
    "leave": """
local sid, u, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'others')
if not (f[1] == 'connected' or f[1] == 'on_hold') then return {'refused', f[1] or ''} end
local others, kept, found = split(f[3]), {}, false
for _, o in ipairs(others) do
  if o == u then found = true else kept[#kept + 1] = o end
end
local primary = f[2]
if not found then
  if f[2] ~= u or #others == 0 then return {'refused', 'cannot_leave'} end
  primary = table.remove(kept, 1)
end
redis.call('HSET', k, 'specialist', primary, 'others', table.concat(kept, ','))
return append({'ok', primary, table.concat(kept, ',')},
              release(u, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
""",
    # ARGV: sid, now, reason, wrap_up_s, timeout, depth
    "hang_up": """
local sid, now = ARGV[1], tonumber(ARGV[2])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'others', 'invited')
if not transition(sid, 'hang_up', now) then return {'refused', f[1] or ''} end
redis.call('HSET', k, 'end_reason', ARGV[3], 'others', '', 'invited', '')
set_spec(f[2], 'wrap_up', now, sid)
redis.call('ZADD', 'mdg:deadlines', now + tonumber(ARGV[4]), 'wrapup:' .. sid)
local released = split(f[3])
if f[4] and f[4] ~= '' then
  released[#released + 1] = f[4]
  redis.call('ZREM', 'mdg:deadlines', 'invite:' .. sid .. ':' .. f[4])
end
local out = {'ok', f[2], table.concat(released, ',')}
for _, p in ipairs(released) do append(out, release(p, now, tonumber(ARGV[5]),
                                                    tonumber(ARGV[6]))) end
return out
""",
    # ARGV: sid, now, timeout, depth
    "finish": """
local sid, now = ARGV[1], tonumber(ARGV[2])
local k = skey(sid)
local f = redis.call('HMGET', k, 'specialist', 'skill', 'connected_at')
if not transition(sid, 'finish', now) then return {'refused'} end
redis.call('ZREM', 'mdg:deadlines', 'wrapup:' .. sid)
if f[3] then
  redis.call('LPUSH', 'mdg:handle:' .. f[2], string.format('%.1f', now - tonumber(f[3])))
  redis.call('LTRIM', 'mdg:handle:' .. f[2], 0, 49)
end
return append({'ok', f[1]}, release(f[1], now, tonumber(ARGV[3]), tonumber(ARGV[4])))
""",
    # ARGV: sid, now, reason, timeout, depth
    "end_waiting": """
local sid, now = ARGV[1], tonumber(ARGV[2])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'queue')
if not transition(sid, 'end', now) then return {'refused', f[1] or ''} end
redis.call('HSET', k, 'end_reason', ARGV[3])
redis.call('ZREM', 'mdg:q:' .. f[3], sid)
if f[1] == 'offered' and f[2] ~= '' then
  redis.call('ZREM', 'mdg:deadlines', 'offer:' .. sid .. ':' .. f[2])
  return append({'ok', f[2]}, release(f[2], now, tonumber(ARGV[4]), tonumber(ARGV[5])))
end
return {'ok', ''}
""",
    # ARGV: user, now, head_rank, timeout, depth
    "lose_specialist": """
local u, now = ARGV[1], tonumber(ARGV[2])
local timeout, depth = tonumber(ARGV[4]), tonumber(ARGV[5])
local sid = redis.call('HGET', ukey(u), 'session_id')
local out = {'ok', sid or '', 'none'}
if sid and sid ~= '' then
  local k = skey(sid)
  local f = redis.call('HMGET', k, 'state', 'specialist', 'others', 'invited', 'queue')
  if f[1] == 'offered' and f[2] == u then
    transition(sid, 'requeue', now)
    redis.call('HSET', k, 'specialist', '')
    redis.call('ZADD', 'mdg:q:' .. f[5], tonumber(redis.call('HGET', k, 'rank')), sid)
    redis.call('ZREM', 'mdg:deadlines', 'offer:' .. sid .. ':' .. u)
    out[3] = 'unoffered'
  elseif f[4] == u then
    redis.call('HSET', k, 'invited', '')
    redis.call('ZREM', 'mdg:deadlines', 'invite:' .. sid .. ':' .. u)
    out[3] = 'uninvited'
  elseif (f[1] == 'connected' or f[1] == 'on_hold') then
    local others, kept, found = split(f[3]), {}, false
    for _, o in ipairs(others) do
      if o == u then found = true else kept[#kept + 1] = o end
    end
    if found then
      redis.call('HSET', k, 'others', table.concat(kept, ','))
      out[3] = 'left'
    elseif f[2] == u and #kept > 0 then
      local primary = table.remove(kept, 1)
      redis.call('HSET', k, 'specialist', primary, 'others', table.concat(kept, ','))
      out[3] = 'handover'
    elseif f[2] == u then
      transition(sid, 'requeue', now)
      redis.call('HSET', k, 'specialist', '', 'rank', ARGV[3])
      redis.call('ZADD', 'mdg:q:' .. f[5], tonumber(ARGV[3]), sid)
      out[3] = 'requeued'
    end
  elseif f[1] == 'wrap_up' and f[2] == u then
    transition(sid, 'finish', now)
    redis.call('ZREM', 'mdg:deadlines', 'wrapup:' .. sid)
    out[3] = 'finished'
  end
end
set_spec(u, 'offline', now, '')
if sid and sid ~= '' then append(out, offer_ticket(sid, now, timeout, depth)) end
return out
""",
    # A supervisor moves a waiting ticket to another skill's queue: same rank (its place by
    # arrival and priority), same ticket number; refused once it is offered, connected or over.
    # ARGV: sid, to_queue, now, timeout, depth
    "move_waiting": """
local sid, q, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'queue', 'rank')
if not f[1] then return {'refused', 'gone'} end
if f[1] ~= 'waiting' then return {'refused', f[1]} end
if f[2] == q then return {'refused', 'same_queue'} end
redis.call('ZREM', 'mdg:q:' .. f[2], sid)
redis.call('ZADD', 'mdg:q:' .. q, f[3], sid)
redis.call('HSET', k, 'queue', q, 'skill', q, 'moved_from', f[2])
return append({'ok', f[2]}, offer_ticket(sid, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
""",
    # A supervisor changes a specialist's skills: the account, the routing profile, the skill
    # members and, when available, the availability sets (keeping their available-since).
    # ARGV: user, skills (JSON list, sorted), now, timeout, depth
    "set_skills": """
local u, now = ARGV[1], tonumber(ARGV[3])
local account = 'mdg:account:' .. u
if redis.call('HGET', account, 'role') ~= 'specialist' then return {'refused', 'not_specialist'} end
local k = ukey(u)
local old = list_of(redis.call('HGET', k, 'skills'))
for _, skill in ipairs(list_of(redis.call('HGET', account, 'skills'))) do old[#old + 1] = skill end
for _, skill in ipairs(old) do
  redis.call('SREM', 'mdg:skill_members:' .. skill, u)
  redis.call('ZREM', 'mdg:avail:' .. skill, u)
end
redis.call('HSET', account, 'skills', ARGV[2])
local skills = list_of(ARGV[2])
for _, skill in ipairs(skills) do redis.call('SADD', 'mdg:skill_members:' .. skill, u) end
if redis.call('EXISTS', k) == 0 then return {'ok'} end
redis.call('HSET', k, 'skills', ARGV[2])
if redis.call('HGET', k, 'state') ~= 'available' then return {'ok'} end
local since = tonumber(redis.call('HGET', k, 'since')) or now
for _, skill in ipairs(skills) do redis.call('ZADD', 'mdg:avail:' .. skill, since, u) end
return append({'ok'}, offer_best_for(u, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
""",
    # ARGV: now, limit
    "claim_due": """
local due = redis.call('ZRANGEBYSCORE', 'mdg:deadlines', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(due) do redis.call('ZREM', 'mdg:deadlines', m) end
return due
""",
    # ARGV: cutoff, limit
    "claim_absent": """
local gone = redis.call('ZRANGEBYSCORE', 'mdg:presence', '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(gone) do redis.call('ZREM', 'mdg:presence', m) end
return gone
""",
}


@dataclass(frozen=True)
class Outcome:
    """What a script did: a status word, details, and the offers it made (session, user)."""

    status: str
    details: tuple[str, ...]
    offers: tuple[tuple[str, str], ...]

    @property
    def ok(self) -> bool:
        return self.status != "refused"


def _decode(reply: list[Any], detail_count: int) -> Outcome:
    words = [w.decode() if isinstance(w, bytes) else str(w) for w in reply]
    status, details, rest = words[0], tuple(words[1 : 1 + detail_count]), words[1 + detail_count :]
    if status == "refused":
        return Outcome(status, tuple(words[1:2]), ())
    offers = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest) - 1, 2))
    return Outcome(status, details, offers)


class Dispatch:
    """The Redis scripts, with Python signatures. Each method is one atomic step."""

    def __init__(self, redis: aioredis.Redis, rules: Rules) -> None:
        self.redis = redis
        self.rules = rules
        prelude = _PRELUDE % {"table": lua_table()}
        self._scripts = {
            name: redis.register_script(prelude + body) for name, body in _SCRIPTS.items()
        }

    def _common(self) -> list[Any]:
        return [self.rules.offer_timeout_s, self.rules.scan_depth]

    async def _run(self, name: str, *args: Any) -> list[Any]:
        reply = await self._scripts[name](keys=[], args=[str(a) for a in args])
        return list(reply)

    async def register(self, specialist: Specialist, now: float) -> None:
        """Store who the specialist is (from their account); a new one starts ``away``."""
        import json

        key = f"mdg:specialist:{specialist.id}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                key,
                mapping={
                    "skills": json.dumps(sorted(specialist.skills)),
                    "languages": json.dumps(sorted(specialist.languages)),
                    "hearing_support": "1" if specialist.hearing_support else "0",
                },
            )
            pipe.hsetnx(key, "state", "away")
            pipe.hsetnx(key, "since", f"{now:.6f}")
            pipe.hsetnx(key, "session_id", "")
            for skill in specialist.skills:
                pipe.sadd(f"mdg:skill_members:{skill}", specialist.id)
            await pipe.execute()

    async def create(
        self,
        session_id: str,
        *,
        terminal_id: str,
        branch_id: str,
        purpose: str,
        skill: str,
        priority: str,
        now: float,
        needs_language: str | None = None,
        needs_hearing: bool = False,
    ) -> tuple[str, tuple[tuple[str, str], ...]]:
        """Queue a new session; returns its ticket number and any offer made at once. When the
        terminal already has a live session, nothing is created and the answer is
        ``("existing", ((that session id, ""),))``."""
        day = time.strftime("%Y%m%d", time.localtime(now))
        prefix = self.rules.ticket_prefix.get(skill, "Z")
        reply = await self._run(
            "create",
            session_id,
            terminal_id,
            branch_id,
            purpose,
            skill,
            priority,
            repr(self.rules.rank(now, priority)),
            needs_language or "",
            "1" if needs_hearing else "0",
            repr(now),
            day,
            prefix,
            *self._common(),
        )
        if reply and str(reply[0]) == "existing":
            return "existing", ((str(reply[1]), ""),)
        index = day_index_key(day_of(now))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(index, {session_id: now})
            pipe.expire(index, DAY_INDEX_TTL_S)
            await pipe.execute()
        outcome = _decode(reply, 0)
        return outcome.status, outcome.offers

    async def set_state(self, user: str, state: str, now: float) -> Outcome:
        return _decode(await self._run("set_state", user, state, repr(now), *self._common()), 0)

    async def offer_best_for(self, user: str, now: float) -> Outcome:
        return _decode(await self._run("offer_best_for", user, repr(now), *self._common()), 0)

    async def offer_ticket(self, session_id: str, now: float) -> Outcome:
        return _decode(await self._run("offer_ticket", session_id, repr(now), *self._common()), 0)

    async def accept(self, session_id: str, user: str, now: float) -> Outcome:
        return _decode(await self._run("accept", session_id, user, repr(now)), 0)

    async def decline(
        self, session_id: str, user: str, now: float, *, timed_out: bool = False
    ) -> Outcome:
        event, after = ("offer_timeout", "away") if timed_out else ("decline", "available")
        reply = await self._run(
            "decline",
            session_id,
            user,
            repr(now),
            event,
            self.rules.decline_cooldown_s,
            after,
            *self._common(),
        )
        return _decode(reply, 0)

    async def hold(self, session_id: str, user: str, on: bool, now: float) -> Outcome:
        return _decode(await self._run("hold", session_id, user, "1" if on else "0", repr(now)), 1)

    async def transfer(self, session_id: str, user: str, to_queue: str, now: float) -> Outcome:
        reply = await self._run(
            "transfer",
            session_id,
            user,
            to_queue,
            repr(self.rules.head_rank(now)),
            repr(now),
            *self._common(),
            self.rules.decline_cooldown_s,
        )
        return _decode(reply, 1)

    async def invite(self, session_id: str, user: str, target: str, now: float) -> Outcome:
        reply = await self._run(
            "invite", session_id, user, target, repr(now), self.rules.offer_timeout_s
        )
        return _decode(reply, 0)

    async def leave(self, session_id: str, user: str, now: float) -> Outcome:
        return _decode(await self._run("leave", session_id, user, repr(now), *self._common()), 2)

    async def hang_up(self, session_id: str, reason: EndReason, now: float) -> Outcome:
        reply = await self._run(
            "hang_up", session_id, repr(now), reason.value, self.rules.wrap_up_s, *self._common()
        )
        return _decode(reply, 2)

    async def finish(self, session_id: str, now: float) -> Outcome:
        return _decode(await self._run("finish", session_id, repr(now), *self._common()), 1)

    async def end_waiting(self, session_id: str, reason: EndReason, now: float) -> Outcome:
        reply = await self._run("end_waiting", session_id, repr(now), reason.value, *self._common())
        return _decode(reply, 1)

    async def lose_specialist(self, user: str, now: float) -> Outcome:
        reply = await self._run(
            "lose_specialist", user, repr(now), repr(self.rules.head_rank(now)), *self._common()
        )
        return _decode(reply, 2)

    async def claim_due(self, now: float, limit: int = 100) -> list[str]:
        return [str(m) for m in await self._run("claim_due", repr(now), limit)]

    async def claim_absent(self, cutoff: float, limit: int = 100) -> list[str]:
        return [str(m) for m in await self._run("claim_absent", repr(cutoff), limit)]

    async def move_waiting(self, session_id: str, to_queue: str, now: float) -> Outcome:
        """Move a waiting session to another queue, keeping its rank and ticket. Details: the
        queue it left; refused with its state (or ``gone``, ``same_queue``)."""
        reply = await self._run("move_waiting", session_id, to_queue, repr(now), *self._common())
        return _decode(reply, 1)

    async def set_skills(self, user: str, skills: frozenset[str], now: float) -> Outcome:
        """Set a specialist's skills in their account and in routing at once; refused
        (``not_specialist``) for an account that is not a specialist's."""
        import json

        reply = await self._run(
            "set_skills", user, json.dumps(sorted(skills)), repr(now), *self._common()
        )
        return _decode(reply, 0)


DISPATCH: Final = web.AppKey("dispatch", Dispatch)
