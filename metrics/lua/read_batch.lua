-- Read what one batch needs, in one atomic step (any deployment: every key
-- shares the read model's hash tag, so this runs on Redis Cluster too).
--
-- KEYS[1]      the build marker
-- KEYS[2..n]   the stored-offset keys of the batch's partitions, then the
--              state keys of its cases
--
-- Returns {1 or 0 (marker present), {value or false per key of KEYS[2..n]}}.

local values = {}
for i = 2, #KEYS do
  values[i - 1] = redis.call('GET', KEYS[i])
end
return {redis.call('EXISTS', KEYS[1]), values}
