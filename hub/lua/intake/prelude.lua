-- The intake scripts' shared helpers (hub.intake.queue). Every script gets the key prefix as
-- ARGV[1] and "now" as ARGV[2]; its own arguments follow, documented at its top.
--
-- Rendered by hub.lua before loading: K, the intake's key names after the prefix
-- (hub.redis_keys.INTAKE_LUA: P .. K.application .. id); T, the status transitions of
-- hub.intake.queue, {["state|event"]="next state", ...}.
local K = {}  -- rendered: keys
local T = {}  -- rendered: transitions
local P = ARGV[1]
local now = ARGV[2]
local function field_of(kv, name)
  for i = 1, #kv, 2 do if kv[i] == name then return kv[i + 1] end end
  return nil
end
-- Move an application along TRANSITIONS; returns the new state, or nil and the current one.
local function step(app, event, extra)
  local key = P .. K.application .. app
  local state = redis.call('HGET', key, 'state')
  if not state then return nil, 'missing' end
  local to = T[state .. '|' .. event]
  if not to then return nil, state end
  if to == state and event ~= 'claim' then return to, state end  -- a repeat: nothing changes
  if to ~= state then
    redis.call('ZREM', P .. K.state .. state, app)
    redis.call('ZADD', P .. K.state .. to, now, app)
  end
  local history = cjson.decode(redis.call('HGET', key, 'history') or '[]')
  table.insert(history, {to, tonumber(now)})
  redis.call('HSET', key, 'state', to, 'updated_at', now, 'history', cjson.encode(history))
  if extra and #extra > 0 then redis.call('HSET', key, unpack(extra)) end
  return to, state
end
