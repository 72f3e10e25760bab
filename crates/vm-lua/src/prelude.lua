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
package.loaded['aorta.internal'] = _aorta
_aorta = nil

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

-- WeaveDrive (spec §6.7) and llama, over the host's functions (`_host`, removed from the
-- globals here). Files are read-only: `io.open(path)` and `require('weavedrive').open(path)`
-- give the same handle (`read`, `seek`, `lines`, `close`); the Drive decides admissibility.
local host = _host
_host = nil
local File = {}
File.__index = File

-- Up to n bytes from the position (the host serves large reads in pieces).
function File:take(n)
  local parts = {}
  while n > 0 and self.pos < self.size do
    local chunk = host.drive_read(self.path, self.pos, n)
    if #chunk == 0 then
      break
    end
    parts[#parts + 1] = chunk
    self.pos = self.pos + #chunk
    n = n - #chunk
  end
  return concat(parts)
end

function File:read(what)
  what = what or "l"
  if type(what) == "string" then
    what = what:gsub("^%*", "")
  end
  if self.pos >= self.size then
    return (what == "a") and "" or nil
  end
  if what == "a" then
    return self:take(self.size - self.pos)
  elseif type(what) == "number" then
    return self:take(math.max(0, math.tointeger(what) or 0))
  elseif what == "l" or what == "L" then
    local line = {}
    while self.pos < self.size do
      local chunk = host.drive_read(self.path, self.pos, 4096)
      local nl = chunk:find("\n", 1, true)
      if nl then
        line[#line + 1] = chunk:sub(1, what == "L" and nl or nl - 1)
        self.pos = self.pos + nl
        return concat(line)
      end
      line[#line + 1] = chunk
      self.pos = self.pos + #chunk
    end
    return concat(line)
  end
  error("bad argument #1 to 'read' (invalid format)", 2)
end

function File:seek(whence, offset)
  whence, offset = whence or "cur", offset or 0
  local base = (whence == "set" and 0) or (whence == "end" and self.size) or self.pos
  self.pos = math.max(0, base + offset)
  return self.pos
end

function File:lines(what)
  return function()
    return self:read(what)
  end
end

function File:close()
  return true
end

local weavedrive = {}
function weavedrive.open(path, mode)
  if mode ~= nil and mode ~= "r" and mode ~= "rb" then
    return nil, path .. ": WeaveDrive files are read-only"
  end
  local ok, size = pcall(host.drive_size, path)
  if not ok then
    return nil, size
  end
  return setmetatable({ path = path, size = size, pos = 0 }, File)
end
io = { open = weavedrive.open }
package.loaded.io = io
package.loaded.weavedrive = weavedrive

-- aos-llama's API on the native engine. The context (keys and values of every position, the
-- tokens waiting to be run) lives in the process state, so it is rolled back with the rest.
local Llama = { temperature = 0, topP = 1 }
local model, context, pending = nil, nil, ""

function Llama.load(path, tokenizer)
  model = host.llama_load(path, tokenizer)
  context, pending = nil, ""
end

local function loaded()
  if model == nil then
    error("no model loaded: call Llama.load('/data/<id>') first", 3)
  end
  return model
end

function Llama.setPrompt(text)
  context, pending = nil, host.llama_tokenize(loaded(), text, true)
end

function Llama.add(text)
  pending = pending .. host.llama_tokenize(loaded(), text, false)
end

-- The next piece of text, or nil at the end of the model's turn.
function Llama.next()
  local token, piece, done
  context, token, piece, done =
    host.llama_next(loaded(), context, pending, Llama.temperature, Llama.topP, math.random())
  -- The chosen token runs at the next call (an end-of-turn token too, so that the context
  -- holds the whole conversation when more is added).
  pending = string.pack("<I4", token)
  if done then
    return nil
  end
  return piece
end

function Llama.run(count)
  local out = {}
  for _ = 1, count do
    local piece = Llama.next()
    if piece == nil then
      break
    end
    out[#out + 1] = piece
  end
  return concat(out)
end

function Llama.stop()
  context, pending = nil, ""
end

function Llama.setTemperature(t)
  Llama.temperature = t
end

function Llama.setTopP(p)
  Llama.topP = p
end

-- The prompt for a conversation ({ {role=..., content=...}, ... }) in the model's own format.
function Llama.chat(messages)
  return host.llama_chat(loaded(), package.loaded.json.encode(messages))
end

function Llama.info()
  return host.llama_info(model)
end

package.preload.llama = function()
  _G.Llama = Llama
  return Llama
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
