-- admit: checks and takes, atomically, everything a batch of requests needs before the
-- upstream call.
-- uses: bucket, balance
--
-- ARGV[1]: the number of admissions; then, per admission, its key count, its argument count,
-- and its arguments.
-- KEYS per admission: token balance, user balance, holds (zset), holdinfo (hash), done (zset),
--   then one rate bucket per limiter.
-- ARGV per admission: charge id, now (ms), reserve, hold info prefix "tokenId,userId,node/pid",
--   window (s), then limit and cost per limiter.
-- Result, one per admission: {'missing', 'token'|'user'} (nothing taken: load that balance and
--   ask again), {'rate', i, waitMs}, {'quota', 'token'|'user'}, {'closed'} (the node already
--   gave up on this charge id: nothing taken), or {'ok', tokenLimited, userLimited,
--   remaining1, reset1, ...}.
-- Idempotent: a charge id already held returns 'ok' again and takes nothing more.
-- Every check comes before the first write (Redis does not undo the writes of a script that
-- fails half-way), and a negation is written `0 - x` (Lua's -0 is not an integer to HINCRBY).

local function admit(K, A)
  if closed(K[5], A[1]) then return { 'closed' } end
  local n = #K - 5
  local info = redis.call('HGET', K[4], A[1])
  if info then
    local f = split(info)
    local out = { 'ok', f[5], f[6] }
    for _ = 1, n do
      out[#out + 1] = '0'
      out[#out + 1] = '0'
    end
    return out
  end
  local t = redis.call('HMGET', K[1], 'left', 'unl')
  if not t[2] then return { 'missing', 'token' } end
  local u = redis.call('HMGET', K[2], 'left', 'unl')
  if not u[2] then return { 'missing', 'user' } end
  local now = tonumber(A[2])
  local win = tonumber(A[5]) * 1000
  local tats = n > 0 and redis.call('MGET', unpack(K, 6, 5 + n)) or {}
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
      writes[#writes + 1] = K[5 + i]
      writes[#writes + 1] = fmt(nexts[i])
    end
  end
  if #writes > 0 then redis.call('MSET', unpack(writes)) end
  if tl then credit(K[1], 0 - reserve, reserve) end
  if ul then credit(K[2], 0 - reserve, reserve) end
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
return results
