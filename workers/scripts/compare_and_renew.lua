-- Reset the ttl (ARGV[2], ms) of KEYS[1] only while it still holds ARGV[1] (our
-- token). Returns 1 when renewed, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
