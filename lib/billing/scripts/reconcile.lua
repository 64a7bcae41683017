-- reconcile: sets a live balance to what the database says it must be.
-- uses: balance
--
-- KEYS: balance.
-- ARGV: the stored quota ('' = unlimited) and its quota_rev, read after usage-flush wrote and
--   acknowledged every charge it read.
-- Result: {'skip'} (not loaded), {'newer'} (the balance holds a change the read did not see:
--   left for the next run), or {'ok', drift, leftBefore} where drift is what was added to
--   `left` (0: it agreed).
-- A limited balance must have left + held + pend = quota. Setting `rev` to the read's
-- revision makes a repay or quota change already in that quota a no-op when it lands later.

local b = redis.call('HMGET', KEYS[1], 'unl', 'left', 'held', 'pend', 'rev', 'mrev')
if not b[1] then return { 'skip' } end
local rev = tonumber(ARGV[2])
if tonumber(b[5] or '0') > rev or tonumber(b[6] or '0') > rev then return { 'newer' } end
local left = tonumber(b[2] or '0')
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'unl', '1', 'rev', rev)
  return { 'ok', '0', tostring(left) }
end
local want = tonumber(ARGV[1]) - tonumber(b[3] or '0') - tonumber(b[4] or '0')
local drift = want - left
if b[1] == '1' then drift = 0 end
redis.call('HSET', KEYS[1], 'unl', '0', 'left', want, 'rev', rev)
return { 'ok', tostring(drift), tostring(left) }
