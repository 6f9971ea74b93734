-- ARGV: sid, user, to_queue, head_rank, now, timeout, depth, cooldown
local sid, u, q, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[5])
local timeout, depth = tonumber(ARGV[6]), tonumber(ARGV[7])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'others', 'invited')
if f[2] ~= u or not (f[1] == 'connected' or f[1] == 'on_hold') then
  return {'refused', f[1] or ''}
end
transition(sid, 'transfer', now)
-- The one who transferred it does not get it straight back.
redis.call('HSET', k, 'queue', q, 'rank', ARGV[4], 'specialist', '', 'others', '', 'invited', '',
  'declined', cjson.encode({[u] = now + tonumber(ARGV[8])}), 'transferred_from', u)
redis.call('ZADD', K.queue .. q, tonumber(ARGV[4]), sid)
local released = {u}
for _, o in ipairs(split(f[3])) do released[#released + 1] = o end
if f[4] and f[4] ~= '' then
  released[#released + 1] = f[4]
  redis.call('ZREM', K.deadlines, 'invite:' .. sid .. ':' .. f[4])
end
for _, p in ipairs(released) do set_spec(p, 'available', now, '') end
local out = append({'ok', table.concat(released, ',')}, offer_ticket(sid, now, timeout, depth))
for _, p in ipairs(released) do append(out, offer_best_for(p, now, timeout, depth)) end
return out
