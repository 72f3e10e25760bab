-- Handlers: an ordered list of (name, pattern, handle[, maxRuns]); each message runs the
-- handlers whose pattern matches, in order, until one says stop.
--
-- A pattern is a function(msg), a string (= the Action), or a table of key → pattern, where a
-- value pattern is an exact string, a Lua pattern, "_" (present), a function(value, msg) or a
-- list of those (any). A function's result: true, -1 or "break" = run and stop; 1 or
-- "continue" = run and go on; false, nil, 0 or "skip" = do not run. A table or string that
-- matches means run and stop.

local utils = require('.handlers-utils')

local handlers = Handlers or { _version = '0.1.0', list = {}, onceNonce = 0 }
handlers.utils = utils

-- Whether a string holds a Lua pattern character (in C: this runs for every handler).
local has_magic = require('aorta.internal').has_magic

local function value_matches(pattern, value, msg)
  if pattern == '_' then
    return value ~= nil
  end
  local t = type(pattern)
  if t == 'function' then
    return pattern(value, msg) and true or false
  end
  if t == 'table' then
    for _, p in ipairs(pattern) do
      if value_matches(p, value, msg) then
        return true
      end
    end
    return false
  end
  if value == nil then
    return false
  end
  if value == pattern then
    return true
  end
  if t == 'string' and type(value) == 'string' and has_magic(pattern) then
    local ok, found = pcall(string.match, value, '^' .. pattern:gsub('^%^', ''):gsub('%$$', '') .. '$')
    return ok and found ~= nil
  end
  return false
end

local function spec_matches(spec, msg)
  for key, pattern in pairs(spec) do
    local value = msg[key]
    if value == nil and type(msg.Tags) == 'table' then
      value = msg.Tags[key]
    end
    if not value_matches(pattern, value, msg) then
      return false
    end
  end
  return true
end

-- -1 stop after running, 1 run and continue, 0 skip.
function handlers.decide(pattern, msg)
  local t = type(pattern)
  if t == 'string' then
    return msg.Action == pattern and -1 or 0
  end
  if t == 'table' then
    return spec_matches(pattern, msg) and -1 or 0
  end
  if t == 'function' then
    local r = pattern(msg)
    if r == true or r == -1 or r == 'break' then
      return -1
    elseif r == 1 or r == 'continue' then
      return 1
    end
    return 0
  end
  return 0
end

local function find(name)
  for i, h in ipairs(handlers.list) do
    if h.name == name then
      return i
    end
  end
  return nil
end

local function check(name, pattern, handle)
  assert(type(name) == 'string', 'handler name must be a string')
  local pt = type(pattern)
  assert(pt == 'function' or pt == 'table' or pt == 'string', 'invalid handler pattern')
  assert(type(handle) == 'function', 'handler must be a function')
end

local function entry(name, pattern, handle, maxRuns)
  return { name = name, pattern = pattern, handle = handle, maxRuns = maxRuns }
end

-- Adds at `position` (1 = first), or replaces in place when the name exists.
local function put(position, name, pattern, handle, maxRuns)
  check(name, pattern, handle)
  local h = entry(name, pattern, handle, maxRuns)
  local at = find(name)
  if at then
    handlers.list[at].removed = true
    handlers.list[at] = h
  elseif position then
    table.insert(handlers.list, position, h)
  else
    handlers.list[#handlers.list + 1] = h
  end
  return #handlers.list
end

function handlers.add(name, pattern, handle, maxRuns)
  return put(nil, name, pattern, handle, maxRuns)
end

handlers.append = handlers.add

function handlers.prepend(name, pattern, handle, maxRuns)
  return put(1, name, pattern, handle, maxRuns)
end

local function positional(target, offset)
  return {
    add = function(name, pattern, handle, maxRuns)
      check(name, pattern, handle)
      local existing = find(name)
      if existing then
        table.remove(handlers.list, existing)
      end
      local at = find(target)
      local position = at and at + offset or #handlers.list + 1
      table.insert(handlers.list, position, entry(name, pattern, handle, maxRuns))
      return #handlers.list
    end,
  }
end

function handlers.before(name)
  return positional(name, 0)
end

function handlers.after(name)
  return positional(name, 1)
end

-- `once(name, pattern, handle)` or `once(pattern, handle)`.
function handlers.once(name, pattern, handle)
  if handle == nil then
    name, pattern, handle = nil, name, pattern
  end
  if name == nil then
    handlers.onceNonce = handlers.onceNonce + 1
    name = '_once_' .. handlers.onceNonce
  end
  return handlers.prepend(name, pattern, handle, 1)
end

function handlers.remove(name)
  local at = find(name)
  if at then
    -- A running evaluation skips it from now on.
    handlers.list[at].removed = true
    table.remove(handlers.list, at)
  end
end

-- Suspends the running coroutine until a message matching `pattern` arrives; returns it.
function handlers.receive(pattern)
  local co = coroutine.running()
  handlers.once(pattern, function(msg)
    local ok, err = coroutine.resume(co, msg)
    if not ok then
      error(err, 0)
    end
  end)
  return coroutine.yield(pattern)
end

function handlers.evaluate(msg, env)
  -- A copy: handlers may add or remove handlers while running.
  local snapshot = { table.unpack(handlers.list) }
  -- A numeric loop (no iterator call per handler), stopping where ipairs would.
  for i = 1, #snapshot do
    local h = snapshot[i]
    if h == nil then
      break
    end
    if not h.removed then
      -- A string pattern (most handlers) decided here, without a call.
      local pattern = h.pattern
      local decision
      if type(pattern) == 'string' then
        decision = msg.Action == pattern and -1 or 0
      else
        decision = handlers.decide(pattern, msg)
      end
      if decision ~= 0 then
        if h.maxRuns ~= nil then
          h.maxRuns = h.maxRuns - 1
          if h.maxRuns <= 0 then
            handlers.remove(h.name)
          end
        end
        h.handle(msg, env)
      end
      if decision < 0 then
        break
      end
    end
  end
end

return handlers
