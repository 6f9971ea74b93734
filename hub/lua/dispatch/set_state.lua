-- ARGV: user, state (available|away|offline), now, timeout, depth
local u, want, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local cur = redis.call('HGET', ukey(u), 'state')
if cur == 'ringing' or cur == 'busy' or cur == 'wrap_up' then return {'refused', cur} end
set_spec(u, want, now, '')
if want ~= 'available' then return {'ok'} end
return append({'ok'}, offer_best_for(u, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
