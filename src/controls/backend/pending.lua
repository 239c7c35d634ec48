-- An upload of unknown size (Uppy's), waiting to be counted once the store holds it.
-- KEYS[1]  the subject's pending uploads (a hash: object key → when it was signed, s)
-- ARGV[1]  object key      ARGV[2] when (s)      ARGV[3] most pending      ARGV[4] lifetime (s)
-- Returns 1 when tracked, 0 when the subject already has ARGV[3] pending.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 and redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
