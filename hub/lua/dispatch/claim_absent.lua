-- ARGV: cutoff, limit
local gone = redis.call('ZRANGEBYSCORE', K.presence, '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(gone) do redis.call('ZREM', K.presence, m) end
return gone
