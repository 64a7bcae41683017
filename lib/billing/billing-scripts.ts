/**
 * The Lua behind {@link RedisBillingStore}: each script is one atomic step on the balances
 * (`bal:t:{id}`, `bal:u:{id}`: hash `left`, `unl`, `held`), the holds (`holds`: zset of charge
 * ids by time; `holdinfo`: their details), the rate windows (`rl:…`: hash of one-second buckets)
 * and the usage stream (`usage`). A balance hash without `unl` is not loaded yet.
 *
 * Two rules keep them atomic in fact, not only in name: every check comes before the first
 * write (Redis does not undo the writes of a script that fails half-way), and a negation is
 * written `0 - x` (Lua's `-x` of 0 is "-0", which HINCRBY refuses as not an integer).
 */

/** Sums a window's live buckets (dropping expired ones); returns the sum and the buckets oldest first. */
const WINDOW = `
local function window(key, oldest)
  local all = redis.call('HGETALL', key)
  local sum, buckets = 0, {}
  for j = 1, #all, 2 do
    local b = tonumber(all[j])
    if b < oldest then
      redis.call('HDEL', key, all[j])
    else
      local c = tonumber(all[j + 1])
      sum = sum + c
      buckets[#buckets + 1] = { b, c }
    end
  end
  table.sort(buckets, function(x, y) return x[1] < y[1] end)
  return sum, buckets
end
-- ms until enough of the window has expired for cost to fit; -1 when it never can
local function waitMs(buckets, sum, limit, cost, win, now)
  if cost > limit then return -1 end
  local excess = sum + cost - limit
  for _, bc in ipairs(buckets) do
    excess = excess - bc[2]
    if excess <= 0 then return (bc[1] + win) * 1000 - now end
  end
  return win * 1000
end
`;

/** Adds to a loaded balance's `left` and `held`; a balance that is gone (its token deleted) is left alone. */
const CREDIT = `
local function credit(key, left, held)
  if redis.call('HEXISTS', key, 'unl') == 0 then return end
  redis.call('HINCRBY', key, 'left', left)
  if held ~= 0 then redis.call('HINCRBY', key, 'held', held) end
end
local function split(s)
  local f = {}
  for part in string.gmatch(s, '[^,]+') do f[#f + 1] = part end
  return f
end
`;

/**
 * KEYS: token balance, user balance, holds, holdinfo, then one window per limiter.
 * ARGV: charge id, now (ms), reserve, hold info prefix ("tokenId,userId,nodeId"), window (s),
 * then limit and cost per limiter.
 * Returns {'missing', 'token'|'user'}, {'rate', i, waitMs}, {'quota', 'token'|'user'}, or
 * {'ok', tokenLimited, userLimited, remaining1, reset1, …}.
 */
export const ADMIT = `${WINDOW}
local t = redis.call('HMGET', KEYS[1], 'left', 'unl')
if not t[2] then return { 'missing', 'token' } end
local u = redis.call('HMGET', KEYS[2], 'left', 'unl')
if not u[2] then return { 'missing', 'user' } end
local now = tonumber(ARGV[2])
local win = tonumber(ARGV[5])
local sec = math.floor(now / 1000)
local oldest = sec - win + 1
local n = #KEYS - 4
local states = {}
for i = 1, n do
  local limit = tonumber(ARGV[4 + 2 * i])
  local cost = tonumber(ARGV[5 + 2 * i])
  local sum, buckets = window(KEYS[4 + i], oldest)
  if sum + cost > limit then
    return { 'rate', tostring(i), tostring(waitMs(buckets, sum, limit, cost, win, now)) }
  end
  local first = buckets[1] and buckets[1][1] or sec
  states[#states + 1] = tostring(limit - sum - cost)
  states[#states + 1] = tostring((first + win) * 1000 - now)
end
local reserve = tonumber(ARGV[3])
local tl = t[2] == '0'
local ul = u[2] == '0'
if tl and (tonumber(t[1]) <= 0 or tonumber(t[1]) < reserve) then return { 'quota', 'token' } end
if ul and (tonumber(u[1]) <= 0 or tonumber(u[1]) < reserve) then return { 'quota', 'user' } end
for i = 1, n do
  local cost = tonumber(ARGV[5 + 2 * i])
  if cost ~= 0 then
    redis.call('HINCRBY', KEYS[4 + i], sec, cost)
    redis.call('PEXPIRE', KEYS[4 + i], (win + 1) * 1000)
  end
end
if tl then
  redis.call('HINCRBY', KEYS[1], 'left', 0 - reserve)
  redis.call('HINCRBY', KEYS[1], 'held', reserve)
end
if ul then
  redis.call('HINCRBY', KEYS[2], 'left', 0 - reserve)
  redis.call('HINCRBY', KEYS[2], 'held', reserve)
end
redis.call('ZADD', KEYS[3], now, ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1],
  ARGV[4] .. ',' .. reserve .. ',' .. (tl and '1' or '0') .. ',' .. (ul and '1' or '0') .. ',' .. sec)
local out = { 'ok', tl and '1' or '0', ul and '1' or '0' }
for _, s in ipairs(states) do out[#out + 1] = s end
return out`;

/**
 * KEYS: token balance, user balance, holds, holdinfo, usage stream, then the token windows.
 * ARGV: charge id, quota charged, tokens delta, the usage row (JSON).
 * Releases the hold (if the reaper has not) and charges; appends the charge to the stream in
 * the same step, so a settled charge is never lost and never half-applied.
 */
export const SETTLE = `${CREDIT}
local info = redis.call('HGET', KEYS[4], ARGV[1])
local quota = tonumber(ARGV[2])
local tl, ul, sec = false, false, nil
if info then
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  local f = split(info)
  local reserve = tonumber(f[4])
  tl = f[5] == '1'
  ul = f[6] == '1'
  sec = f[7]
  if tl then credit(KEYS[1], reserve - quota, 0 - reserve) end
  if ul then credit(KEYS[2], reserve - quota, 0 - reserve) end
else
  tl = redis.call('HGET', KEYS[1], 'unl') == '0'
  ul = redis.call('HGET', KEYS[2], 'unl') == '0'
  if tl then credit(KEYS[1], 0 - quota, 0) end
  if ul then credit(KEYS[2], 0 - quota, 0) end
end
local delta = tonumber(ARGV[3])
if sec and delta ~= 0 then
  for i = 6, #KEYS do
    if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('HINCRBY', KEYS[i], sec, delta) end
  end
end
redis.call('XADD', KEYS[5], '*', 'tl', tl and '1' or '0', 'ul', ul and '1' or '0', 'e', ARGV[4])
return 1`;

/**
 * KEYS: holds, holdinfo. ARGV: charge id, key prefix. Refunds a hold whose request will never
 * settle (its node died, or it outlived the hold TTL). Returns the refunded reserve, or -1.
 */
export const REAP = `${CREDIT}
local info = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
if not info then return -1 end
redis.call('HDEL', KEYS[2], ARGV[1])
local f = split(info)
local reserve = tonumber(f[4])
if f[5] == '1' then credit(ARGV[2] .. ':bal:t:' .. f[1], reserve, 0 - reserve) end
if f[6] == '1' then credit(ARGV[2] .. ':bal:u:' .. f[2], reserve, 0 - reserve) end
return reserve`;

/** KEYS: balance. ARGV: stored quota ('' = unlimited). Loads a balance unless it is loaded. */
export const LOAD = `
if redis.call('HEXISTS', KEYS[1], 'unl') == 1 then return 0 end
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'unl', '1', 'left', '0', 'held', '0')
else
  redis.call('HSET', KEYS[1], 'unl', '0', 'left', ARGV[1], 'held', '0')
end
return 1`;

/**
 * KEYS: balance. ARGV: the new stored quota ('' = unlimited), the delta ('' = the limit kind
 * changed), '1' to touch only a loaded balance. A balance not loaded yet is loaded with the new
 * quota (nothing can be pending on it).
 */
export const CHANGE = `
if redis.call('HEXISTS', KEYS[1], 'unl') == 0 then
  if ARGV[3] == '1' then return 0 end
  if ARGV[1] == '' then
    redis.call('HSET', KEYS[1], 'unl', '1', 'left', '0', 'held', '0')
  else
    redis.call('HSET', KEYS[1], 'unl', '0', 'left', ARGV[1], 'held', '0')
  end
  return 1
end
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'unl', '1')
elseif ARGV[2] == '' or redis.call('HGET', KEYS[1], 'unl') == '1' then
  local held = tonumber(redis.call('HGET', KEYS[1], 'held') or '0')
  redis.call('HSET', KEYS[1], 'unl', '0', 'left', tonumber(ARGV[1]) - held)
else
  redis.call('HINCRBY', KEYS[1], 'left', ARGV[2])
end
return 1`;

/** KEYS: window. ARGV: now (ms), window (s), limit. Returns {1, 0} or {0, waitMs}. */
export const HIT = `${WINDOW}
local now = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local sec = math.floor(now / 1000)
local sum, buckets = window(KEYS[1], sec - win + 1)
if sum + 1 > limit then return { 0, waitMs(buckets, sum, limit, 1, win, now) } end
redis.call('HINCRBY', KEYS[1], sec, 1)
redis.call('PEXPIRE', KEYS[1], (win + 1) * 1000)
return { 1, 0 }`;
