-- load: loads a balance from the stored quota, unless it is loaded.
-- uses: balance
--
-- KEYS: balance.
-- ARGV: stored quota ('' = unlimited), the quota_rev it was read at.
-- Result: 1 when loaded now, 0 when it was loaded already (idempotent, safe late), -1 when
--   refused: the database changed this quota after the read (`mrev`, recorded by a change, a
--   repay or usage-flush's ack while the balance was not loaded), so the caller reads it again.
-- Charges settled here before the load (a hold lost with a Redis restart) wait in `pend`: the
-- quota read may not hold them yet, so they are taken from it. One that usage-flush wrote and
-- acknowledged after the read has left `pend` (its ack raised `mrev`): the load is refused. One
-- written before the read and acknowledged after the load is in both; its ack gives it back
-- (see ack.lua).

local b = redis.call('HMGET', KEYS[1], 'unl', 'pend', 'mrev')
if b[1] then return 0 end
if tonumber(b[3] or '0') > tonumber(ARGV[2]) then return -1 end
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'unl', '1', 'left', '0', 'held', '0', 'rev', ARGV[2])
else
  redis.call('HSET', KEYS[1], 'unl', '0', 'left', tonumber(ARGV[1]) - tonumber(b[2] or '0'), 'held', '0', 'rev', ARGV[2])
end
-- a hash made earlier only to record `mrev` had a time to live: a loaded balance has none
redis.call('PERSIST', KEYS[1])
return 1
