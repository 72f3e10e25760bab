-- The index-fund blueprint: holds a base token and several assets, each traded against the
-- base on its own AMM pool, and rebalances to target weights when one drifts by more than the
-- threshold, each period (a cron tick: Action = Tick from the owner's cron).
--   Configure (owner): Base, Base-Weight-Bps, Threshold-Bps, [Max-Slippage-Bps = 300].
--   Add-Asset (owner): Token, Pool, Weight-Bps (weights, base included, add up to 10000).
--   Fund it: Transfer any of its tokens to it. Withdraw (Token, Quantity) (owner).
--   Index-Status: holdings, weights now and targets.
-- A rebalance reads every pool's reserves (Get-Reserves), values holdings at spot in base
-- units, sells what is over its target and buys what is under with the base it holds; one
-- round at a time, settled by the pools' X-Swap-Of / X-Refund Credit-Notices.
local bint = require('.bint')
local json = require('json')

Index = Index or {
  Base = nil, BaseWeight = 0, Threshold = 500, SlippageBps = 300, Assets = {}, Order = {},
  Held = {}, Reserves = {}, Asking = {}, Awaiting = 0, InFlight = 0, Rebalances = 0, Swaps = 0,
}

local amount = require('.amount')

local function held(token) return bint(Index.Held[token] or '0') end
local function owner_only(msg) assert(msg.From == Owner, 'only the owner of the fund') end
local function bps(text) local n = math.tointeger(tonumber(text or '')) assert(n and n >= 0 and n <= 10000, 'basis points are 0..10000') return n end

local function pool_of(process)
  for token, asset in pairs(Index.Assets) do
    if asset.Pool == process then return token end
  end
  return nil
end

Handlers.add('index.configure', 'Configure', function(msg)
  owner_only(msg)
  assert(type(msg.Tags.Base) == 'string', 'Base is required')
  Index.Base, Index.BaseWeight = msg.Tags.Base, bps(msg.Tags['Base-Weight-Bps'])
  Index.Threshold = bps(msg.Tags['Threshold-Bps'] or '500')
  Index.SlippageBps = bps(msg.Tags['Max-Slippage-Bps'] or '300')
  msg.reply({ Action = 'Configured' })
end)

Handlers.add('index.asset', 'Add-Asset', function(msg)
  owner_only(msg)
  local t = msg.Tags
  assert(type(t.Token) == 'string' and type(t.Pool) == 'string' and t.Token ~= Index.Base, 'Token and Pool are required')
  if Index.Assets[t.Token] == nil then table.insert(Index.Order, t.Token) end
  Index.Assets[t.Token] = { Pool = t.Pool, Weight = bps(t['Weight-Bps']) }
  msg.reply({ Action = 'Asset-Added' })
end)

local function known(token) return token == Index.Base or Index.Assets[token] ~= nil end

Handlers.add('index.credit', 'Credit-Notice', function(msg)
  local q = amount(msg.Tags.Quantity)
  if q == nil or not known(msg.From) then
    msg.reply({ Action = 'Credit-Refused', Error = 'not a token of this fund' })
    return
  end
  Index.Held[msg.From] = tostring(held(msg.From) + q)
  if Index.InFlight > 0 and pool_of(msg.Tags.Sender) ~= nil
      and (msg.Tags['X-Swap-Of'] ~= nil or msg.Tags['X-Refund'] ~= nil) then
    Index.InFlight = Index.InFlight - 1
  end
end)

Handlers.add('index.debit', 'Debit-Notice', function() end)

local function swap(token_in, pool, q)
  Index.Held[token_in] = tostring(held(token_in) - q)
  Index.InFlight = Index.InFlight + 1
  Index.Swaps = Index.Swaps + 1
  ao.send({ Target = token_in, Action = 'Transfer', Recipient = pool, Quantity = tostring(q),
    ['X-Action'] = 'Swap', ['X-Max-Slippage-Bps'] = tostring(Index.SlippageBps) })
end

-- Values in base units at each pool's spot price.
local function valuation()
  local values, total = { [Index.Base] = held(Index.Base) }, held(Index.Base)
  for _, token in ipairs(Index.Order) do
    local r = Index.Reserves[token]
    local v = bint.iszero(r.asset) and bint(0) or (held(token) * r.base) // r.asset
    values[token] = v
    total = total + v
  end
  return values, total
end

local function rebalance()
  local values, total = valuation()
  if bint.iszero(total) then return end
  local drifted = false
  for _, token in ipairs(Index.Order) do
    local target = (total * Index.Assets[token].Weight) // 10000
    local gap = values[token] - target
    if bint.abs(gap) * 10000 > total * Index.Threshold then drifted = true end
  end
  if not drifted then return end
  Index.Rebalances = Index.Rebalances + 1
  local base_left = held(Index.Base)
  for _, token in ipairs(Index.Order) do
    local asset, r = Index.Assets[token], Index.Reserves[token]
    local target = (total * asset.Weight) // 10000
    if values[token] > target then
      local sell = ((values[token] - target) * r.asset) // r.base
      if bint.ispos(sell) then swap(token, asset.Pool, bint.min(sell, held(token))) end
    elseif values[token] < target then
      local buy = bint.min(target - values[token], base_left)
      if bint.ispos(buy) then
        base_left = base_left - buy
        swap(Index.Base, asset.Pool, buy)
      end
    end
  end
end

Handlers.add('index.tick', function(msg)
  return msg.Tags.Action == 'Tick' and msg.From == Owner
end, function()
  if Index.Base == nil or #Index.Order == 0 or Index.Awaiting > 0 or Index.InFlight > 0 then return end
  -- The round asks the pools configured now; Add-Asset may change them before it settles.
  Index.Reserves, Index.Asking, Index.Awaiting = {}, {}, 0
  for _, token in ipairs(Index.Order) do
    local pool = Index.Assets[token].Pool
    if Index.Asking[pool] == nil then
      Index.Asking[pool] = token
      Index.Awaiting = Index.Awaiting + 1
      ao.send({ Target = pool, Action = 'Get-Reserves' })
    end
  end
end)

-- True when every asset configured now was priced by its own pool in this round.
local function round_complete()
  for _, token in ipairs(Index.Order) do
    if Index.Reserves[token] == nil or Index.Asking[Index.Assets[token].Pool] ~= token then return false end
  end
  return true
end

Handlers.add('index.reserves', 'Reserves', function(msg)
  local token = (Index.Asking or {})[msg.From]
  if token == nil or Index.Awaiting == 0 or Index.Reserves[token] ~= nil then return end
  local a, b = msg.Tags['Token-A'], msg.Tags['Token-B']
  local ra, rb = bint(msg.Tags['Reserve-A'] or '0'), bint(msg.Tags['Reserve-B'] or '0')
  if a == token and b == Index.Base then
    Index.Reserves[token] = { asset = ra, base = rb }
  elseif b == token and a == Index.Base then
    Index.Reserves[token] = { asset = rb, base = ra }
  else
    Index.Reserves[token] = { asset = bint(0), base = bint(0) }
  end
  Index.Awaiting = Index.Awaiting - 1
  -- An asset added or re-pointed during the round waits for the next tick.
  if Index.Awaiting == 0 and round_complete() then rebalance() end
end)

Handlers.add('index.withdraw', 'Withdraw', function(msg)
  owner_only(msg)
  local token, q = msg.Tags.Token, amount(msg.Tags.Quantity)
  assert(q and known(token) and q <= held(token), 'Token must be the fund\'s and Quantity at most what it holds')
  Index.Held[token] = tostring(held(token) - q)
  ao.send({ Target = token, Action = 'Transfer', Recipient = Owner, Quantity = tostring(q) })
end)

Handlers.add('index.status', 'Index-Status', function(msg)
  local holdings = {}
  for token, q in pairs(Index.Held) do holdings[token] = q end
  msg.reply({ Action = 'Index-Status', Rebalances = tostring(Index.Rebalances), Swaps = tostring(Index.Swaps),
    Data = json.encode({ Held = holdings, Rebalances = Index.Rebalances }) })
end)

return true
