-- ack: deletes charges from the usage stream once the database holds them.
-- uses: balance
--
-- KEYS: usage stream.
-- ARGV: key prefix, then 7 per charge: stream id, token id ('' none), user id, quota, flags
--   ('tl' token limited, 'ul' user limited: "10", "01", ...), then the token's and the user's
--   quota_rev after the commit that wrote it (0: not known; for a charge an earlier run wrote,
--   a revision at or after that commit's).
-- Result: how many were deleted now.
-- Idempotent: only an entry deleted now touches its balances, so an ack sent twice (or by two
-- runs) counts once. For each limited balance it lowers `pend` and:
-- - loaded (or reconciled, or reset by a change) at that revision or later: gives the charge
--   back to `left`, as that quota read already held it while `pend` still did too;
-- - raises `mrev` to the revision: a load that read the quota before the commit (and so finds
--   the charge in neither the quota nor `pend`) is refused and reads it again.

local n = 0
for i = 2, #ARGV, 7 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    n = n + 1
    local quota = tonumber(ARGV[i + 3])
    local flags = ARGV[i + 4]
    if quota ~= 0 then
      local bal = {}
      if ARGV[i + 1] ~= '' and string.sub(flags, 1, 1) == '1' then
        bal[#bal + 1] = { ARGV[1] .. ':bal:t:' .. ARGV[i + 1], tonumber(ARGV[i + 5]) }
      end
      if string.sub(flags, 2, 2) == '1' then
        bal[#bal + 1] = { ARGV[1] .. ':bal:u:' .. ARGV[i + 2], tonumber(ARGV[i + 6]) }
      end
      for _, kr in ipairs(bal) do
        local key, rev = kr[1], kr[2]
        -- the settle that put the charge in the stream made the hash (its `pend`)
        if redis.call('EXISTS', key) == 1 then
          redis.call('HINCRBY', key, 'pend', 0 - quota)
          if rev > 0 then
            local b = redis.call('HMGET', key, 'unl', 'rev', 'mrev')
            if b[1] == '0' and tonumber(b[2] or '0') >= rev then redis.call('HINCRBY', key, 'left', quota) end
            raiseMrev(key, b[3], rev)
          end
        end
      end
    end
  end
end
return n
