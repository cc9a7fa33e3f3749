-- One request from an exchange's shared budget: a token bucket in the hash
-- KEYS[1] (fields tokens, at_ms), refilled continuously at ARGV[1] tokens per
-- second up to ARGV[2] (the burst). KEYS[2] is the exchange's backoff deadline
-- (a string that expires by itself): while it exists nothing is granted.
-- Redis's own clock is the one clock, so every worker process agrees.
-- Returns {granted (1|0), wait_ms before asking again, server time ms}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local backoff = redis.call('PTTL', KEYS[2])
if backoff > 0 then
  return {0, backoff, now}
end
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at_ms')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local granted = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  granted = 1
else
  wait = math.ceil((1 - tokens) / rate)
end
-- Floats survive as strings; the key lives as long as a full refill, then starts full.
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at_ms', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return {granted, wait, now}
