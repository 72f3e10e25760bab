-- Arbitrary-precision integers for balances: sign and magnitude, magnitude in base 10^7 limbs
-- (least significant first). `bint(x)` accepts a bint, an integer, an integral float or a
-- decimal string ("-123"). Arithmetic, comparison and `tostring` work through metamethods;
-- `//` and `%` floor like Lua's.

local BASE = 10000000
-- `limbs(digits)` splits decimal digits into base-BASE limbs in C.
local native = require('aorta.internal')

local bint = {}
bint.__index = bint

local function trim(limbs)
  while #limbs > 1 and limbs[#limbs] == 0 do
    limbs[#limbs] = nil
  end
  return limbs
end

local function make(neg, limbs)
  trim(limbs)
  if #limbs == 1 and limbs[1] == 0 then
    neg = false
  end
  return setmetatable({ neg = neg, limbs = limbs }, bint)
end

local from_integer

local function from_string(s)
  -- Up to 18 digits fit an integer: one conversion, no substrings.
  if #s <= 18 and s:find('^%-?%d+$') then
    return from_integer(math.tointeger(tonumber(s)))
  end
  local sign, digits = s:match('^%s*([+-]?)(%d+)%s*$')
  if not digits then
    error("bint: not an integer: '" .. s .. "'", 3)
  end
  return make(sign == '-', native.limbs(digits))
end

function from_integer(n)
  if n == math.mininteger then
    return from_string(tostring(n))
  end
  local neg = n < 0
  if neg then
    n = -n
  end
  local limbs = {}
  repeat
    limbs[#limbs + 1] = n % BASE
    n = n // BASE
  until n == 0
  return make(neg, limbs)
end

local function is_bint(x)
  return getmetatable(x) == bint
end

local function new(x)
  if is_bint(x) then
    return x
  end
  local t = math.type(x)
  if t == 'integer' then
    return from_integer(x)
  elseif t == 'float' then
    local i = math.tointeger(x)
    if i == nil then
      if x == x and x ~= math.huge and x ~= -math.huge and x == math.floor(x) then
        return from_string(string.format('%.0f', x))
      end
      error('bint: not an integer: ' .. tostring(x), 3)
    end
    return from_integer(i)
  elseif type(x) == 'string' then
    return from_string(x)
  end
  error('bint: cannot make an integer from a ' .. type(x), 3)
end

-- Magnitude helpers.
local function cmp_mag(a, b)
  if #a ~= #b then
    return #a < #b and -1 or 1
  end
  for i = #a, 1, -1 do
    if a[i] ~= b[i] then
      return a[i] < b[i] and -1 or 1
    end
  end
  return 0
end

local function add_mag(a, b)
  local out, carry = {}, 0
  for i = 1, math.max(#a, #b) do
    local s = (a[i] or 0) + (b[i] or 0) + carry
    out[i] = s % BASE
    carry = s // BASE
  end
  if carry > 0 then
    out[#out + 1] = carry
  end
  return out
end

-- a - b with |a| >= |b|.
local function sub_mag(a, b)
  local out, borrow = {}, 0
  for i = 1, #a do
    local d = a[i] - (b[i] or 0) - borrow
    if d < 0 then
      d = d + BASE
      borrow = 1
    else
      borrow = 0
    end
    out[i] = d
  end
  return trim(out)
end

local function mul_mag(a, b)
  local out = {}
  for i = 1, #a + #b do
    out[i] = 0
  end
  for i = 1, #a do
    local carry, ai = 0, a[i]
    for j = 1, #b do
      local cur = out[i + j - 1] + ai * b[j] + carry
      out[i + j - 1] = cur % BASE
      carry = cur // BASE
    end
    local k = i + #b
    while carry > 0 do
      local cur = out[k] + carry
      out[k] = cur % BASE
      carry = cur // BASE
      k = k + 1
    end
  end
  return trim(out)
end

local function mul_small(a, m)
  local out, carry = {}, 0
  for i = 1, #a do
    local cur = a[i] * m + carry
    out[i] = cur % BASE
    carry = cur // BASE
  end
  while carry > 0 do
    out[#out + 1] = carry % BASE
    carry = carry // BASE
  end
  return trim(out)
end

-- Truncating division of magnitudes: quotient and remainder.
local function divmod_mag(a, b)
  if #b == 1 and b[1] == 0 then
    error('bint: division by zero', 3)
  end
  local quotient, rem = {}, { 0 }
  for i = #a, 1, -1 do
    -- rem = rem * BASE + a[i]
    table.insert(rem, 1, a[i])
    trim(rem)
    local lo, hi = 0, BASE - 1
    while lo < hi do
      local mid = (lo + hi + 1) // 2
      if cmp_mag(mul_small(b, mid), rem) <= 0 then
        lo = mid
      else
        hi = mid - 1
      end
    end
    if lo > 0 then
      rem = sub_mag(rem, mul_small(b, lo))
    end
    quotient[i] = lo
  end
  return trim(quotient), trim(rem)
end

-- Signed operations. x + y, where y's sign is taken as `yneg` (so x - y needs no copy of y).
local function add_signed(x, y, yneg)
  if x.neg == yneg then
    return make(x.neg, add_mag(x.limbs, y.limbs))
  end
  if cmp_mag(x.limbs, y.limbs) >= 0 then
    return make(x.neg, sub_mag(x.limbs, y.limbs))
  end
  return make(yneg, sub_mag(y.limbs, x.limbs))
end

local function add(x, y)
  x, y = new(x), new(y)
  return add_signed(x, y, y.neg)
end

local function neg(x)
  x = new(x)
  return make(not x.neg, { table.unpack(x.limbs) })
end

local function floor_divmod(x, y)
  x, y = new(x), new(y)
  local q, r = divmod_mag(x.limbs, y.limbs)
  local quotient = make(x.neg ~= y.neg, q)
  local remainder = make(x.neg, r)
  -- Floor: when the remainder is non-zero and the signs differ, step down.
  if not remainder:iszero() and x.neg ~= y.neg then
    quotient = add(quotient, -1)
    remainder = add(remainder, y)
  end
  return quotient, remainder
end

local function compare(x, y)
  x, y = new(x), new(y)
  if x.neg ~= y.neg then
    return x.neg and -1 or 1
  end
  local c = cmp_mag(x.limbs, y.limbs)
  return x.neg and -c or c
end

bint.__add = add
bint.__sub = function(x, y)
  x, y = new(x), new(y)
  -- Zero's sign is always positive: subtracting zero must not make a negative zero.
  return add_signed(x, y, not y.neg and not (#y.limbs == 1 and y.limbs[1] == 0))
end
bint.__mul = function(x, y)
  x, y = new(x), new(y)
  return make(x.neg ~= y.neg, mul_mag(x.limbs, y.limbs))
end
bint.__idiv = function(x, y) return (floor_divmod(x, y)) end
bint.__mod = function(x, y) local _, r = floor_divmod(x, y) return r end
bint.__div = bint.__idiv
bint.__unm = neg
bint.__eq = function(x, y) return compare(x, y) == 0 end
bint.__lt = function(x, y) return compare(x, y) < 0 end
bint.__le = function(x, y) return compare(x, y) <= 0 end
bint.__pow = function(x, n)
  n = math.tointeger(is_bint(n) and tonumber(tostring(n)) or n)
  if n == nil or n < 0 then
    error('bint: exponent must be a non-negative integer', 2)
  end
  local result, base = new(1), new(x)
  while n > 0 do
    if n % 2 == 1 then
      result = result * base
    end
    base = base * base
    n = n // 2
  end
  return result
end
bint.__tostring = function(x)
  local limbs = x.limbs
  -- Below about 9.2e18 the value is a Lua integer: one conversion.
  if #limbs <= 2 or (#limbs == 3 and limbs[3] < 92233) then
    local n = (limbs[3] or 0) * BASE * BASE + (limbs[2] or 0) * BASE + limbs[1]
    return (x.neg and '-' or '') .. tostring(n)
  end
  local parts = { tostring(x.limbs[#x.limbs]) }
  for i = #x.limbs - 1, 1, -1 do
    parts[#parts + 1] = string.format('%07d', x.limbs[i])
  end
  return (x.neg and '-' or '') .. table.concat(parts)
end
bint.__concat = function(a, b) return tostring(a) .. tostring(b) end

function bint.new(x) return new(x) end
function bint.tobint(x) local ok, v = pcall(new, x) return ok and v or nil end
function bint.zero() return from_integer(0) end
function bint.one() return from_integer(1) end
function bint.iszero(x) x = new(x) return #x.limbs == 1 and x.limbs[1] == 0 end
function bint.isneg(x) return new(x).neg end
function bint.ispos(x) x = new(x) return not x.neg and not bint.iszero(x) end
function bint.abs(x) x = new(x) return make(false, { table.unpack(x.limbs) }) end
function bint.eq(x, y) return compare(x, y) == 0 end
function bint.lt(x, y) return compare(x, y) < 0 end
function bint.le(x, y) return compare(x, y) <= 0 end
function bint.max(x, y) return compare(x, y) >= 0 and new(x) or new(y) end
function bint.min(x, y) return compare(x, y) <= 0 and new(x) or new(y) end
function bint.ipow(x, n) return bint.__pow(new(x), n) end
function bint.tostring(x) return tostring(new(x)) end
function bint.tonumber(x) return tonumber(tostring(new(x))) end
function bint.isbint(x) return is_bint(x) end
bint.fdivmod = floor_divmod

return setmetatable(bint, {
  __call = function(_, x) return new(x) end,
})
