-- Shared helpers, prepended (by billing-scripts.ts) to the scripts whose header says
-- "uses: bucket". Not a script by itself.
--
-- GCRA, as in rate-bucket.ts: a limit of `limit` per `win` ms is a bucket that refills
-- continuously; its state is one number (the theoretical arrival time, ms), so a request's
-- limits are read with one MGET and written with one MSET.

-- returns the new arrival time, or nil and the wait in ms (-1: never)
local function take(tat, now, limit, cost, win)
  if cost > limit then return nil, -1 end
  local per = win / limit
  local nxt = math.max(tat or now, now) + cost * per
  local over = nxt - now - win
  if over > 0 then return nil, math.ceil(over) end
  return nxt, 0
end
local function fmt(tat)
  return string.format('%.3f', tat)
end
