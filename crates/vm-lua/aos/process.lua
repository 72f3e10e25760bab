-- The per-message flow of an aos-compatible process (spec §7.1).
local json = require('json')
local stringify = require('.stringify')
ao = require('.ao')
Handlers = require('.handlers')
Utils = require('.utils')
bint = require('.bint')

local process = { _version = '0.1.0' }

MAX_INBOX = MAX_INBOX or 10000
Inbox = Inbox or {}
Errors = Errors or {}
Name = Name or 'aos'
Owner = Owner or ''
Colors = Colors or {
  red = '\27[31m', green = '\27[32m', blue = '\27[34m', gray = '\27[90m', reset = '\27[0m',
}

function Version()
  return 'aorta aos-compatible ' .. process._version
end

function Prompt()
  return Name .. '@aorta[Inbox:' .. #Inbox .. ']> '
end

-- print goes into the message's Output.
function print(...)
  local parts = {}
  for i = 1, select('#', ...) do
    local v = select(i, ...)
    parts[i] = type(v) == 'table' and stringify.format(v) or tostring(v)
  end
  ao.log(table.concat(parts, '\t'))
end

function Send(msg)
  local sent = ao.send(msg)
  print('Message added to outbox')
  return sent
end

function Spawn(module, msg)
  if type(module) == 'table' then
    module, msg = ao._module, module
  end
  local spawned = ao.spawn(module or ao._module, msg)
  print('Spawn process request added to outbox')
  return spawned
end

function Assign(assignment)
  ao.assign(assignment)
  print('Assignment added to outbox')
end

function Receive(pattern)
  return Handlers.receive(pattern)
end

function Tab(msg)
  local out = {}
  for _, tag in ipairs(msg.TagArray or {}) do
    out[tag.name] = tag.value
  end
  return out
end

local native = require('aorta.internal')
local views = require('.views')
local RESERVED = views.RESERVED

-- In C for tables without metatables (every message the host gives); views.lua otherwise.
local function normalize(msg)
  if native.normalize(msg, RESERVED) then
    return msg
  end
  return views.normalize(msg)
end

local function reply(msg)
  return function(answer)
    if type(answer) == 'string' then
      answer = { Data = answer }
    end
    answer.Target = msg['Reply-To'] or answer.Target or msg.From
    answer['X-Reference'] = msg['X-Reference'] or msg.Reference or ''
    answer['X-Origin'] = msg['X-Origin'] or ''
    return ao.send(answer)
  end
end

local function forward(msg)
  return function(target, extra)
    local copy = {}
    for k, v in pairs(msg) do
      if type(v) ~= 'function' and k ~= 'Tags' and k ~= 'TagArray' and k ~= 'Id' and k ~= 'Owner'
        and k ~= 'From' and k ~= 'Signature' and k ~= 'Target' and k ~= 'Anchor'
        and k ~= 'Timestamp' and k ~= 'Block-Height' and k ~= 'Nonce' and k ~= 'Epoch'
        and k ~= 'Hash-Chain' and k ~= 'Cron' and k ~= 'Module' and k ~= 'Reference' then
        copy[k] = v
      end
    end
    copy.Target = target
    copy['Reply-To'] = msg['Reply-To'] or msg.From
    copy['X-Reference'] = msg['X-Reference'] or msg.Reference or ''
    copy['X-Origin'] = msg['X-Origin'] or msg.From or ''
    for k, v in pairs(extra or {}) do copy[k] = v end
    return ao.send(copy)
  end
end

-- A number from text, for seeding.
local function digest(text)
  local h = 5381
  for i = 1, #text do
    h = (h * 33 + text:byte(i)) & 0x7fffffffffffffff
  end
  return h
end

-- Eval: runs msg.Data as Lua (an expression first, then a block) and shows the result.
local function eval(msg)
  local code = msg.Data
  local fn, err = load('return ' .. code, 'aos', 't', _G)
  if not fn then
    fn, err = load(code, 'aos', 't', _G)
  end
  if not fn then
    error(err, 0)
  end
  local result = fn()
  local output = ao.outbox.Output
  local printed = type(output) == 'table' and output.data or nil
  local data = printed
  if result ~= nil then
    local text = type(result) == 'table' and stringify.format(result) or tostring(result)
    data = printed and (printed .. '\n' .. text) or text
  end
  local encoded = 'undefined'
  if type(result) == 'table' then
    local ok, text = pcall(json.encode, result)
    if ok then encoded = text end
  end
  ao.outbox.Output = { data = data or '', prompt = Prompt(), json = encoded }
end

local function boot(msg)
  local mode = msg.Tags['On-Boot']
  if mode == 'Data' and type(msg.Data) == 'string' and msg.Data ~= '' then
    eval(msg)
  end
end

local function default(msg)
  Inbox[#Inbox + 1] = msg
  if #Inbox > MAX_INBOX then
    table.remove(Inbox, 1)
  end
  print('New Message From ' .. tostring(msg.From) .. ': Action = ' .. tostring(msg.Action))
end

local function is_owner_eval(msg)
  return msg.Action == 'Eval' and msg.From == Owner
end

local function install_builtins()
  local has_eval = false
  for _, h in ipairs(Handlers.list) do
    if h.name == '_eval' then
      has_eval = true
      break
    end
  end
  if not has_eval then
    Handlers.prepend('_eval', is_owner_eval, eval)
  end
  if not Booted then
    Handlers.prepend('_boot', function(msg) return msg.Id ~= nil and msg.Id == ao.id end, function(msg)
      Booted = true
      Handlers.remove('_boot')
      boot(msg)
    end)
  end
  -- `_default` stays last, even after handlers were added behind it.
  local list = Handlers.list
  if #list == 0 or list[#list].name ~= '_default' then
    Handlers.remove('_default')
    Handlers.append('_default', function() return true end, default)
  end
end

-- The environment as aos shows it: in C, at the tables' final sizes, for tables without
-- metatables (the host's always are), and the last message's view again when it still is
-- exactly what env gives; views.lua otherwise.
-- Also says whether it is the last message's view, handed over unchanged.
local last_view
local function environment(env)
  local made = native.env_view(env, last_view)
  local kept = made ~= nil and rawequal(made, last_view)
  last_view = made
  if made ~= nil then
    return made, kept
  end
  return views.environment(env), false
end

-- What the handlers' coroutine yields when a message is done (anything else it yields is a
-- Receive waiting for its message).
local DONE = {}
local worker

local function evaluate_loop(msg, env)
  while true do
    Handlers.evaluate(msg, env)
    msg, env = coroutine.yield(DONE)
  end
end

function process.handle(msg, env)
  local unchanged
  env, unchanged = environment(env)
  ao.init(env, unchanged)
  normalize(msg)
  if not Seeded then
    math.randomseed(digest(tostring(msg['Block-Height']) .. tostring(msg.Owner)
      .. tostring(ao._module) .. tostring(msg.Id)))
    Seeded = true
  end
  if msg.Id ~= nil and msg.Id == ao.id and Owner == '' then
    Owner = msg.Tags['From-Process'] or msg.From or ''
    Name = (env.Process and env.Process.Tags.Name) or Name
  end
  if msg.Tags['Content-Type'] == 'application/json' and type(msg.Data) == 'string' then
    local ok, decoded = pcall(json.decode, msg.Data)
    if ok then
      msg.Data = decoded
    end
  end
  msg.reply = reply(msg)
  msg.forward = forward(msg)

  if not ao.isTrusted(msg) then
    print('Message is not trusted by this process!')
    return ao.result()
  end
  if ao.isAssignment(msg) and not ao.isAssignable(msg) then
    print('Assignment is not trusted by this process!')
    return ao.result()
  end

  install_builtins()
  -- Handlers run in a coroutine (Receive yields from it). One that finished its message waits
  -- for the next one, so its stack and call frames are not made again every message.
  local co = worker or coroutine.create(evaluate_loop)
  worker = nil
  local ok, err = coroutine.resume(co, msg, env)
  if ok and err == DONE then
    worker = co
  end
  if not ok then
    Errors[#Errors + 1] = err
    local output = ao.outbox.Output
    local printed = type(output) == 'table' and output.data or nil
    return { Error = (printed and printed ~= '' and (printed .. '\n') or '') .. tostring(err) }
  end
  local result = ao.result()
  if type(result.Output) == 'table' and result.Output.print then
    result.Output.prompt = Prompt()
  end
  return result
end

return process
