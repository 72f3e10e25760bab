-- The token blueprint (spec §7.4): balances are integer strings handled with bint.
-- Load it into a process with `require('.blueprints.token')` (or Eval its source).
local bint = require('.bint')
local json = require('json')
-- Balances that are plain digit strings (all of them, unless a process sets others) are added,
-- subtracted and compared in C; anything else goes through bint, with the same results.
local native = require('aorta.internal')

local function add(a, b)
  return native.dec_add(a, b) or tostring(bint(a) + bint(b))
end

local function sub(a, b)
  return native.dec_sub(a, b) or tostring(bint(a) - bint(b))
end

local function less(a, b)
  local c = native.dec_cmp(a, b)
  if c == nil then
    return bint(a) < bint(b)
  end
  return c < 0
end

Denomination = Denomination or 12
Balances = Balances or { [ao.id] = tostring(bint(10000) * bint(10) ^ Denomination) }
TotalSupply = TotalSupply or tostring(bint(10000) * bint(10) ^ Denomination)
Name = (Name ~= nil and Name ~= 'aos') and Name or 'Points Coin'
Ticker = Ticker or 'PNTS'
Logo = Logo or 'SBCCXwwecBlDqRLUjb8dYABExTJXLieawf7m2aBJ-KY'

-- Copies every X- tag of a request onto a notice.
local function forwarded_tags(msg, notice)
  -- In C for tables without metatables (the message's Tags map always is one).
  if native.x_tags(msg.Tags, notice) then
    return notice
  end
  for name, value in pairs(msg.Tags or {}) do
    -- 'X-' by bytes: no substring per tag.
    if type(name) == 'string' and name:byte(1) == 88 and name:byte(2) == 45 then
      notice[name] = value
    end
  end
  return notice
end

-- Digits only (no sign, spaces or exponent), at most 38 of them: 10^38 base units is far beyond
-- any supply, and bounds the work a hostile quantity can cause.
local function quantity(msg)
  local text = msg.Quantity
  -- dec_cmp answers only for non-empty strings of digits: the check and the comparison at once.
  local sign = type(text) == 'string' and #text <= 38 and native.dec_cmp('0', text)
  assert(sign, 'Quantity is required and must be an integer string of at most 38 digits!')
  assert(sign < 0, 'Quantity must be greater than 0')
  return text
end

Handlers.add('info', 'Info', function(msg)
  msg.reply({
    Name = Name, Ticker = Ticker, Logo = Logo, Denomination = tostring(Denomination),
    name = Name, ticker = Ticker, logo = Logo, denomination = tostring(Denomination),
    supply = TotalSupply,
  })
end)

Handlers.add('balance', 'Balance', function(msg)
  local account = msg.Tags.Recipient or msg.Tags.Target or msg.From
  local balance = Balances[account] or '0'
  msg.reply({ Balance = balance, Ticker = Ticker, Account = account, Data = balance })
end)

Handlers.add('balances', 'Balances', function(msg)
  msg.reply({ Data = json.encode(Balances) })
end)

Handlers.add('transfer', 'Transfer', function(msg)
  assert(type(msg.Recipient) == 'string', 'Recipient is required!')
  local q = quantity(msg)
  local from = Balances[msg.From] or '0'
  if less(from, q) then
    msg.reply({ Action = 'Transfer-Error', ['Message-Id'] = msg.Id, Error = 'Insufficient Balance!' })
    return
  end
  Balances[msg.From] = sub(from, q)
  Balances[msg.Recipient] = add(Balances[msg.Recipient] or '0', q)
  if not msg.Cast then
    local debit = forwarded_tags(msg, {
      Action = 'Debit-Notice', Recipient = msg.Recipient, Quantity = msg.Quantity,
      Data = 'You transferred ' .. msg.Quantity .. ' to ' .. msg.Recipient,
    })
    local credit = forwarded_tags(msg, {
      Target = msg.Recipient, Action = 'Credit-Notice', Sender = msg.From, Quantity = msg.Quantity,
      Data = 'You received ' .. msg.Quantity .. ' from ' .. msg.From,
    })
    msg.reply(debit)
    ao.send(credit)
  end
end)

Handlers.add('mint', 'Mint', function(msg)
  local q = quantity(msg)
  if msg.From ~= ao.id then
    msg.reply({
      Action = 'Mint-Error', ['Message-Id'] = msg.Id,
      Error = 'Only the Process Id can mint new ' .. Ticker .. ' tokens!',
    })
    return
  end
  Balances[msg.From] = add(Balances[msg.From] or '0', q)
  TotalSupply = add(TotalSupply, q)
  msg.reply({ Data = 'Successfully minted ' .. msg.Quantity })
end)

Handlers.add('totalSupply', 'Total-Supply', function(msg)
  assert(msg.From ~= ao.id, 'Cannot call Total-Supply from the same process!')
  msg.reply({ Action = 'Total-Supply', Data = TotalSupply, Ticker = Ticker })
end)

Handlers.add('burn', 'Burn', function(msg)
  local q = quantity(msg)
  local balance = Balances[msg.From] or '0'
  assert(not less(balance, q), 'Quantity must be less than or equal to the current balance!')
  Balances[msg.From] = sub(balance, q)
  TotalSupply = sub(TotalSupply, q)
  msg.reply({ Data = 'Successfully burned ' .. msg.Quantity })
end)

return true
