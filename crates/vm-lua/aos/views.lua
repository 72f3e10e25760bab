-- The views process.lua makes on every message, in plain Lua: what runs when aorta's C versions
-- (`aorta.internal`'s normalize and env_view) decline, for tables with metatables, and what
-- those are tested against.
local title_case = require('aorta.internal').title_case

local views = {}

-- Message fields that stay out of `msg[Name]` when copied from tags.
views.RESERVED = {
  ['Data-Protocol'] = true, Variant = true, ['From-Process'] = true, ['From-Module'] = true,
  Type = true, From = true, Owner = true, Anchor = true, Target = true, Data = true,
  Tags = true, ['Read-Only'] = true,
}
local RESERVED = views.RESERVED

-- Tags as a map (first occurrence wins), keeping the list as TagArray.
function views.tag_map(list)
  local map = {}
  for _, tag in ipairs(list or {}) do
    if type(tag) == 'table' and tag.name ~= nil and map[tag.name] == nil then
      map[tag.name] = tag.value
    end
  end
  return map
end
local tag_map = views.tag_map

-- Each tag's value also as `msg[Name]` (the name title-cased when it has no capital) unless
-- reserved or set; `Tags` becomes the map and the list `TagArray`.
function views.normalize(msg)
  local list = msg.Tags or {}
  msg.TagArray = list
  for _, tag in ipairs(list) do
    if type(tag) == 'table' and type(tag.name) == 'string' then
      local name = title_case(tag.name)
      if not RESERVED[name] and msg[name] == nil then
        msg[name] = tag.value
      end
    end
  end
  msg.Tags = tag_map(list)
  return msg
end

-- The environment as aos shows it (`Process.Tags` a map, the list as `Process.TagArray`), in
-- new tables: env itself is never written to.
function views.environment(env)
  if type(env) ~= 'table' or type(env.Process) ~= 'table' then
    return env
  end
  local view, process = {}, {}
  for k, v in pairs(env) do view[k] = v end
  for k, v in pairs(env.Process) do process[k] = v end
  process.TagArray = env.Process.Tags
  process.Tags = tag_map(env.Process.Tags)
  view.Process = process
  return view
end

return views
