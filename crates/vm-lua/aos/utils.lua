-- Small functional helpers (the `Utils` global), and balance arithmetic on integer strings.
local bint = require('.bint')

local utils = { _version = '0.1.0' }

-- Whether `value` matches `pattern`: equal, or a table whose every key matches.
function utils.matchesSpec(value, pattern)
  if type(pattern) ~= 'table' then
    return value == pattern
  end
  if type(value) ~= 'table' then
    return false
  end
  for k, p in pairs(pattern) do
    if not utils.matchesSpec(value[k], p) then
      return false
    end
  end
  return true
end

function utils.map(fn, list)
  local out = {}
  for i, v in ipairs(list) do
    out[i] = fn(v, i)
  end
  return out
end

function utils.filter(fn, list)
  local out = {}
  for _, v in ipairs(list) do
    if fn(v) then
      out[#out + 1] = v
    end
  end
  return out
end

function utils.reduce(fn, initial, list)
  local acc = initial
  for i, v in ipairs(list) do
    acc = fn(acc, v, i)
  end
  return acc
end

function utils.find(fn, list)
  for _, v in ipairs(list) do
    if fn(v) then
      return v
    end
  end
  return nil
end

function utils.includes(value, list)
  for _, v in ipairs(list) do
    if v == value then
      return true
    end
  end
  return false
end

function utils.keys(t)
  local out = {}
  for k in pairs(t) do
    out[#out + 1] = k
  end
  table.sort(out, function(a, b) return tostring(a) < tostring(b) end)
  return out
end

function utils.values(t)
  local out = {}
  for _, k in ipairs(utils.keys(t)) do
    out[#out + 1] = t[k]
  end
  return out
end

function utils.concat(a, b)
  local out = {}
  for _, v in ipairs(a) do out[#out + 1] = v end
  for _, v in ipairs(b) do out[#out + 1] = v end
  return out
end

function utils.propEq(name, value)
  return function(t) return type(t) == 'table' and t[name] == value end
end

-- Balance arithmetic: integer strings in, integer strings out.
function utils.add(a, b)
  return tostring(bint(a) + bint(b))
end

function utils.subtract(a, b)
  return tostring(bint(a) - bint(b))
end

function utils.multiply(a, b)
  return tostring(bint(a) * bint(b))
end

function utils.divide(a, b)
  return tostring(bint(a) // bint(b))
end

function utils.toBalanceValue(a)
  return tostring(bint(a))
end

function utils.toNumber(a)
  return tonumber(tostring(a))
end

return utils
