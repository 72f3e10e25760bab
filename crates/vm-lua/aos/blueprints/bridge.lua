-- The bridge blueprint: a stand-in for a real asset bridge that credits a fair-launch mint.
-- Its owner reports deposits and withdrawals of bridged assets; the bridge tells the mint.
--   Configure (owner): Mint = the mint process.
--   Deposit (owner): Account, Quantity  → Deposit-Credit to the mint.
--   Withdraw (owner): Account, Quantity → Deposit-Debit to the mint (refused beyond the
--   account's deposits).
local bint = require('.bint')

Bridge = Bridge or { Mint = nil, Deposits = {} }

local amount = require('.amount')

local function owner_only(msg)
  assert(msg.From == Owner, 'only the owner of the bridge reports bridged assets')
end

Handlers.add('bridge.configure', 'Configure', function(msg)
  owner_only(msg)
  assert(type(msg.Tags.Mint) == 'string', 'Mint is required')
  Bridge.Mint = msg.Tags.Mint
  msg.reply({ Action = 'Configured', Mint = Bridge.Mint })
end)

Handlers.add('bridge.deposit', 'Deposit', function(msg)
  owner_only(msg)
  local q = amount(msg.Tags.Quantity)
  assert(q and type(msg.Tags.Account) == 'string' and Bridge.Mint, 'Account and Quantity are required')
  Bridge.Deposits[msg.Tags.Account] = tostring(bint(Bridge.Deposits[msg.Tags.Account] or '0') + q)
  ao.send({ Target = Bridge.Mint, Action = 'Deposit-Credit', Account = msg.Tags.Account, Quantity = tostring(q) })
end)

Handlers.add('bridge.withdraw', 'Withdraw', function(msg)
  owner_only(msg)
  local q = amount(msg.Tags.Quantity)
  local held = bint(Bridge.Deposits[msg.Tags.Account or ''] or '0')
  assert(q and q <= held, 'Quantity must be at most the account\'s deposits')
  Bridge.Deposits[msg.Tags.Account] = tostring(held - q)
  ao.send({ Target = Bridge.Mint, Action = 'Deposit-Debit', Account = msg.Tags.Account, Quantity = tostring(q) })
end)

return true
