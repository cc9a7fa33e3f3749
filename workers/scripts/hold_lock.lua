-- Renew KEYS[1] (ttl ARGV[2] ms) while it holds ARGV[1] (our token), or take it
-- when nobody holds it (it expired, or Redis lost it). Returns 1 when renewed,
-- 2 when taken, 0 when another token holds it.
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 2
end
return 0
