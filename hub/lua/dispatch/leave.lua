-- ARGV: sid, user, now, timeout, depth
local sid, u, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local k = skey(sid)
local f = redis.call('HMGET', k, 'state', 'specialist', 'others')
if not (f[1] == 'connected' or f[1] == 'on_hold') then return {'refused', f[1] or ''} end
local others, kept, found = split(f[3]), {}, false
for _, o in ipairs(others) do
  if o == u then found = true else kept[#kept + 1] = o end
end
local primary = f[2]
if not found then
  if f[2] ~= u or #others == 0 then return {'refused', 'cannot_leave'} end
  primary = table.remove(kept, 1)
end
redis.call('HSET', k, 'specialist', primary, 'others', table.concat(kept, ','))
return append({'ok', primary, table.concat(kept, ',')},
              release(u, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
