-- reap: refunds a hold whose request will never settle (its node died, or it outlived the
-- hold TTL).
-- uses: balance
--
-- KEYS: holds, holdinfo.
-- ARGV: charge id, key prefix.
-- Result: the refunded reserve, or -1 when the hold is gone already (idempotent).

return release(KEYS[1], KEYS[2], ARGV[1], ARGV[2])
