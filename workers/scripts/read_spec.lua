-- A job's desired spec and whether the desired state exists, in one atomic read:
-- KEYS[1] the desired hash, KEYS[2] the desired-state marker, ARGV[1] the job key.
-- Returns the spec JSON, else 1 when the marker is there (the key was removed),
-- else 0 (the whole desired state is gone: Redis lost it).
local spec = redis.call('HGET', KEYS[1], ARGV[1])
if spec then
  return spec
end
return redis.call('EXISTS', KEYS[2])
