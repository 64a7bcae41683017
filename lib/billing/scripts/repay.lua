-- repay: closes requests a node took elsewhere (to the database) while Redis failed it.
-- uses: balance
--
-- KEYS: holds, holdinfo, done.
-- ARGV: key prefix, then 7 per request: charge id, token id ('' none), user id, quota charged,
--   the token's quota_rev after the charge was written (0: not charged there), the user's,
--   and the mode: 'x' (the node gave up on Redis for it: release any hold a late admit took,
--   and let no admit or settle of it run any more) or 'c' (it was charged on the database:
--   release any hold, and take the charge from each loaded balance that does not hold it yet;
--   a balance not loaded records the revision in `mrev`, so a load that read before it reads again).
-- Result: the number of charges applied.
-- Idempotent by charge id, and safe in any order with a late admit or settle of the same id:
-- whichever of settle and 'c' runs first charges, the other finds the id in `done`.

local applied = 0
for i = 2, #ARGV, 7 do
  local id, mode = ARGV[i], ARGV[i + 6]
  release(KEYS[1], KEYS[2], id, ARGV[1])
  if mode == 'x' then
    redis.call('ZADD', KEYS[3], nowMs(), id .. '~x')
  elseif not redis.call('ZSCORE', KEYS[3], id) then
    local quota = tonumber(ARGV[i + 3])
    local trev, urev = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5])
    if quota ~= 0 then
      if ARGV[i + 1] ~= '' and trev > 0 then applyAt(ARGV[1] .. ':bal:t:' .. ARGV[i + 1], 0 - quota, trev) end
      if urev > 0 then applyAt(ARGV[1] .. ':bal:u:' .. ARGV[i + 2], 0 - quota, urev) end
    end
    redis.call('ZADD', KEYS[3], nowMs(), id)
    applied = applied + 1
  end
end
return applied
