-- A supervisor changes a specialist's skills: the account, the routing profile, the skill
-- members and, when available, the availability sets (keeping their available-since).
-- ARGV: user, skills (JSON list, sorted), now, timeout, depth
local u, now = ARGV[1], tonumber(ARGV[3])
local account = K.account .. u
if redis.call('HGET', account, 'role') ~= 'specialist' then return {'refused', 'not_specialist'} end
local k = ukey(u)
local old = list_of(redis.call('HGET', k, 'skills'))
for _, skill in ipairs(list_of(redis.call('HGET', account, 'skills'))) do old[#old + 1] = skill end
for _, skill in ipairs(old) do
  redis.call('SREM', K.skill_members .. skill, u)
  redis.call('ZREM', K.available .. skill, u)
end
redis.call('HSET', account, 'skills', ARGV[2])
local skills = list_of(ARGV[2])
for _, skill in ipairs(skills) do redis.call('SADD', K.skill_members .. skill, u) end
if redis.call('EXISTS', k) == 0 then return {'ok'} end
redis.call('HSET', k, 'skills', ARGV[2])
if redis.call('HGET', k, 'state') ~= 'available' then return {'ok'} end
local since = tonumber(redis.call('HGET', k, 'since')) or now
for _, skill in ipairs(skills) do redis.call('ZADD', K.available .. skill, since, u) end
return append({'ok'}, offer_best_for(u, now, tonumber(ARGV[4]), tonumber(ARGV[5])))
