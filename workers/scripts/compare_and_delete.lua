-- Delete KEYS[1] only while it still holds ARGV[1] (our token): a lease or lock
-- taken since by someone else is never touched. Returns 1 when deleted, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
