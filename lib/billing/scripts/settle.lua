-- settle: releases a batch of requests' holds, charges them, and appends each charge to the
-- usage stream in the same step, so a settled charge is never lost and never half-applied.
-- uses: bucket, balance
--
-- ARGV[1]: the number of settlements; then, per settlement, its key count, its argument count,
-- and its arguments.
-- KEYS per settlement: token balance, user balance, holds, holdinfo, usage stream, done, then
--   the buckets of its token limits.
-- ARGV per settlement: charge id, quota charged, tokens delta (real - estimated), the usage row
--   as JSON, window (s), then each token limit's limit.
-- Result: 1.
-- Idempotent and safe late: a charge id in `done` (settled already, or taken elsewhere by its
-- node: `<id>~x`) is skipped whole. A charge whose hold is gone (reaped, or Redis lost it) is
-- recorded as limited unless its balance is known to be unlimited (the database leaves an
-- unlimited quota alone), and is counted in `pend` so a later load subtracts it.

local function settle(K, A)
  if closed(K[6], A[1]) then return end
  local info = redis.call('HGET', K[4], A[1])
  local quota = tonumber(A[2])
  local tl, ul, held = false, false, false
  if info then
    held = true
    redis.call('HDEL', K[4], A[1])
    redis.call('ZREM', K[3], A[1])
    local f = split(info)
    local reserve = tonumber(f[4])
    tl = f[5] == '1'
    ul = f[6] == '1'
    if tl then credit(K[1], reserve - quota, 0 - reserve) end
    if ul then credit(K[2], reserve - quota, 0 - reserve) end
  else
    local tu = redis.call('HGET', K[1], 'unl')
    local uu = redis.call('HGET', K[2], 'unl')
    tl = tu ~= '1'
    ul = uu ~= '1'
    if tu == '0' then credit(K[1], 0 - quota, 0) end
    if uu == '0' then credit(K[2], 0 - quota, 0) end
  end
  if quota ~= 0 then
    -- `pend` must outlive a time to live set on a hash that held only `mrev`
    if tl then
      redis.call('HINCRBY', K[1], 'pend', quota)
      redis.call('PERSIST', K[1])
    end
    if ul then
      redis.call('HINCRBY', K[2], 'pend', quota)
      redis.call('PERSIST', K[2])
    end
  end
  local delta = tonumber(A[3])
  if held and delta ~= 0 and #K >= 7 then
    -- the request's real tokens replace its estimate in the token limits it counted against
    local win = tonumber(A[5]) * 1000
    local tats = redis.call('MGET', unpack(K, 7, #K))
    local writes = {}
    for i = 7, #K do
      local tat = tonumber(tats[i - 6])
      if tat then
        writes[#writes + 1] = K[i]
        writes[#writes + 1] = fmt(tat + delta * (win / tonumber(A[i - 1])))
      end
    end
    if #writes > 0 then redis.call('MSET', unpack(writes)) end
  end
  redis.call('XADD', K[5], '*', 'tl', tl and '1' or '0', 'ul', ul and '1' or '0', 'e', A[4])
  redis.call('ZADD', K[6], nowMs(), A[1])
end

local k, a = 0, 2
for _ = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  settle({ unpack(KEYS, k + 1, k + nk) }, { unpack(ARGV, a + 2, a + 1 + na) })
  k = k + nk
  a = a + 2 + na
end
return 1
