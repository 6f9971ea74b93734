-- ARGV: sid, user, target, now, timeout
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
redis.call('ZADD', K.deadlines, now + tonumber(ARGV[5]), 'invite:' .. sid .. ':' .. target)
return {'ok'}
