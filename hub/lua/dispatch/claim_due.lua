-- ARGV: now, limit
local due = redis.call('ZRANGEBYSCORE', K.deadlines, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(due) do redis.call('ZREM', K.deadlines, m) end
return due
