-- Settles one request: its reservation released and its cost added to each budget (a window
-- that has ended starts again), its ledger record appended, the metrics it changed added, its
-- answer cached.
-- KEYS: [1] ledger (stream), [2] metrics (hash), [3] cache entry, then 2 per budget subject
--       (budget hash, reservation zset).
-- ARGV: [1] ticket, [2] cost, [3] subjects, [4] ledger cap, [5] cache TTL ms (0: none),
--       [6] cache bytes, [7] n record fields and values, the record, a window ms (0: none) per
--       subject, then metric field / increment pairs.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ticket, cost, nsub = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local nrec = tonumber(ARGV[7])
local a = 8
if nrec > 0 then
  local rec = {}
  for i = a, a + nrec - 1 do rec[#rec + 1] = ARGV[i] end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', unpack(rec))
end
a = a + nrec
for i = 0, nsub - 1 do
  local h, z, window = KEYS[4 + i * 2], KEYS[5 + i * 2], tonumber(ARGV[a + i])
  local v = redis.call('HMGET', h, 'spent', 'start', 'r:' .. ticket)
  local spent, start, r = tonumber(v[1]) or 0, tonumber(v[2]), tonumber(v[3])
  if not start or (window > 0 and now - start >= window) then
    spent = 0
    start = now
  end
  if r then
    redis.call('HINCRBYFLOAT', h, 'reserved', -r)
    redis.call('HDEL', h, 'r:' .. ticket)
    redis.call('ZREM', z, ticket)
  end
  redis.call('HSET', h, 'spent', string.format('%.12f', spent + cost), 'start', start)
  if window > 0 then
    local left = start + window - now
    if redis.call('PTTL', h) < left then redis.call('PEXPIRE', h, math.max(left, 1)) end
  end
end
a = a + nsub
for i = a, #ARGV - 1, 2 do
  redis.call('HINCRBYFLOAT', KEYS[2], ARGV[i], ARGV[i + 1])
end
if tonumber(ARGV[5]) > 0 then
  redis.call('SET', KEYS[3], ARGV[6], 'PX', ARGV[5])
end
return 1
