-- Apply one batch's aggregated writes atomically, if nobody else wrote meanwhile.
--
-- KEYS[1]        the build marker (absent: the read model was lost; refuse)
-- KEYS[2..n+1]   the stored-offset keys of the batch's partitions
-- KEYS[n+2..n+s+1]  the state keys of the cases the batch changed
-- KEYS[n+s+2..]  every other key the writes touch: declared, not read from
--                here, so that on Redis Cluster a slot in migration is
--                redirected before anything is written, never half way
-- ARGV[1]        JSON array: the stored offsets the batch was computed from
--                (false for none), in the order of KEYS[2..n+1]
-- ARGV[2]        JSON array: the new offsets, same order
-- ARGV[3]        n, the number of offset keys
-- ARGV[4]        s, the number of states
-- ARGV[5..s+4]   the states, in the order of their keys
-- ARGV[s+5]      JSON object: the other writes (see metrics/writer.py:
--                delta_payload); last, so that the caller can send it as it
--                is, uncopied
--
-- Returns "OK", "NOTREADY" (no build marker) or "MOVED" (an offset changed:
-- another consumer wrote these partitions; the caller recomputes).
-- Scores and values travel as strings so that no precision is lost.
--
-- A handler's team in a leaderboard period (w.teams) is written with its
-- stamp only over an earlier stamp, or the same stamp and a smaller team:
-- the latest award wins whatever order the awards arrive in.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return 'NOTREADY'
end
local n = tonumber(ARGV[3])
local expected = cjson.decode(ARGV[1])
for i = 2, n + 1 do
  local current = redis.call('GET', KEYS[i])
  local want = expected[i - 1]
  if want == false or want == cjson.null then
    if current then return 'MOVED' end
  elseif current ~= want then
    return 'MOVED'
  end
end

-- True when string a sorts after string b byte by byte. (Lua's < compares
-- strings by the server's collation locale.)
local function after(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x > y
    end
  end
  return #a > #b
end

-- item: teams key, stamps key, then handler, stamp, team for handlers
-- first .. last (counted from 1).
local function latest_teams(item, first, last)
  local teams_key, stamps_key = item[1], item[2]
  local handlers = {}
  for j = first, last do
    handlers[#handlers + 1] = item[3 * j]
  end
  local stored = redis.call('HMGET', stamps_key, unpack(handlers))
  local teams, stamps = {}, {}
  for j = first, last do
    local handler, stamp, team = item[3 * j], item[3 * j + 1], item[3 * j + 2]
    local old = stored[j - first + 1]
    local wins
    if not old then
      wins = true
    elseif old == stamp then
      local current = redis.call('HGET', teams_key, handler)
      wins = (not current) or after(team, current)
    else
      wins = after(stamp, old)
    end
    if wins then
      teams[#teams + 1] = handler
      teams[#teams + 1] = team
      stamps[#stamps + 1] = handler
      stamps[#stamps + 1] = stamp
    end
  end
  if #teams > 0 then
    redis.call('HSET', teams_key, unpack(teams))
    redis.call('HSET', stamps_key, unpack(stamps))
  end
end

local s = tonumber(ARGV[4])
local w = cjson.decode(ARGV[s + 5])
for key, members in pairs(w.zrem) do
  for i = 1, #members, 5000 do
    redis.call('ZREM', key, unpack(members, i, math.min(i + 4999, #members)))
  end
end
for key, pairs_ in pairs(w.zadd) do
  for i = 1, #pairs_, 5000 do
    redis.call('ZADD', key, unpack(pairs_, i, math.min(i + 4999, #pairs_)))
  end
end
for key, fields in pairs(w.hdel) do
  redis.call('HDEL', key, unpack(fields))
end
for key, pairs_ in pairs(w.hset) do
  for i = 1, #pairs_, 5000 do
    redis.call('HSET', key, unpack(pairs_, i, math.min(i + 4999, #pairs_)))
  end
end
for _, item in ipairs(w.hincr) do
  redis.call('HINCRBY', item[1], item[2], item[3])
end
for _, item in ipairs(w.zincr) do
  redis.call('ZINCRBY', item[1], item[3], item[2])
end
for _, item in ipairs(w.teams) do
  local count = (#item - 2) / 3
  for first = 1, count, 1000 do
    latest_teams(item, first, math.min(first + 999, count))
  end
end
-- The states by MSET, in slices of 2,000.
for first = 1, s, 2000 do
  local pairs_ = {}
  for i = first, math.min(first + 1999, s) do
    pairs_[#pairs_ + 1] = KEYS[n + 1 + i]
    pairs_[#pairs_ + 1] = ARGV[4 + i]
  end
  redis.call('MSET', unpack(pairs_))
end
for key, values in pairs(w.rpush) do
  for i = 1, #values, 5000 do
    redis.call('RPUSH', key, unpack(values, i, math.min(i + 4999, #values)))
  end
end
for _, item in ipairs(w.expireat) do
  redis.call('EXPIREAT', item[1], item[2])
end
local offsets = cjson.decode(ARGV[2])
for i = 2, n + 1 do
  if offsets[i - 1] ~= false and offsets[i - 1] ~= cjson.null then
    redis.call('SET', KEYS[i], offsets[i - 1])
  end
end
return 'OK'
