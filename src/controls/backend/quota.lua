-- Upload quotas, atomically: bytes per subject per fixed window, and reservations by upload.
-- The same decisions as the memory backend (src/controls/backend/memory.rs).
--
-- KEYS[1]  the subject's usage in the current window (an integer, bytes)
-- KEYS[2]  the upload's reservation: "<usage key>|<bytes>" while reserved, "settled" after
-- ARGV[1]  op: "reserve" | "release" | "settle" | "add" | "used"
-- ARGV[2]  bytes           ARGV[3] quota (bytes)
-- ARGV[4]  usage key's lifetime (ms)      ARGV[5] reservation's lifetime (ms)
--
-- Returns {ok (1/0), used after}. A reservation names the window it was charged to, so that a
-- release or settlement after the window turned adjusts that window, not the new one.

local op = ARGV[1]
local bytes = tonumber(ARGV[2])
local quota = tonumber(ARGV[3])
local usage_ttl = tonumber(ARGV[4])
local reservation_ttl = tonumber(ARGV[5])
local used = tonumber(redis.call('GET', KEYS[1])) or 0

local function adjust(key, delta)
  if delta ~= 0 and redis.call('EXISTS', key) == 1 then
    redis.call('INCRBY', key, delta)
  end
end

if op == 'used' then
  return {1, used}
end

local reservation = redis.call('GET', KEYS[2])

if op == 'reserve' then
  if reservation then
    return {1, used}
  end
  if used + bytes > quota then
    return {0, used}
  end
  redis.call('INCRBY', KEYS[1], bytes)
  redis.call('PEXPIRE', KEYS[1], usage_ttl)
  -- %d: Lua would write 1e14 and beyond as 1e+14, which the release's pattern cannot read.
  redis.call('SET', KEYS[2], KEYS[1] .. '|' .. string.format('%d', bytes), 'PX', reservation_ttl)
  return {1, used + bytes}
end

if op == 'release' then
  if reservation and reservation ~= 'settled' then
    local key, reserved = string.match(reservation, '^(.*)|(%d+)$')
    adjust(key, -tonumber(reserved))
    redis.call('DEL', KEYS[2])
  end
  return {1, tonumber(redis.call('GET', KEYS[1])) or 0}
end

-- settle (to the stored size) and add (bytes already stored, no reservation, never refused),
-- each once per upload
if reservation == 'settled' then
  return {1, used}
end
if reservation then
  local key, reserved = string.match(reservation, '^(.*)|(%d+)$')
  adjust(key, bytes - tonumber(reserved))
elseif op == 'add' then
  -- Bytes already stored (an upload of unknown size, found in the store): counted, never refused.
  redis.call('INCRBY', KEYS[1], bytes)
  redis.call('PEXPIRE', KEYS[1], usage_ttl)
end
redis.call('SET', KEYS[2], 'settled', 'PX', reservation_ttl)
return {1, tonumber(redis.call('GET', KEYS[1])) or 0}
