-- change: brings a live balance in line with an admin's change to the stored quota.
-- uses: balance
--
-- KEYS: balance, done.
-- ARGV: change id, the new stored quota ('' = unlimited), the delta ('' = the limit kind
--   changed: set the balance again), the quota_rev the change was committed at.
-- Result: 1 when applied, 0 when not needed (done already, loaded at that revision or later,
--   or not loaded: its revision is recorded in `mrev`, so a load that read the quota before the
--   change is refused and reads it again).
-- Idempotent by change id, and safe late: a balance loaded after the change holds it already.

local id = 'q:' .. ARGV[1]
if redis.call('ZSCORE', KEYS[2], id) then return 0 end
redis.call('ZADD', KEYS[2], nowMs(), id)
local b = redis.call('HMGET', KEYS[1], 'unl', 'held', 'pend', 'rev', 'mrev')
local rev = tonumber(ARGV[4])
if not b[1] then
  markUnloaded(KEYS[1], b[5], rev)
  return 0
end
if tonumber(b[4] or '0') >= rev then return 0 end
raiseMrev(KEYS[1], b[5], rev)
if ARGV[2] == '' then
  redis.call('HSET', KEYS[1], 'unl', '1')
elseif ARGV[3] == '' or b[1] == '1' then
  local left = tonumber(ARGV[2]) - tonumber(b[2] or '0') - tonumber(b[3] or '0')
  redis.call('HSET', KEYS[1], 'unl', '0', 'left', left, 'rev', rev)
else
  redis.call('HINCRBY', KEYS[1], 'left', ARGV[3])
end
return 1
