-- Shared helpers, prepended (by billing-scripts.ts) to the scripts whose header says
-- "uses: balance". Not a script by itself.
--
-- A balance is a hash: `left` (what can still be held), `held` (held by requests in flight),
-- `pend` (charged here, not yet written to the database by usage-flush), `unl` ('1' unlimited,
-- '0' limited; missing: not loaded yet), `rev` (the database's quota_rev this balance agrees
-- with: loaded at, or last reconciled at) and `mrev` (the highest quota_rev of a database
-- change applied to it since, or, while it is not loaded, of a change made while it was not:
-- a load that read an older revision is refused). For a limited, settled balance
-- left + held + pend equals the stored quota.
--
-- `done` is a sorted set (score: Redis time in ms) of the ids a script has finished with: a
-- charge id once its charge is applied here (by settle or repay), `<id>~x` once a node has
-- taken that request elsewhere (no admit or settle of it may run any more), `q:<op>` once an
-- admin's quota change is applied. It makes every script safe to run twice or late.

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function credit(key, left, held)
  redis.call('HINCRBY', key, 'left', left)
  if held ~= 0 then redis.call('HINCRBY', key, 'held', held) end
end
local function split(s)
  local f = {}
  for part in string.gmatch(s, '[^,]+') do f[#f + 1] = part end
  return f
end
local function closed(done, id)
  return redis.call('ZSCORE', done, id) or redis.call('ZSCORE', done, id .. '~x')
end
-- raises `mrev` to `rev` (`mrev`: the field as read)
local function raiseMrev(key, mrev, rev)
  if rev > tonumber(mrev or '0') then redis.call('HSET', key, 'mrev', rev) end
end
-- How long a hash made only to record `mrev` (a change to a balance nobody has loaded) is kept:
-- the race it guards, a node's quota read and then its load, is milliseconds wide. A load, or a
-- settle that adds `pend`, makes it permanent (PERSIST).
local MREV_ONLY_TTL = 3600
-- records the revision of a change on a balance not loaded yet (see applyAt)
local function markUnloaded(key, mrev, rev)
  local fresh = redis.call('EXISTS', key) == 0
  raiseMrev(key, mrev, rev)
  if fresh and rev > 0 then redis.call('EXPIRE', key, MREV_ONLY_TTL) end
end
-- a change of `delta` the database made at revision `rev`: applied unless the balance was
-- loaded (or reconciled) at that revision or later, which already holds it. A balance not
-- loaded yet only records the revision: a load that read the quota before it is refused (a
-- node's quota read and its load script are two steps; the change may land between them).
local function applyAt(key, delta, rev)
  local b = redis.call('HMGET', key, 'unl', 'rev', 'mrev')
  if not b[1] then
    markUnloaded(key, b[3], rev)
    return 0
  end
  if b[1] ~= '0' or tonumber(b[2] or '0') >= rev then return 0 end
  redis.call('HINCRBY', key, 'left', delta)
  raiseMrev(key, b[3], rev)
  return 1
end
-- refunds a hold (info "tokenId,userId,holder,reserve,tl,ul"); returns its reserve, or -1
local function release(holds, holdinfo, id, prefix)
  local info = redis.call('HGET', holdinfo, id)
  redis.call('ZREM', holds, id)
  if not info then return -1 end
  redis.call('HDEL', holdinfo, id)
  local f = split(info)
  local reserve = tonumber(f[4])
  if f[5] == '1' then credit(prefix .. ':bal:t:' .. f[1], reserve, 0 - reserve) end
  if f[6] == '1' then credit(prefix .. ':bal:u:' .. f[2], reserve, 0 - reserve) end
  return reserve
end
