-- Readable text of Lua values, for Eval output: tables with sorted keys, nested and indented.
local stringify = {}

local function key_text(k)
  if type(k) == 'string' and k:match('^[%a_][%w_]*$') then
    return k
  end
  return '[' .. (type(k) == 'string' and string.format('%q', k) or tostring(k)) .. ']'
end

local function format(value, indent, seen)
  if type(value) == 'string' then
    return string.format('%q', value)
  end
  if type(value) ~= 'table' then
    return tostring(value)
  end
  if seen[value] then
    return '<cycle>'
  end
  seen[value] = true
  local keys = {}
  for k in pairs(value) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == 'number' or ta == 'string' then return a < b end
    return tostring(a) < tostring(b)
  end)
  if #keys == 0 then
    seen[value] = nil
    return '{}'
  end
  local pad = string.rep('  ', indent + 1)
  local parts = {}
  local n = #value
  for _, k in ipairs(keys) do
    local item = format(value[k], indent + 1, seen)
    if math.type(k) == 'integer' and k >= 1 and k <= n then
      parts[#parts + 1] = pad .. item
    else
      parts[#parts + 1] = pad .. key_text(k) .. ' = ' .. item
    end
  end
  seen[value] = nil
  return '{\n' .. table.concat(parts, ',\n') .. '\n' .. string.rep('  ', indent) .. '}'
end

function stringify.format(value)
  return format(value, 0, {})
end

return stringify
