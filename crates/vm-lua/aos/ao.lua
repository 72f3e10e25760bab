-- The `ao` object: the process's identity and its outbox (messages, spawns, assignments).
local json = require('json')
-- aorta's C helpers (`lua/aorta.c`): the hot loops of this library.
local native = require('aorta.internal')

local ao = ao or {
  _version = '0.1.0',
  id = '',
  _module = '',
  authorities = {},
  reference = 0,
  outbox = { Output = {}, Messages = {}, Spawns = {}, Assignments = {} },
  assignables = {},
  env = {},
}

-- Fields of a message table that are not copied into tags.
local NOT_TAGS = {
  Target = true, Data = true, Anchor = true, Tags = true, Assignments = true,
  onReply = true, receive = true,
}

local function tag_list(list, t)
  if type(t) ~= 'table' then
    return
  end
  if #t > 0 then
    for _, tag in ipairs(t) do
      list[#list + 1] = { name = tag.name, value = tag.value }
    end
  else
    local names = {}
    for k in pairs(t) do names[#names + 1] = k end
    table.sort(names)
    for _, k in ipairs(names) do
      list[#list + 1] = { name = k, value = t[k] }
    end
  end
end

-- Every other string-keyed field that is not a table or function, sorted by name: a
-- `{ name, value }` tag each, appended to `list` (in C: this runs for every outgoing item).
local function extra_tags(list, msg)
  native.extra_tags(list, msg, NOT_TAGS)
end

local function has_tag(list, name)
  for _, tag in ipairs(list) do
    if tag.name == name then
      return true
    end
  end
  return false
end

-- Table data becomes JSON with a Content-Type tag.
local function encode_data(data, tags)
  if type(data) == 'table' then
    if not has_tag(tags, 'Content-Type') then
      tags[#tags + 1] = { name = 'Content-Type', value = 'application/json' }
    end
    return json.encode(data)
  end
  return data
end

local function next_reference()
  ao.reference = ao.reference + 1
  return ao.reference
end

-- An Authority tag's comma-separated addresses, trimmed. Splits are kept by the tag's text
-- (the same value every message, so the pattern matcher runs once), at most 16 of them.
local authority_lists, kept = {}, 0
local function authority_list(value)
  if type(value) ~= 'string' then
    value = tostring(value)
  end
  local list = authority_lists[value]
  if list == nil then
    if kept == 16 then
      authority_lists, kept = {}, 0
    end
    kept = kept + 1
    list = {}
    for part in value:gmatch('[^,]+') do
      local trimmed = part:match('^%s*(.-)%s*$')
      if trimmed ~= '' then
        list[#list + 1] = trimmed
      end
    end
    authority_lists[value] = list
  end
  return list
end

-- What the last environment's tags said: what the Module tags make of an unset `ao._module`,
-- and the authorities. process.handle hands over the same environment view only while it
-- (and with it its tag list) is unchanged, and says so (`unchanged`): then they are read from
-- here instead of from the tags again.
local read_for, read_module, read_authorities

-- Called at the start of every message (spec §7.1 step 1).
function ao.init(env, unchanged)
  ao.env = env
  local process = env and env.Process or {}
  if process.Id then
    ao.id = process.Id
  end
  local authorities = {}
  if unchanged == true and env ~= nil and rawequal(env, read_for) then
    if ao._module == '' then
      ao._module = read_module
    end
    for i = 1, #read_authorities do
      authorities[i] = read_authorities[i]
    end
  else
    -- The tag list: `TagArray` once the map view has replaced `Tags` (as process.handle
    -- passes).
    local tags = process.TagArray or process.Tags or {}
    -- What the Module tags make of an unset `ao._module` (the first one that is not '').
    local module = ''
    for _, tag in ipairs(tags) do
      if tag.name == 'Module' then
        if module == '' then
          module = tag.value
        end
        if ao._module == '' then
          ao._module = tag.value
        end
      elseif tag.name == 'Authority' then
        for _, address in ipairs(authority_list(tag.value)) do
          authorities[#authorities + 1] = address
        end
      end
    end
    read_for, read_module, read_authorities = env, module, {}
    for i = 1, #authorities do
      read_authorities[i] = authorities[i]
    end
  end
  ao.authorities = authorities
  ao.outbox = { Output = {}, Messages = {}, Spawns = {}, Assignments = {} }
end

function ao.log(text)
  local output = ao.outbox.Output
  if type(output) ~= 'table' then
    output = { data = tostring(output) }
    ao.outbox.Output = output
  end
  output.data = (output.data and output.data ~= '' and (output.data .. '\n') or '') .. text
  output.print = true
end

local function authority(address)
  for _, a in ipairs(ao.authorities) do
    if a == address then
      return true
    end
  end
  return false
end

-- A message is trusted when its sender signed it, or its signer or sender is an authority.
function ao.isTrusted(msg)
  return msg.From == msg.Owner or authority(msg.Owner) or authority(msg.From)
end

function ao.addAssignable(name, spec)
  if spec == nil then
    name, spec = nil, name
  end
  if name == nil then
    name = #ao.assignables + 1
  end
  for i, a in ipairs(ao.assignables) do
    if a.name == name then
      ao.assignables[i] = { name = name, pattern = spec }
      return
    end
  end
  ao.assignables[#ao.assignables + 1] = { name = name, pattern = spec }
end

function ao.removeAssignable(name)
  for i, a in ipairs(ao.assignables) do
    if a.name == name or i == name then
      table.remove(ao.assignables, i)
      return
    end
  end
end

-- An assignment: a message for another process (or none) that this process was given.
function ao.isAssignment(msg)
  return msg.Id ~= ao.id and msg.Target ~= ao.id
end

function ao.isAssignable(msg)
  for _, a in ipairs(ao.assignables) do
    if Handlers.decide(a.pattern, msg) ~= 0 then
      return true
    end
  end
  return false
end

-- The tags every outgoing item starts with: protocol, type, `extra`, then its Reference.
local function base_tags(kind, reference, extra)
  local tags = {
    { name = 'Data-Protocol', value = 'ao' },
    { name = 'Variant', value = 'ao.TN.1' },
    { name = 'Type', value = kind },
  }
  for _, tag in ipairs(extra or {}) do
    tags[#tags + 1] = tag
  end
  tags[#tags + 1] = { name = 'Reference', value = tostring(reference) }
  return tags
end

-- What `send`/`spawn` return: a view of the item (its fields read through) with
-- `onReply(fn)` and `receive()` waiting for the answer that matches its pattern. A shared
-- metatable rather than a copy and two closures per message: most results are never used.
-- The reply pattern is built only when asked for.
local function reply_pattern(handle)
  local reference = tostring(rawget(handle, '_reference'))
  if rawget(handle, '_spawn') then
    return { Action = 'Spawned', From = ao.id, Reference = reference }
  end
  return { From = rawget(handle, '_item').Target, ['X-Reference'] = reference }
end

local Awaitable = {
  __index = function(handle, key)
    if key == 'onReply' then
      return function(fn) Handlers.once(reply_pattern(handle), fn) end
    elseif key == 'receive' then
      return function() return Handlers.receive(reply_pattern(handle)) end
    end
    return rawget(handle, '_item')[key]
  end,
}

local function awaitable(item, reference, spawn)
  return setmetatable({ _item = item, _reference = reference, _spawn = spawn }, Awaitable)
end

-- An outgoing item's tags (base_tags, then extra_tags of `msg`) and its Anchor. In C at the
-- list's final size when the reference is an integer and the tables have no metatables (as
-- always, unless a process changed `ao.reference` or sends such a table); the same here
-- otherwise.
local native_item_tags = native.item_tags
local function item_tags(kind, reference, msg, extra)
  local tags, anchor = native_item_tags(kind, reference, msg, NOT_TAGS, extra)
  if tags == nil then
    tags = base_tags(kind, reference, extra)
    extra_tags(tags, msg)
    anchor = string.format('%032d', reference)
  end
  return tags, anchor
end

-- Queues a message; its reply comes from the target with our Reference as X-Reference.
function ao.send(msg)
  assert(type(msg) == 'table', 'ao.send: the message must be a table')
  local reference = next_reference()
  local tags, anchor = item_tags('Message', reference, msg)
  tag_list(tags, msg.Tags)
  local message = {
    Target = msg.Target,
    Anchor = anchor,
    Tags = tags,
  }
  message.Data = encode_data(msg.Data, tags)
  if type(msg.Assignments) == 'table' then
    message.Assignments = msg.Assignments
  end
  ao.outbox.Messages[#ao.outbox.Messages + 1] = message
  return awaitable(message, reference, false)
end

-- Queues a new process of `module`; its answer is the Spawned notice with our Reference.
function ao.spawn(module, msg)
  assert(type(module) == 'string', 'ao.spawn: the module id must be a string')
  msg = msg or {}
  assert(type(msg) == 'table', 'ao.spawn: the message must be a table')
  local reference = next_reference()
  local tags, anchor = item_tags('Process', reference, msg, {
    { name = 'From-Process', value = ao.id },
    { name = 'From-Module', value = ao._module },
    { name = 'Module', value = module },
  })
  tag_list(tags, msg.Tags)
  local spawn = {
    Anchor = anchor,
    Tags = tags,
  }
  spawn.Data = encode_data(msg.Data or 'NODATA', tags)
  ao.outbox.Spawns[#ao.outbox.Spawns + 1] = spawn
  return awaitable(spawn, reference, true)
end

-- Queues an assignment of an existing message to other processes.
function ao.assign(assignment)
  assert(type(assignment) == 'table', 'ao.assign: the assignment must be a table')
  assert(type(assignment.Processes) == 'table', 'ao.assign: Processes must be a list of ids')
  assert(type(assignment.Message) == 'string', 'ao.assign: Message must be a message id')
  local entry = { Processes = assignment.Processes, Message = assignment.Message }
  if assignment.Exclude then entry.Exclude = assignment.Exclude end
  if assignment.BaseLayer then entry.BaseLayer = true end
  ao.outbox.Assignments[#ao.outbox.Assignments + 1] = entry
end

-- The response of this message.
function ao.result()
  local output = ao.outbox.Output
  if type(output) == 'table' and next(output) == nil then
    output = ''
  end
  return {
    Output = output,
    Messages = ao.outbox.Messages,
    Spawns = ao.outbox.Spawns,
    Assignments = ao.outbox.Assignments,
  }
end

return ao
