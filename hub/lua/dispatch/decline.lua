-- ARGV: sid, user, now, event (decline|offer_timeout), cooldown, next state, timeout, depth
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
  redis.call('ZADD', K.queue .. f[4], tonumber(f[5]), sid)
  redis.call('ZREM', K.deadlines, 'offer:' .. sid .. ':' .. u)
  status = 'requeued'
elseif f[3] == u then
  redis.call('HSET', k, 'invited', '')
  redis.call('ZREM', K.deadlines, 'invite:' .. sid .. ':' .. u)
  status = 'invite_declined'
else
  return {'refused', f[1] or ''}
end
set_spec(u, ARGV[6], now, '')
local out = append({status}, offer_ticket(sid, now, timeout, depth))
return append(out, offer_best_for(u, now, timeout, depth))
