-- Admits one routed request, atomically and by the server's clock: the subjects' rate limits
-- (GCRA), their budgets (spend in the window plus what requests in flight reserved), the cache
-- lookup, then the first candidate deployment that is not cooling and is under its limits.
-- Limits are taken from every subject or, on a refusal, from none.
--
-- KEYS: [1] cooldowns (hash id -> until ms), [2] cache entry, then 4 per subject (rpm TAT,
--       tpm TAT, budget hash, reservation zset), then 2 per candidate (rpm TAT, tpm TAT).
-- ARGV: [1] subjects, [2] candidates, [3] tokens, [4] reserve USD, [5] ticket, [6] reservation
--       lifetime ms, [7] '1' to look up the cache, then 4 per subject (rpm, tpm, budget or -1,
--       window ms or 0), then 3 per candidate (id, rpm, tpm). A limit of 0 is no limit.
-- Returns {1, subject index, 'rpm'|'tpm', wait ms} or {1, index, 'budget', spent, reserved,
-- budget} for a refusal; {0, cached bytes} on a cache hit; else {0, false, chosen candidate
-- (1-based, 0: none), {kind, wait ms}... per refusing candidate, {id, ms left}... cooling}.
-- Numbers that may be fractional go back as strings (Redis truncates Lua numbers).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nsub, ncand = tonumber(ARGV[1]), tonumber(ARGV[2])
local tokens, reserve = tonumber(ARGV[3]), tonumber(ARGV[4])
local ticket, life = ARGV[5], tonumber(ARGV[6])
local PERIOD = 60000

-- GCRA, as the in-process limiter (governor) with a burst of the whole minute's quota: the
-- new theoretical arrival time, or nil and the wait until `cost` would fit.
local function gcra(key, limit, cost)
  if cost > limit then return nil, PERIOD end
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  local new = tat + cost * PERIOD / limit
  if new - now > PERIOD then return nil, new - now - PERIOD end
  return new, 0
end

local function set_tat(key, tat)
  redis.call('SET', key, string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
end

-- Both quotas of one subject or deployment; nil and the refusal when one does not fit.
local function quotas(k, rpm, tpm, writes)
  if rpm > 0 then
    local new, wait = gcra(KEYS[k + 1], rpm, 1)
    if not new then return 'rpm', wait end
    writes[#writes + 1] = {KEYS[k + 1], new}
  end
  if tpm > 0 and tokens > 0 then
    local new, wait = gcra(KEYS[k + 2], tpm, tokens)
    if not new then return 'tpm', wait end
    writes[#writes + 1] = {KEYS[k + 2], new}
  end
  return nil
end

local writes, budgets = {}, {}
for i = 0, nsub - 1 do
  local k, a = 2 + i * 4, 7 + i * 4
  local rpm, tpm = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local budget, window = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local what, wait = quotas(k, rpm, tpm, writes)
  if what then return {1, i, what, tostring(wait)} end
  if budget >= 0 then
    local h, z = KEYS[k + 3], KEYS[k + 4]
    local v = redis.call('HMGET', h, 'spent', 'start', 'reserved')
    local spent, start, reserved = tonumber(v[1]) or 0, tonumber(v[2]), tonumber(v[3]) or 0
    if window > 0 and start and now - start >= window then spent = 0 end
    -- Reservations of requests that never settled (their instance died) lapse.
    local gone = redis.call('ZRANGEBYSCORE', z, '-inf', now)
    if #gone > 0 then
      for _, id in ipairs(gone) do
        reserved = reserved - (tonumber(redis.call('HGET', h, 'r:' .. id)) or 0)
        redis.call('HDEL', h, 'r:' .. id)
      end
      redis.call('ZREMRANGEBYSCORE', z, '-inf', now)
      if reserved < 0 then reserved = 0 end
      redis.call('HSET', h, 'reserved', string.format('%.12f', reserved))
    end
    if reserved < 0 then reserved = 0 end
    if spent + reserved >= budget then
      return {1, i, 'budget', tostring(spent), tostring(reserved), tostring(budget)}
    end
    budgets[#budgets + 1] = {h, z, window}
  end
end
for _, w in ipairs(writes) do set_tat(w[1], w[2]) end

if ARGV[7] == '1' then
  local hit = redis.call('GET', KEYS[2])
  if hit then return {0, hit} end
end

if reserve > 0 then
  for _, b in ipairs(budgets) do
    redis.call('HINCRBYFLOAT', b[1], 'reserved', reserve)
    redis.call('HSET', b[1], 'r:' .. ticket, reserve)
    redis.call('ZADD', b[2], now + life, ticket)
    redis.call('PEXPIRE', b[2], life)
    local ttl = redis.call('PTTL', b[1])
    if (ttl >= 0 and ttl < life) or (ttl == -1 and b[3] > 0) then
      redis.call('PEXPIRE', b[1], math.max(life, b[3]))
    end
  end
end

local chosen, refusals = 0, {}
local kc, ac = 2 + nsub * 4, 7 + nsub * 4
for j = 0, ncand - 1 do
  local id = ARGV[ac + j * 3 + 1]
  local rpm, tpm = tonumber(ARGV[ac + j * 3 + 2]), tonumber(ARGV[ac + j * 3 + 3])
  local cool = tonumber(redis.call('HGET', KEYS[1], id))
  if cool and cool > now then
    refusals[#refusals + 1] = 'c'
    refusals[#refusals + 1] = tostring(cool - now)
  else
    local mine = {}
    local what, wait = quotas(kc + j * 2, rpm, tpm, mine)
    if what then
      refusals[#refusals + 1] = 'o'
      refusals[#refusals + 1] = tostring(wait)
    else
      for _, w in ipairs(mine) do set_tat(w[1], w[2]) end
      chosen = j + 1
      break
    end
  end
end

local cooling = {}
local all = redis.call('HGETALL', KEYS[1])
for j = 1, #all, 2 do
  local left = tonumber(all[j + 1]) - now
  if left > 0 then
    cooling[#cooling + 1] = all[j]
    cooling[#cooling + 1] = tostring(left)
  else
    redis.call('HDEL', KEYS[1], all[j])
  end
end
return {0, false, chosen, refusals, cooling}
