-- ARGV: user, now, head_rank, timeout, depth
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
    redis.call('ZADD', K.queue .. f[5], tonumber(redis.call('HGET', k, 'rank')), sid)
    redis.call('ZREM', K.deadlines, 'offer:' .. sid .. ':' .. u)
    out[3] = 'unoffered'
  elseif f[4] == u then
    redis.call('HSET', k, 'invited', '')
    redis.call('ZREM', K.deadlines, 'invite:' .. sid .. ':' .. u)
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
      redis.call('ZADD', K.queue .. f[5], tonumber(ARGV[3]), sid)
      out[3] = 'requeued'
    end
  elseif f[1] == 'wrap_up' and f[2] == u then
    transition(sid, 'finish', now)
    redis.call('ZREM', K.deadlines, 'wrapup:' .. sid)
    out[3] = 'finished'
  end
end
set_spec(u, 'offline', now, '')
if sid and sid ~= '' then append(out, offer_ticket(sid, now, timeout, depth)) end
return out
