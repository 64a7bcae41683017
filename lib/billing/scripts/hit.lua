-- hit: counts one hit in a plain per-minute window (the admin API's per-IP limit).
-- uses: bucket
--
-- KEYS: window.
-- ARGV: now (ms), window (s), limit.
-- Result: {1, 0} when it passes, {0, waitMs} when refused (nothing taken).

local now = tonumber(ARGV[1])
local nxt, wait = take(tonumber(redis.call('GET', KEYS[1])), now, tonumber(ARGV[3]), 1, tonumber(ARGV[2]) * 1000)
if not nxt then return { 0, wait } end
redis.call('SET', KEYS[1], fmt(nxt), 'PX', math.ceil(nxt - now) + 1000)
return { 1, 0 }
