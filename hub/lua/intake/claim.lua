-- ARGV[3] group, ARGV[4] consumer, ARGV[5] min idle (ms), ARGV[6] max deliveries,
-- ARGV[7] rounds of XAUTOCLAIM at most
local group, consumer = ARGV[3], ARGV[4]
local min_idle, max_deliveries, rounds = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local stream = P .. K.stream
local dead = {}
local function hand_out(entry, deliveries)
  local app = field_of(entry[2], 'application_id') or ''
  step(app, 'claim', {'consumer', consumer, 'deliveries', deliveries, 'claimed_at', now})
  return {'claimed', entry[1], app, field_of(entry[2], 'payload') or '', deliveries, dead}
end
local cursor = '0-0'
for _ = 1, rounds do
  local r = redis.call('XAUTOCLAIM', stream, group, consumer, min_idle, cursor, 'COUNT', 1)
  cursor = r[1]
  for _, gone in ipairs(r[3] or {}) do redis.call('XACK', stream, group, gone) end
  local entry = r[2][1]
  if entry then
    local pending = redis.call('XPENDING', stream, group, entry[1], entry[1], 1)
    local deliveries = pending[1] and tonumber(pending[1][4]) or 1
    if deliveries > max_deliveries then
      local app = field_of(entry[2], 'application_id') or ''
      redis.call('XACK', stream, group, entry[1])
      redis.call('XADD', P .. K.dead, '*', 'application_id', app, 'entry_id', entry[1],
        'deliveries', deliveries, 'at', now)
      step(app, 'dead_letter', {'deliveries', deliveries})
      table.insert(dead, app)
    else
      return hand_out(entry, deliveries)
    end
  end
  if cursor == '0-0' then break end
end
local r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', 1, 'STREAMS', stream, '>')
if r and r[1] and r[1][2][1] then return hand_out(r[1][2][1], 1) end
return {'none', '', '', '', 0, dead}
