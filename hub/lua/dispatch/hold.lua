-- ARGV: sid, user, on ('1'|'0'), now
local sid, u, now = ARGV[1], ARGV[2], tonumber(ARGV[4])
if redis.call('HGET', skey(sid), 'specialist') ~= u then return {'refused', 'not_yours'} end
local target = transition(sid, ARGV[3] == '1' and 'hold' or 'resume', now)
if not target then return {'refused', redis.call('HGET', skey(sid), 'state') or ''} end
return {'ok', target}
