-- Counts a deployment's failure by the server's clock; `allowed` failures within the window
-- cool it (for every instance) until now + cooldown.
-- KEYS: [1] cooldowns (hash id -> until ms), [2] the deployment's failures (zset).
-- ARGV: [1] id, [2] allowed failures, [3] cooldown ms, [4] window ms, [5] a unique member.
-- Returns 1 when the deployment is now cooling, else 0.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[3]))
  return 1
end
redis.call('PEXPIRE', KEYS[2], window)
return 0
