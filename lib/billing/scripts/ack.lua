-- ack: deletes charges from the usage stream once the database holds them.
-- uses: balance
--
-- KEYS: usage stream.
-- ARGV: key prefix, then 5 per charge: stream id, token id ('' none), user id, quota, flags
--   ('tl' token limited, 'ul' user limited: "10", "01", ...).
-- Result: how many were deleted now.
-- Idempotent: only an entry deleted now lowers its balances' `pend`, so an ack sent twice
-- (or by two runs) counts once.

local n = 0
for i = 2, #ARGV, 5 do
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then
    n = n + 1
    local quota = tonumber(ARGV[i + 3])
    local flags = ARGV[i + 4]
    if quota ~= 0 then
      local keys = {}
      if ARGV[i + 1] ~= '' and string.sub(flags, 1, 1) == '1' then keys[#keys + 1] = ARGV[1] .. ':bal:t:' .. ARGV[i + 1] end
      if string.sub(flags, 2, 2) == '1' then keys[#keys + 1] = ARGV[1] .. ':bal:u:' .. ARGV[i + 2] end
      for _, key in ipairs(keys) do
        if redis.call('EXISTS', key) == 1 then redis.call('HINCRBY', key, 'pend', 0 - quota) end
      end
    end
  end
end
return n
