-- The envelope of the WASM Lua process: JSON in, `handle(msg, env)`, `{ok, response}` out.
local json = {}

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function escape(s)
  return (s:gsub('[%c"\\]', function(c) return escapes[c] or string.format('\\u%04x', c:byte()) end))
end

local function array_length(t)
  local n = 0
  for k in pairs(t) do
    if math.type(k) ~= 'integer' or k < 1 then return nil end
    n = n + 1
  end
  for i = 1, n do if t[i] == nil then return nil end end
  return n
end

local function encode(v, out)
  local kind = type(v)
  if kind == 'nil' then out[#out + 1] = 'null'
  elseif kind == 'boolean' then out[#out + 1] = tostring(v)
  elseif kind == 'number' then
    if math.type(v) == 'integer' then out[#out + 1] = string.format('%d', v)
    elseif v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = 'null'
    else out[#out + 1] = string.format('%.14g', v) end
  elseif kind == 'string' then out[#out + 1] = '"' .. escape(v) .. '"'
  elseif kind == 'table' then
    local n = array_length(v)
    if n then
      out[#out + 1] = '['
      for i = 1, n do
        if i > 1 then out[#out + 1] = ',' end
        encode(v[i], out)
      end
      out[#out + 1] = ']'
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      out[#out + 1] = '{'
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = ',' end
        out[#out + 1] = '"' .. escape(tostring(k)) .. '":'
        encode(v[k], out)
      end
      out[#out + 1] = '}'
    end
  else
    error('cannot encode a ' .. kind .. ' as JSON')
  end
end

function json.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

local decode

local function skip(s, i)
  return s:find('[^ \t\r\n]', i) or #s + 1
end

local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == '' then error('unterminated JSON string') end
    if c == '"' then return table.concat(out), j + 1 end
    if c == '\\' then
      local e = s:sub(j + 1, j + 1)
      local simple = { b = '\b', f = '\f', n = '\n', r = '\r', t = '\t', ['"'] = '"', ['\\'] = '\\', ['/'] = '/' }
      if simple[e] then
        out[#out + 1] = simple[e]
        j = j + 2
      elseif e == 'u' then
        local code = tonumber(s:sub(j + 2, j + 5), 16)
        j = j + 6
        if code >= 0xD800 and code <= 0xDBFF and s:sub(j, j + 1) == '\\u' then
          local low = tonumber(s:sub(j + 2, j + 5), 16)
          code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
          j = j + 6
        end
        out[#out + 1] = utf8.char(code)
      else
        error('bad JSON escape')
      end
    else
      local k = s:find('["\\]', j) or #s + 1
      out[#out + 1] = s:sub(j, k - 1)
      j = k
    end
  end
end

-- The items of an object or array from just after its opening bracket: `item` reads one
-- into `t` and answers where it ended.
local function sequence(s, i, close, what, item)
  local t = {}
  i = skip(s, i)
  if s:sub(i, i) == close then return t, i + 1 end
  while true do
    i = skip(s, item(t, i))
    local d = s:sub(i, i)
    if d == close then return t, i + 1 end
    if d ~= ',' then error('expected , in JSON ' .. what) end
    i = i + 1
  end
end

decode = function(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == '{' then
    return sequence(s, i + 1, '}', 'object', function(t, j)
      local k
      k, j = decode_string(s, skip(s, j))
      j = skip(s, j)
      if s:sub(j, j) ~= ':' then error('expected : in JSON object') end
      t[k], j = decode(s, j + 1)
      return j
    end)
  elseif c == '[' then
    return sequence(s, i + 1, ']', 'array', function(t, j)
      local v
      v, j = decode(s, j)
      t[#t + 1] = v
      return j
    end)
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:sub(i, i + 3) == 'true' then return true, i + 4
  elseif s:sub(i, i + 4) == 'false' then return false, i + 5
  elseif s:sub(i, i + 3) == 'null' then return nil, i + 4
  else
    local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', i)
    if not num or num == '' then error('unexpected JSON at ' .. i) end
    return math.tointeger(tonumber(num)) or tonumber(num), i + #num
  end
end

function json.decode(s)
  local v = decode(s, 1)
  return v
end

package = { loaded = { json = json } }
function require(name)
  return package.loaded[name] or error('module ' .. name .. ' not found')
end

local now = 0
os = { time = function() return now end }

function __handle(m, e)
  local ok, response = pcall(function()
    local msg, env = json.decode(m), json.decode(e)
    now = msg.Timestamp or now
    return handle(msg, env)
  end)
  if ok then
    return json.encode({ ok = true, response = response or {} })
  end
  return json.encode({ ok = false, response = tostring(response) })
end
