-- ARGV: sid, user, now
local sid, u, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local f = redis.call('HMGET', skey(sid), 'state', 'specialist', 'invited', 'others')
if f[1] == 'offered' and f[2] == u then
  transition(sid, 'accept', now)
  set_spec(u, 'busy', now, sid)
  redis.call('ZREM', K.deadlines, 'offer:' .. sid .. ':' .. u)
  return {'accepted'}
end
if f[3] == u and (f[1] == 'connected' or f[1] == 'on_hold') then
  local others = split(f[4])
  others[#others + 1] = u
  redis.call('HSET', skey(sid), 'others', table.concat(others, ','), 'invited', '')
  set_spec(u, 'busy', now, sid)
  redis.call('ZREM', K.deadlines, 'invite:' .. sid .. ':' .. u)
  return {'joined'}
end
return {'refused', f[1] or ''}
