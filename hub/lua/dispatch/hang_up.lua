-- ARGV: sid, now, reason, wrap_up_s, timeout, depth
local sid, now = ARGV[1], tonumber(ARGV[2])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'others', 'invited')
if not transition(sid, 'hang_up', now) then return {'refused', f[1] or ''} end
redis.call('HSET', k, 'end_reason', ARGV[3], 'others', '', 'invited', '')
set_spec(f[2], 'wrap_up', now, sid)
redis.call('ZADD', K.deadlines, now + tonumber(ARGV[4]), 'wrapup:' .. sid)
local released = split(f[3])
if f[4] and f[4] ~= '' then
  released[#released + 1] = f[4]
  redis.call('ZREM', K.deadlines, 'invite:' .. sid .. ':' .. f[4])
end
local out = {'ok', f[2], table.concat(released, ',')}
for _, p in ipairs(released) do append(out, release(p, now, tonumber(ARGV[5]),
                                                    tonumber(ARGV[6]))) end
return out
