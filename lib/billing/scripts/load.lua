-- load: loads a balance from the stored quota, unless it is loaded.
-- uses: balance
--
-- KEYS: balance.
-- ARGV: stored quota ('' = unlimited), its quota_rev.
-- Result: 1 when loaded now, 0 when it was loaded already (idempotent, safe late).
-- Charges settled here before the load (a hold lost with a Redis restart) wait in `pend`: the
-- quota read may not hold them yet, so they are taken from it.

if redis.call('HEXISTS', KEYS[1], 'unl') == 1 then return 0 end
if ARGV[1] == '' then
  redis.call('HSET', KEYS[1], 'unl', '1', 'left', '0', 'held', '0', 'rev', ARGV[2])
else
  local pend = tonumber(redis.call('HGET', KEYS[1], 'pend') or '0')
  redis.call('HSET', KEYS[1], 'unl', '0', 'left', tonumber(ARGV[1]) - pend, 'held', '0', 'rev', ARGV[2])
end
return 1
