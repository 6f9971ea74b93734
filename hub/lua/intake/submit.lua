-- ARGV[3] application id, ARGV[4] payload, ARGV[5] digest, ARGV[6] session id, ARGV[7] by
local id, payload, digest, session, by = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local key = P .. K.application .. id
local seen = redis.call('HMGET', key, 'entry_id', 'digest')
if seen[1] then return {seen[1], 0, seen[2] or ''} end
local entry = redis.call('XADD', P .. K.stream, '*', 'application_id', id, 'payload', payload)
redis.call('HSET', key, 'application_id', id, 'entry_id', entry, 'state', 'queued',
  'digest', digest, 'session_id', session, 'submitted_by', by, 'submitted_at', now,
  'updated_at', now, 'deliveries', 0, 'consumer', '', 'reason', '', 'by', '',
  'history', cjson.encode({{'queued', tonumber(now)}}))
redis.call('ZADD', P .. K.state .. 'queued', now, id)
if session ~= '' then redis.call('SADD', P .. K.session .. session, id) end
return {entry, 1, digest}
