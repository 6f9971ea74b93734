-- ARGV: sid, now, reason, timeout, depth
local sid, now = ARGV[1], tonumber(ARGV[2])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'queue')
if not transition(sid, 'end', now) then return {'refused', f[1] or ''} end
redis.call('HSET', k, 'end_reason', ARGV[3])
redis.call('ZREM', K.queue .. f[3], sid)
if f[1] == 'offered' and f[2] ~= '' then
  redis.call('ZREM', K.deadlines, 'offer:' .. sid .. ':' .. f[2])
  return append({'ok', f[2]}, release(f[2], now, tonumber(ARGV[4]), tonumber(ARGV[5])))
end
return {'ok', ''}
