-- Write the whole desired state, unless it is already there.
-- KEYS[1] the desired hash, KEYS[2] its marker, KEYS[3] the generation counter;
-- ARGV[1] the highest generation among the specs, ARGV[2..] job key, spec JSON pairs.
-- Atomic, so no job ever sees the marker without the keys it marks. The counter
-- is raised to that generation so no later change reuses a number still in use.
-- Returns 1 when written, 0 when the marker was there (nothing changed).
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('SET', KEYS[2], '1')
local current = tonumber(redis.call('GET', KEYS[3]) or '0')
if current < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[3], ARGV[1])
end
return 1
