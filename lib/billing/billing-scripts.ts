/**
 * The Lua behind {@link RedisBillingStore}: each script is one atomic step on the balances
 * (`bal:t:{id}`, `bal:u:{id}`: hash `left`, `unl`, `held`), the holds (`holds`: zset of charge
 * ids by time; `holdinfo`: their details), the rate limits (`rl:…`: a string, the bucket's
 * theoretical arrival time in ms, as in rate-bucket.ts) and the usage stream (`usage`). A
 * balance hash without `unl` is not loaded yet.
 *
 * Two rules keep them atomic in fact, not only in name: every check comes before the first
 * write (Redis does not undo the writes of a script that fails half-way), and a negation is
 * written `0 - x` (Lua's `-x` of 0 is "-0", which HINCRBY refuses as not an integer).
 */

/**
 * GCRA, as in rate-bucket.ts: a limit of `limit` per `win` ms is a bucket that refills
 * continuously; its state is one number, so a request's limits are read with one MGET and
 * written with one MSET. (A sliding window that walked its one-second buckets on every request
 * cost 76 µs of Redis time per admission with six limits, against 25 µs with none.) The keys
 * have no TTL: there is one per token, user and group with a limit, like the balances, and a
 * full bucket's old arrival time is simply in the past.
 */
const BUCKET = `
-- returns the new arrival time, or nil and the wait in ms (-1: never)
local function take(tat, now, limit, cost, win)
  if cost > limit then return nil, -1 end
  local per = win / limit
  local nxt = math.max(tat or now, now) + cost * per
  local over = nxt - now - win
  if over > 0 then return nil, math.ceil(over) end
  return nxt, 0
end
local function fmt(tat)
  return string.format('%.3f', tat)
end
`;

/**
 * Adds to a balance's `left` and `held`. A balance that is gone (its token deleted) comes back
 * as a hash without `unl`, which counts as not loaded: its next use loads it from the database.
 */
const CREDIT = `
local function credit(key, left, held)
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
 * Admits several requests in one call (the store batches the admissions of one event-loop
 * turn). ARGV[1] is the number of admissions; each then has its key count and argument count,
 * its KEYS (token balance, user balance, holds, holdinfo, then one bucket per limiter) and ARGV
 * (charge id, now (ms), reserve, hold info prefix "tokenId,userId,node/pid", window (s), then
 * limit and cost per limiter). Each is decided on its own, in order: {'missing',
 * 'token'|'user'} (nothing taken: load the balance and ask again), {'rate', i, waitMs},
 * {'quota', 'token'|'user'}, or {'ok', tokenLimited, userLimited, remaining1, reset1, …}.
 */
export const ADMIT = `${BUCKET}
local function admit(K, A)
  local t = redis.call('HMGET', K[1], 'left', 'unl')
  if not t[2] then return { 'missing', 'token' } end
  local u = redis.call('HMGET', K[2], 'left', 'unl')
  if not u[2] then return { 'missing', 'user' } end
  local now = tonumber(A[2])
  local win = tonumber(A[5]) * 1000
  local n = #K - 4
  local tats = n > 0 and redis.call('MGET', unpack(K, 5, 4 + n)) or {}
  local nexts, states = {}, {}
  for i = 1, n do
    local limit = tonumber(A[4 + 2 * i])
    local cost = tonumber(A[5 + 2 * i])
    local nxt, wait = take(tonumber(tats[i]), now, limit, cost, win)
    if not nxt then return { 'rate', tostring(i), tostring(wait) } end
    nexts[i] = nxt
    states[#states + 1] = tostring(math.floor(limit - (nxt - now) / (win / limit)))
    states[#states + 1] = tostring(math.ceil(nxt - now))
  end
  local reserve = tonumber(A[3])
  local tl = t[2] == '0'
  local ul = u[2] == '0'
  if tl and (tonumber(t[1]) <= 0 or tonumber(t[1]) < reserve) then return { 'quota', 'token' } end
  if ul and (tonumber(u[1]) <= 0 or tonumber(u[1]) < reserve) then return { 'quota', 'user' } end
  local writes = {}
  for i = 1, n do
    if tonumber(A[5 + 2 * i]) ~= 0 then
      writes[#writes + 1] = K[4 + i]
      writes[#writes + 1] = fmt(nexts[i])
    end
  end
  if #writes > 0 then redis.call('MSET', unpack(writes)) end
  if tl then
    redis.call('HINCRBY', K[1], 'left', 0 - reserve)
    redis.call('HINCRBY', K[1], 'held', reserve)
  end
  if ul then
    redis.call('HINCRBY', K[2], 'left', 0 - reserve)
    redis.call('HINCRBY', K[2], 'held', reserve)
  end
  redis.call('ZADD', K[3], now, A[1])
  redis.call('HSET', K[4], A[1],
    A[4] .. ',' .. reserve .. ',' .. (tl and '1' or '0') .. ',' .. (ul and '1' or '0'))
  local out = { 'ok', tl and '1' or '0', ul and '1' or '0' }
  for _, s in ipairs(states) do out[#out + 1] = s end
  return out
end
local results = {}
local k, a = 0, 2
for _ = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  results[#results + 1] = admit({ unpack(KEYS, k + 1, k + nk) }, { unpack(ARGV, a + 2, a + 1 + na) })
  k = k + nk
  a = a + 2 + na
end
return results`;

/**
 * Settles several requests in one call (the store batches the settlements of one event-loop
 * turn: one round trip and one script run instead of one each). ARGV[1] is the number of
 * settlements; each then has its key count and argument count, and its KEYS (token balance,
 * user balance, holds, holdinfo, usage stream, then its token limits) and ARGV (charge id,
 * quota charged, tokens delta, the usage row as JSON, window (s), then each token limit's
 * limit). Each releases its hold (if the reaper has not) and charges, and appends the charge to
 * the stream in the same step, so a settled charge is never lost and never half-applied.
 */
export const SETTLE = `${CREDIT}${BUCKET}
local function settle(K, A)
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
    tl = redis.call('HGET', K[1], 'unl') == '0'
    ul = redis.call('HGET', K[2], 'unl') == '0'
    if tl then credit(K[1], 0 - quota, 0) end
    if ul then credit(K[2], 0 - quota, 0) end
  end
  local delta = tonumber(A[3])
  if held and delta ~= 0 and #K >= 6 then
    -- the request's real tokens replace its estimate in the token limits it counted against
    local win = tonumber(A[5]) * 1000
    local tats = redis.call('MGET', unpack(K, 6, #K))
    local writes = {}
    for i = 6, #K do
      local tat = tonumber(tats[i - 5])
      if tat then
        writes[#writes + 1] = K[i]
        writes[#writes + 1] = fmt(tat + delta * (win / tonumber(A[i])))
      end
    end
    if #writes > 0 then redis.call('MSET', unpack(writes)) end
  end
  redis.call('XADD', K[5], '*', 'tl', tl and '1' or '0', 'ul', ul and '1' or '0', 'e', A[4])
end
local k, a = 0, 2
for _ = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  settle({ unpack(KEYS, k + 1, k + nk) }, { unpack(ARGV, a + 2, a + 1 + na) })
  k = k + nk
  a = a + 2 + na
end
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
 * changed), '1' for a charge owed to the balance (made on the database while Redis was away:
 * it only lowers a loaded, limited balance). A balance not loaded yet is loaded with the new
 * quota (nothing can be pending on it).
 */
export const CHANGE = `
local loaded = redis.call('HEXISTS', KEYS[1], 'unl') == 1
if ARGV[3] == '1' then
  if loaded and redis.call('HGET', KEYS[1], 'unl') == '0' then
    redis.call('HINCRBY', KEYS[1], 'left', ARGV[2])
  end
  return 1
end
if not loaded then
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
export const HIT = `${BUCKET}
local now = tonumber(ARGV[1])
local nxt, wait = take(tonumber(redis.call('GET', KEYS[1])), now, tonumber(ARGV[3]), 1, tonumber(ARGV[2]) * 1000)
if not nxt then return { 0, wait } end
redis.call('SET', KEYS[1], fmt(nxt), 'PX', math.ceil(nxt - now) + 1000)
return { 1, 0 }`;
