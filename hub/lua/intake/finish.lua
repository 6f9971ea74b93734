-- ARGV[3] group, ARGV[4] entry id, ARGV[5] event, ARGV[6] by, ARGV[7] reason
local group, entry_id, event, by, reason = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local stream = P .. K.stream
local found = redis.call('XRANGE', stream, entry_id, entry_id)
if not found[1] then return {'missing', ''} end
local app = field_of(found[1][2], 'application_id') or ''
local extra = {'by', by, event .. '_at', now}
local current = redis.call('HGET', P .. K.application .. app, 'state')
if event == 'return' and current ~= 'returned' then
  table.insert(extra, 'reason'); table.insert(extra, reason)
end
local to, from = step(app, event, extra)
if not to then return {'illegal', app, from} end
redis.call('XACK', stream, group, entry_id)
return {'ok', app, from}
