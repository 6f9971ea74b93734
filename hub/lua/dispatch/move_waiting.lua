-- A supervisor moves a waiting ticket to another skill's queue: same rank (its place by
-- arrival and priority), same ticket number; refused once it is offered, connected or over.
-- ARGV: sid, to_queue, now, timeout, depth
local sid, q, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'queue', 'rank')
if not f[1] then return {'refused', 'gone'} end
if f[1] ~= 'waiting' then return {'refused', f[1]} end
if f[2] == q then return {'refused', 'same_queue'} end
redis.call('ZREM', K.queue .. f[2], sid)
redis.call('ZADD', K.queue .. q, f[3], sid)
redis.call('HSET', k, 'queue', q, 'skill', q, 'moved_from', f[2])
return append({'ok', f[2]}, offer_ticket(sid, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
