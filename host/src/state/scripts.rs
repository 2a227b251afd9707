//! The Lua scripts that make each Redis check one atomic round trip. Time comes from the
//! Redis server (`TIME`), so every node sees one clock.

/// Shared functions: the server clock and the token bucket.
const PRELUDE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Takes `cost` tokens from the bucket at `key` (at most `cap`, refilled at `rate` per
-- second, full when new): {taken 0/1, whole tokens left, ms until a retry can pass (-1 never)}.
local function take(key, cap, rate, cost)
  local now = now_ms()
  local b = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(b[1]), tonumber(b[2])
  if tokens == nil or at == nil then tokens, at = cap, now end
  if rate > 0 and now > at then tokens = math.min(cap, tokens + (now - at) * rate / 1000) end
  -- Kept until it would be full again (at most 400 days): a bucket that is gone starts full.
  local taken, retry, idle = 0, 0, 34560000000
  if tokens >= cost then
    tokens, taken = tokens - cost, 1
  elseif cost > cap or rate <= 0 then
    retry = -1
  else
    retry = math.ceil((cost - tokens) * 1000 / rate)
  end
  if rate > 0 then idle = math.min(idle, math.ceil((cap - tokens) * 1000 / rate)) end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, idle + 1000)
  return {taken, math.floor(tokens), retry}
end
";

/// `take`: KEYS[1] the bucket; ARGV capacity, rate, cost.
const TAKE: &str = r"
return take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
";

/// `add`: KEYS[1] the counter; ARGV delta, time to live in ms (set when the key has none).
const ADD: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return v
";

/// `meter`: KEYS[1] the throttle bucket, KEYS[2] the quota counter (same hash tag); ARGV
/// has-bucket, capacity, rate, has-quota, limit, ms to the period's end. Answers
/// {verdict (0 allowed, 1 throttled, 2 over quota), quota used, tokens left, retry ms}.
const METER: &str = r"
local used = 0
if ARGV[4] == '1' then
  used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= tonumber(ARGV[5]) then return {2, used, 0, 0} end
end
local left = -1
if ARGV[1] == '1' then
  local r = take(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]), 1)
  if r[1] == 0 then return {1, used, r[2], r[3]} end
  left = r[2]
end
if ARGV[4] == '1' then
  used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[6]) end
end
return {0, used, left, 0}
";

/// The scripts, loaded once per store.
pub struct Scripts {
    /// See [`TAKE`].
    pub take: redis::Script,
    /// See [`ADD`].
    pub add: redis::Script,
    /// See [`METER`].
    pub meter: redis::Script,
}

impl Default for Scripts {
    fn default() -> Self {
        Self {
            take: redis::Script::new(&format!("{PRELUDE}{TAKE}")),
            add: redis::Script::new(ADD),
            meter: redis::Script::new(&format!("{PRELUDE}{METER}")),
        }
    }
}
