-- ARGV: sid, terminal_id, branch_id, purpose, skill, priority, rank, needs_language,
--       needs_hearing, now, ticket counter key (hub.redis_keys.ticket_counter), ticket prefix,
--       timeout, depth
local sid, now = ARGV[1], tonumber(ARGV[10])
-- One resident at a time per terminal: a second start (a retry through another hub process)
-- gets the session the terminal already has.
local current = redis.call('GET', K.terminal_session .. ARGV[2])
if current then
  local st = redis.call('HGET', skey(current), 'state')
  if st and st ~= 'ended' and st ~= 'wrap_up' then return {'existing', current} end
end
local counter = ARGV[11]
local n = redis.call('INCR', counter)
redis.call('EXPIRE', counter, 172800)
local ticket = ARGV[12] .. '-' .. string.format('%03d', n)
redis.call('HSET', skey(sid), 'state', 'waiting', 'terminal_id', ARGV[2], 'branch_id', ARGV[3],
  'purpose', ARGV[4], 'skill', ARGV[5], 'priority', ARGV[6], 'rank', ARGV[7], 'queue', ARGV[5],
  'needs_language', ARGV[8], 'needs_hearing', ARGV[9], 'declined', '{}', 'specialist', '',
  'others', '', 'invited', '', 'end_reason', '', 'transferred_from', '', 'ticket', ticket,
  'waiting_at', string.format('%.6f', now), 'history', cjson.encode({{'waiting', now}}))
redis.call('ZADD', K.queue .. ARGV[5], tonumber(ARGV[7]), sid)
redis.call('SET', K.terminal_session .. ARGV[2], sid)
return append({ticket}, offer_ticket(sid, now, tonumber(ARGV[13]), tonumber(ARGV[14])))
