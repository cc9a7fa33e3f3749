-- Renew KEYS[1] (ttl ARGV[2] ms) while it holds ARGV[1] (our token), or take it
-- when nobody holds it. Returns 1 when we hold it now, else 0.
local current = redis.call('GET', KEYS[1])
if current == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
