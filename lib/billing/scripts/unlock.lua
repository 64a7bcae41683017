-- unlock: releases the usage-flush lock if this run still holds it.
--
-- KEYS: lock.
-- ARGV: the holder's token.
-- Result: 1 when released, 0 when it had expired or another run holds it.

if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
