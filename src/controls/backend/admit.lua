-- One request's controls, atomically, in one round trip: rate limits, revocation, stream lease.
-- The same decisions as the memory backend (src/controls/backend/memory.rs); GCRA as in
-- src/controls/gcra.rs. Times are microseconds since the epoch, from the replica's clock.
--
-- KEYS[1..n]      rate-limit keys (n = ARGV[2])
-- KEYS[n+1]       subject's not-before      KEYS[n+2] jti deny entry
-- KEYS[n+3]       video takedown            KEYS[n+4] subject's leases (sorted set)
-- ARGV[1]         now (µs)                  ARGV[2]   n
-- ARGV[3..2+2n]   t, tau of each limit (µs)
-- then            check_revocation (0/1), issued_at (s, or "" for none), check_jti (0/1),
--                 check_video (0/1), lease_max (0: no lease), session, lease_until (µs)
--
-- Returns {verdict, detail, remaining_1, reset_1, …}:
--   verdict 0 admitted; 1 rate limited (detail: which limit, 1-based; retry in the next field
--   pair's reset); 2 subject revoked; 3 token revoked; 4 video taken down; 5 too many streams
--   (detail: µs until the oldest lease ends).

local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local out = {0, 0}
local next_tats = {}

-- Rate limits: all must let the request through before any is charged.
for i = 1, n do
  local t = tonumber(ARGV[1 + 2 * i])
  local tau = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i])) or now
  local earliest = tat - tau
  if now < earliest then
    return {1, i, earliest - now, tat - now}
  end
  local next_tat = math.max(tat, now) + t
  next_tats[i] = next_tat
  local room = math.min(now + tau + t - next_tat, tau + t)
  out[#out + 1] = math.floor(room / t)
  out[#out + 1] = next_tat - now
end
for i = 1, n do
  -- The key lives as long as its state matters: an expired TAT reads as "now".
  redis.call('SET', KEYS[i], string.format('%d', next_tats[i]), 'PX', math.max(1, math.ceil((next_tats[i] - now) / 1000)))
end

local a = 2 + 2 * n
if ARGV[a + 1] == '1' then
  local not_before = tonumber(redis.call('GET', KEYS[n + 1]))
  if not_before then
    local issued_at = tonumber(ARGV[a + 2])
    if issued_at == nil or issued_at <= not_before then
      return {2, 0}
    end
  end
  if ARGV[a + 3] == '1' and redis.call('EXISTS', KEYS[n + 2]) == 1 then
    return {3, 0}
  end
  if ARGV[a + 4] == '1' and redis.call('EXISTS', KEYS[n + 3]) == 1 then
    return {4, 0}
  end
end

local lease_max = tonumber(ARGV[a + 5])
if lease_max > 0 then
  local leases = KEYS[n + 4]
  local session = ARGV[a + 6]
  local lease_until = tonumber(ARGV[a + 7])
  redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
  local held = redis.call('ZSCORE', leases, session)
  if not held and redis.call('ZCARD', leases) >= lease_max then
    local oldest = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
    return {5, tonumber(oldest[2]) - now}
  end
  if not held or tonumber(held) < lease_until then
    redis.call('ZADD', leases, string.format('%d', lease_until), session)
  end
  local last = redis.call('ZRANGE', leases, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', leases, math.ceil(tonumber(last[2]) / 1000))
end

return out
