-- ARGV: sid, now, timeout, depth
local sid, now = ARGV[1], tonumber(ARGV[2])
local k = skey(sid)
local f = redis.call('HMGET', k, 'specialist', 'skill', 'connected_at')
if not transition(sid, 'finish', now) then return {'refused'} end
redis.call('ZREM', K.deadlines, 'wrapup:' .. sid)
if f[3] then
  redis.call('LPUSH', K.handle_times .. f[2], string.format('%.1f', now - tonumber(f[3])))
  redis.call('LTRIM', K.handle_times .. f[2], 0, 49)
end
return append({'ok', f[1]}, release(f[1], now, tonumber(ARGV[3]), tonumber(ARGV[4])))
