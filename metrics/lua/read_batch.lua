-- Read what one batch needs, in one atomic step (any deployment: every key
-- shares the read model's hash tag, so this runs on Redis Cluster too).
--
-- KEYS[1]      the build marker
-- KEYS[2..n]   the stored-offset keys of the batch's partitions, then the
--              state keys of its cases
--
-- Returns {1 or 0 (marker present), {value or false per key of KEYS[2..n]}}.

-- MGET in slices (one call per key costs Lua a round trip into the server each).
local values = {}
for first = 2, #KEYS, 1000 do
  local got = redis.call('MGET', unpack(KEYS, first, math.min(first + 999, #KEYS)))
  for j = 1, #got do
    values[#values + 1] = got[j]
  end
end
return {redis.call('EXISTS', KEYS[1]), values}
