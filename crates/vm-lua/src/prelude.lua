-- aorta's Lua sandbox, run once in every new process state after the standard libraries
-- (base, coroutine, table, string, math, utf8, bit32) and before the module.
-- It returns the function the host calls for every message.

local raw_load, select, type, error, tostring = load, select, type, error, tostring
local concat = table.concat

-- Source text only: precompiled chunks could break the interpreter's invariants.
load = function(chunk, chunkname, mode, ...)
  if mode ~= nil and mode ~= "t" then
    return nil, "attempt to load a " .. tostring(mode) .. " chunk (only text chunks are allowed)"
  end
  if select("#", ...) > 0 then
    return raw_load(chunk, chunkname, "t", (...))
  end
  return raw_load(chunk, chunkname, "t")
end
dofile, loadfile = nil, nil
string.dump = nil

-- Time is the message's: os.time() is its Timestamp (milliseconds, as aos expects).
local now = 0

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

os = {
  -- With a date table: seconds since the epoch of that UTC date, as C's timegm.
  time = function(t)
    if t == nil then
      return now
    end
    if type(t) ~= "table" then
      error("bad argument #1 to 'time' (table expected, got " .. type(t) .. ")", 2)
    end
    local function field(k, default)
      local v = t[k]
      if v == nil then
        if default == nil then
          error("field '" .. k .. "' missing in date table", 3)
        end
        return default
      end
      return math.tointeger(v) or error("field '" .. k .. "' is not an integer", 3)
    end
    local days = days_from_civil(field("year"), field("month"), field("day"))
    return ((days * 24 + field("hour", 12)) * 60 + field("min", 0)) * 60 + field("sec", 0)
  end,
}

-- A deterministic generator (xorshift64*) in place of the C library's, which differs between
-- libcs. Processes seed it themselves (aos does, per message).
local seed_state = 0x2545F4914F6CDD1D

local function next64()
  local x = seed_state
  x = x ~ (x >> 12)
  x = x ~ (x << 25)
  x = x ~ (x >> 27)
  seed_state = x
  return x * 0x2545F4914F6CDD1D
end

math.randomseed = function(x, y)
  local s = math.tointeger(x) or math.tointeger(math.floor(x * 2 ^ 31)) or 0
  s = s ~ ((math.tointeger(y) or 0) << 32) ~ 0x9E3779B97F4A7C15
  if s == 0 then
    s = 1
  end
  seed_state = s
  for _ = 1, 16 do
    next64()
  end
end

math.random = function(m, n)
  local r = next64()
  if m == nil then
    return (r >> 11) * (0.5 ^ 53)
  end
  local lo, hi
  if n == nil then
    lo, hi = 1, math.tointeger(m)
  else
    lo, hi = math.tointeger(m), math.tointeger(n)
  end
  if lo == nil or hi == nil then
    error("bad argument to 'random' (number has no integer representation)", 2)
  end
  if lo > hi then
    error("bad argument to 'random' (interval is empty)", 2)
  end
  local span = hi - lo + 1
  if span <= 0 then
    -- The whole integer range (or more than fits): any value will do.
    return lo + r
  end
  return lo + r % span
end

-- Modules bundled by `aorta module build` register themselves in package.preload.
package = {
  loaded = {},
  preload = {},
  path = "",
  cpath = "",
  config = "/\n;\n?\n!\n-\n",
}
for _, name in ipairs({ "coroutine", "table", "string", "math", "utf8", "bit32", "os" }) do
  package.loaded[name] = _G[name]
end
package.loaded._G = _G
package.loaded.json = json
json = nil

require = function(name)
  if type(name) ~= "string" then
    error("bad argument #1 to 'require' (string expected, got " .. type(name) .. ")", 2)
  end
  local loaded = package.loaded[name]
  if loaded ~= nil then
    return loaded
  end
  local loader = package.preload[name]
  if loader == nil then
    -- aos requires its own files as '.name'.
    local bare = name:gsub("^%.+", "")
    if bare ~= name then
      return require(bare)
    end
    error("module '" .. name .. "' not found:\n\tno field package.preload['" .. name .. "']", 2)
  end
  local result = loader(name, ":preload:")
  if result ~= nil then
    package.loaded[name] = result
  elseif package.loaded[name] == nil then
    package.loaded[name] = true
  end
  return package.loaded[name]
end

-- print collects lines; a response without Output gets them as its Output.
local printed = {}
print = function(...)
  local parts = {}
  for i = 1, select("#", ...) do
    parts[i] = tostring((select(i, ...)))
  end
  printed[#printed + 1] = concat(parts, "\t")
end

return function(msg, env)
  now = math.tointeger(msg.Timestamp) or 0
  printed = {}
  local handle = _G.handle
  if type(handle) ~= "function" then
    error("the process has no global function 'handle'")
  end
  local response = handle(msg, env)
  if type(response) == "table" and response.Output == nil and #printed > 0 then
    response.Output = concat(printed, "\n")
  end
  printed = {}
  return response
end
