-- The DCA agent blueprint: buys Token-Out with a fixed amount of Token-In on an AMM pool every
-- period (a cron tick: Action = Tick from the owner's cron), with a slippage limit.
--   Configure (owner): Pool, Token-In, Token-Out, Amount, [Max-Slippage-Bps = 100].
--   Fund it: Transfer Token-In to the agent (its Credit-Notice from the owner's account).
--   Pause, Resume, Withdraw (Token, Quantity) (owner); DCA-Status (anyone).
-- One swap is in flight at a time; its output or its refund (the pool's X-Swap-Of / X-Refund
-- Credit-Notices) settles it.
local bint = require('.bint')

DCA = DCA or {
  Pool = nil, TokenIn = nil, TokenOut = nil, Amount = '0', SlippageBps = 100,
  Paused = false, InFlight = nil, Held = {}, Spent = '0', Bought = '0', Swaps = 0, Refunds = 0,
}

local amount = require('.amount')

local function held(token) return bint(DCA.Held[token] or '0') end
local function add(token, q) DCA.Held[token] = tostring(held(token) + q) end

local function owner_only(msg) assert(msg.From == Owner, 'only the owner of the agent') end

Handlers.add('dca.configure', 'Configure', function(msg)
  owner_only(msg)
  local t = msg.Tags
  local q, bps = amount(t.Amount), math.tointeger(tonumber(t['Max-Slippage-Bps'] or '100'))
  assert(type(t.Pool) == 'string' and type(t['Token-In']) == 'string' and type(t['Token-Out']) == 'string'
    and q and bps and bps >= 0 and bps <= 10000, 'Pool, Token-In, Token-Out and Amount are required')
  DCA.Pool, DCA.TokenIn, DCA.TokenOut, DCA.Amount, DCA.SlippageBps = t.Pool, t['Token-In'], t['Token-Out'], tostring(q), bps
  msg.reply({ Action = 'Configured' })
end)

Handlers.add('dca.credit', 'Credit-Notice', function(msg)
  local token, q = msg.From, amount(msg.Tags.Quantity)
  if q == nil or (token ~= DCA.TokenIn and token ~= DCA.TokenOut) then
    msg.reply({ Action = 'Credit-Refused', Error = 'not a token of this agent' })
    return
  end
  add(token, q)
  local settles = DCA.InFlight ~= nil and msg.Tags.Sender == DCA.Pool
    and (msg.Tags['X-Swap-Of'] ~= nil or msg.Tags['X-Refund'] ~= nil)
  if settles then
    if msg.Tags['X-Refund'] ~= nil then
      DCA.Refunds = DCA.Refunds + 1
      DCA.Spent = tostring(bint(DCA.Spent) - q)
    else
      DCA.Bought = tostring(bint(DCA.Bought) + q)
    end
    DCA.InFlight = nil
  end
end)

Handlers.add('dca.debit', 'Debit-Notice', function() end)

Handlers.add('dca.tick', function(msg)
  return msg.Tags.Action == 'Tick' and msg.From == Owner
end, function()
  if DCA.Paused or DCA.InFlight ~= nil or DCA.Pool == nil then return end
  local q = bint(DCA.Amount)
  if held(DCA.TokenIn) < q then return end
  DCA.Held[DCA.TokenIn] = tostring(held(DCA.TokenIn) - q)
  DCA.Spent = tostring(bint(DCA.Spent) + q)
  DCA.Swaps = DCA.Swaps + 1
  DCA.InFlight = tostring(DCA.Swaps)
  ao.send({ Target = DCA.TokenIn, Action = 'Transfer', Recipient = DCA.Pool, Quantity = tostring(q),
    ['X-Action'] = 'Swap', ['X-Max-Slippage-Bps'] = tostring(DCA.SlippageBps), ['X-DCA-Run'] = DCA.InFlight })
end)

Handlers.add('dca.pause', 'Pause', function(msg) owner_only(msg) DCA.Paused = true msg.reply({ Action = 'Paused' }) end)
Handlers.add('dca.resume', 'Resume', function(msg) owner_only(msg) DCA.Paused = false msg.reply({ Action = 'Resumed' }) end)

Handlers.add('dca.withdraw', 'Withdraw', function(msg)
  owner_only(msg)
  local token, q = msg.Tags.Token, amount(msg.Tags.Quantity)
  assert(q and (token == DCA.TokenIn or token == DCA.TokenOut) and q <= held(token),
    'Token must be one of the agent\'s and Quantity at most what it holds')
  DCA.Held[token] = tostring(held(token) - q)
  ao.send({ Target = token, Action = 'Transfer', Recipient = Owner, Quantity = tostring(q) })
end)

Handlers.add('dca.status', 'DCA-Status', function(msg)
  msg.reply({ Action = 'DCA-Status', Paused = tostring(DCA.Paused), Swaps = tostring(DCA.Swaps),
    Refunds = tostring(DCA.Refunds), Spent = DCA.Spent, Bought = DCA.Bought,
    ['Held-In'] = tostring(held(DCA.TokenIn or '')), ['Held-Out'] = tostring(held(DCA.TokenOut or '')) })
end)

return true
