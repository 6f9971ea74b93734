-- The routing scripts' shared helpers (hub.sessions.dispatch). Each script: KEYS unused; ARGV
-- documented at its top. Offers made are returned as a flat list [sid, user, sid, user, ...]
-- after a status word. Every state change goes through transition(), by the table T.
--
-- Rendered by hub.lua before loading: K, the key names of hub.redis_keys (ROUTING_LUA: a
-- prefix, or the whole key for deadlines and presence); T, the transition table of
-- hub.sessions.lifecycle, {["state:event"]="next state", ...}.
local K = {}  -- rendered: keys
local T = {}  -- rendered: transitions

local function skey(sid) return K.session .. sid end
local function ukey(u) return K.specialist .. u end
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
  redis.call('HSET', k, 'state', target, target .. '_at', string.format('%.6f', now),
             'history', cjson.encode(h))
  return target
end

local function set_spec(u, state, now, sid)
  local k = ukey(u)
  redis.call('HSET', k, 'state', state, 'since', string.format('%.6f', now),
             'session_id', sid or '')
  redis.call('HINCRBY', k, 'version', 1)
  for _, skill in ipairs(list_of(redis.call('HGET', k, 'skills'))) do
    if state == 'available' then
      redis.call('ZADD', K.available .. skill, now, u)
    else
      redis.call('ZREM', K.available .. skill, u)
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
    local items = redis.call('ZRANGE', K.queue .. q, 0, depth - 1, 'WITHSCORES')
    for i = 1, #items, 2 do
      local sid, rank = items[i], tonumber(items[i + 1])
      if best_rank and (rank > best_rank or (rank == best_rank and sid >= best)) then break end
      if eligible(sid, u, now) then best, best_rank = sid, rank; break end
    end
  end
  if not best then return {} end
  local q = redis.call('HGET', skey(best), 'queue')
  redis.call('ZREM', K.queue .. q, best)
  transition(best, 'offer', now)
  redis.call('HSET', skey(best), 'specialist', u)
  set_spec(u, 'ringing', now, best)
  redis.call('ZADD', K.deadlines, now + timeout, 'offer:' .. best .. ':' .. u)
  return {best, u}
end

local function offer_ticket(sid, now, timeout, depth)
  local f = redis.call('HMGET', skey(sid), 'state', 'queue')
  if f[1] ~= 'waiting' then return {} end
  local candidates
  if string.sub(f[2], 1, 1) == '@' then
    candidates = {string.sub(f[2], 2)}
  else
    candidates = redis.call('ZRANGE', K.available .. f[2], 0, depth - 1)
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
