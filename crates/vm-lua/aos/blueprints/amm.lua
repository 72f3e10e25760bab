-- The AMM blueprint: a constant-product pool (x·y = k) for two token processes.
--
-- Configure (owner): Action = Configure, Token-A, Token-B, [Fee-Bps = 30].
-- Tokens arrive as the tokens' Credit-Notices; their X- tags say what to do:
--   X-Action = Swap      [X-Min-Output = n] [X-Max-Slippage-Bps = n]: swap for the other token
--   X-Action = Provide   deposit one side of a liquidity provision; when the sender has
--                        deposited both, LP units are minted and any excess is refunded
-- Anything else, any failure, and any deposit that cannot be used is refunded (Transfer back
-- with X-Refund = reason). A Credit-Notice that does not come from one of the two tokens moves
-- no funds and is refused.
-- Remove-Liquidity (Quantity = LP units): pays out both sides pro rata.
-- Get-Quote (Token, Quantity): the output a swap would give now (for dry-runs).
-- Get-Reserves, LP-Balance [Recipient], Cancel-Provide: as named.
-- The pool is also its LP token: Balance, Balances and Transfer (with Debit-Notice and
-- Credit-Notice, X- tags forwarded) move LP units as the token blueprint moves its units.
-- Amounts are integer strings in base units, computed with bint; outputs round down, so the
-- pool never pays out more than it holds.
local bint = require('.bint')

Pool = Pool or {
  TokenA = nil, TokenB = nil, FeeBps = 30,
  Reserves = {}, LP = {}, LPSupply = '0', Pending = {},
}

local parse_amount = require('.amount')

-- An amount (`.amount`) written without leading zeros, so each has one spelling in the pool's
-- tags and refunds.
local function amount(text)
  if type(text) == 'string' and #text > 1 and text:sub(1, 1) == '0' then return nil end
  return parse_amount(text)
end

local function other(token)
  if token == Pool.TokenA then return Pool.TokenB end
  if token == Pool.TokenB then return Pool.TokenA end
  return nil
end

local function reserve(token) return bint(Pool.Reserves[token] or '0') end

local function transfer(token, to, q, tags)
  local msg = { Target = token, Action = 'Transfer', Recipient = to, Quantity = tostring(q) }
  for k, v in pairs(tags or {}) do msg[k] = v end
  ao.send(msg)
end

local function refund(token, to, q, reason, ref)
  transfer(token, to, q, { ['X-Refund'] = reason, ['X-Refund-Of'] = ref })
end

local function isqrt(n)
  if bint.iszero(n) then return bint(0) end
  -- Newton's method from above.
  local x = n
  local y = (x + 1) // 2
  while y < x do
    x = y
    y = (x + n // x) // 2
  end
  return x
end

-- The output for `q` of `token_in`, after the fee; nil for an empty pool.
local function quote(token_in, q)
  local rin, rout = reserve(token_in), reserve(other(token_in))
  if bint.iszero(rin) or bint.iszero(rout) then return nil end
  local after_fee = q * (10000 - Pool.FeeBps)
  return (after_fee * rout) // (rin * 10000 + after_fee)
end

local function configured()
  return Pool.TokenA ~= nil and Pool.TokenB ~= nil
end

Handlers.add('amm.configure', 'Configure', function(msg)
  assert(msg.From == Owner, 'only the owner configures the pool')
  assert(not bint.ispos(bint(Pool.LPSupply)), 'the pool already has liquidity')
  assert(type(msg['Token-A']) == 'string' and type(msg['Token-B']) == 'string'
    and msg['Token-A'] ~= msg['Token-B'], 'Token-A and Token-B are two token processes')
  local fee = tonumber(msg['Fee-Bps'] or '30')
  assert(fee and math.type(fee) == 'integer' and fee >= 0 and fee < 10000, 'Fee-Bps is 0..9999')
  Pool.TokenA, Pool.TokenB, Pool.FeeBps = msg['Token-A'], msg['Token-B'], fee
  Pool.Reserves = { [Pool.TokenA] = '0', [Pool.TokenB] = '0' }
  msg.reply({ Action = 'Configured', ['Token-A'] = Pool.TokenA, ['Token-B'] = Pool.TokenB })
end)

local function swap(msg, token, sender, q)
  local out = quote(token, q)
  local ref = msg.Id
  if out == nil then return refund(token, sender, q, 'the pool is empty', ref) end
  if not bint.ispos(out) then return refund(token, sender, q, 'the output rounds to zero', ref) end
  local min_out = msg.Tags['X-Min-Output']
  if min_out ~= nil then
    local m = amount(min_out)
    if m == nil and min_out ~= '0' then return refund(token, sender, q, 'X-Min-Output is not an amount', ref) end
    if m ~= nil and out < m then return refund(token, sender, q, 'output below X-Min-Output', ref) end
  end
  local slip = msg.Tags['X-Max-Slippage-Bps']
  if slip ~= nil then
    local bps = math.tointeger(tonumber(slip))
    if bps == nil or bps < 0 or bps > 10000 then
      return refund(token, sender, q, 'X-Max-Slippage-Bps is 0..10000', ref)
    end
    -- The output at the spot price, without price impact.
    local ideal = (q * (10000 - Pool.FeeBps) * reserve(other(token))) // (reserve(token) * 10000)
    if out * 10000 < ideal * (10000 - bps) then
      return refund(token, sender, q, 'slippage above X-Max-Slippage-Bps', ref)
    end
  end
  local out_token = other(token)
  Pool.Reserves[token] = tostring(reserve(token) + q)
  Pool.Reserves[out_token] = tostring(reserve(out_token) - out)
  transfer(out_token, sender, out, {
    ['X-Swap-Of'] = ref, ['X-Input-Token'] = token, ['X-Input-Quantity'] = tostring(q),
  })
end

local function lp_balance(who) return bint(Pool.LP[who] or '0') end

local function provide(msg, token, sender, q)
  local pending = Pool.Pending[sender] or {}
  if pending[token] ~= nil then
    -- A second deposit of the same side adds to it.
    pending[token] = tostring(bint(pending[token]) + q)
  else
    pending[token] = tostring(q)
  end
  Pool.Pending[sender] = pending
  local a, b = pending[Pool.TokenA], pending[Pool.TokenB]
  if a == nil or b == nil then return end
  a, b = bint(a), bint(b)
  local ra, rb, supply = reserve(Pool.TokenA), reserve(Pool.TokenB), bint(Pool.LPSupply)
  local use_a, use_b, minted = a, b, nil
  if bint.iszero(supply) then
    minted = isqrt(a * b)
  else
    -- Take both sides in the pool's ratio; the rest goes back.
    use_b = (a * rb) // ra
    if use_b <= b then
      use_a = a
    else
      use_b = b
      use_a = (b * ra) // rb
    end
    minted = bint.min((use_a * supply) // ra, (use_b * supply) // rb)
  end
  Pool.Pending[sender] = nil
  if not bint.ispos(minted) then
    refund(Pool.TokenA, sender, a, 'too little liquidity', msg.Id)
    refund(Pool.TokenB, sender, b, 'too little liquidity', msg.Id)
    return
  end
  Pool.Reserves[Pool.TokenA] = tostring(ra + use_a)
  Pool.Reserves[Pool.TokenB] = tostring(rb + use_b)
  Pool.LPSupply = tostring(supply + minted)
  Pool.LP[sender] = tostring(lp_balance(sender) + minted)
  if a > use_a then refund(Pool.TokenA, sender, a - use_a, 'excess over the pool ratio', msg.Id) end
  if b > use_b then refund(Pool.TokenB, sender, b - use_b, 'excess over the pool ratio', msg.Id) end
  ao.send({ Target = sender, Action = 'Liquidity-Added', ['LP-Quantity'] = tostring(minted),
    ['Quantity-A'] = tostring(use_a), ['Quantity-B'] = tostring(use_b) })
end

Handlers.add('amm.credit', 'Credit-Notice', function(msg)
  local token, sender = msg.From, msg.Tags.Sender
  if not configured() or other(token) == nil then
    -- Not one of the pool's tokens: nothing arrived, so nothing moves.
    msg.reply({ Action = 'Credit-Refused', Error = 'not a token of this pool' })
    return
  end
  local q = amount(msg.Tags.Quantity)
  if q == nil or type(sender) ~= 'string' then
    -- A token of ours cannot send this; keep nothing we cannot account for.
    return
  end
  local action = msg.Tags['X-Action']
  if action == 'Swap' then
    swap(msg, token, sender, q)
  elseif action == 'Provide' then
    provide(msg, token, sender, q)
  else
    refund(token, sender, q, 'X-Action must be Swap or Provide', msg.Id)
  end
end)

-- The token's receipts of our own transfers.
Handlers.add('amm.debit', 'Debit-Notice', function() end)

Handlers.add('amm.cancel', 'Cancel-Provide', function(msg)
  local pending = Pool.Pending[msg.From]
  Pool.Pending[msg.From] = nil
  for token, q in pairs(pending or {}) do
    refund(token, msg.From, bint(q), 'provision cancelled', msg.Id)
  end
end)

Handlers.add('amm.remove', 'Remove-Liquidity', function(msg)
  local q = amount(msg.Tags.Quantity)
  if q == nil or q > lp_balance(msg.From) then
    msg.reply({ Action = 'Remove-Liquidity-Error', Error = 'Quantity must be an amount of LP units you hold' })
    return
  end
  local supply = bint(Pool.LPSupply)
  local ra, rb = reserve(Pool.TokenA), reserve(Pool.TokenB)
  local out_a, out_b = (q * ra) // supply, (q * rb) // supply
  Pool.LP[msg.From] = tostring(lp_balance(msg.From) - q)
  Pool.LPSupply = tostring(supply - q)
  Pool.Reserves[Pool.TokenA] = tostring(ra - out_a)
  Pool.Reserves[Pool.TokenB] = tostring(rb - out_b)
  if bint.ispos(out_a) then transfer(Pool.TokenA, msg.From, out_a, { ['X-Removal-Of'] = msg.Id }) end
  if bint.ispos(out_b) then transfer(Pool.TokenB, msg.From, out_b, { ['X-Removal-Of'] = msg.Id }) end
  msg.reply({ Action = 'Liquidity-Removed', ['Quantity-A'] = tostring(out_a), ['Quantity-B'] = tostring(out_b) })
end)

Handlers.add('amm.quote', 'Get-Quote', function(msg)
  local q = amount(msg.Tags.Quantity)
  local out = (q ~= nil and other(msg.Tags.Token) ~= nil) and quote(msg.Tags.Token, q) or nil
  msg.reply({ Action = 'Quote', Token = msg.Tags.Token, Quantity = msg.Tags.Quantity,
    Output = out and tostring(out) or '0', Data = out and tostring(out) or '0' })
end)

Handlers.add('amm.reserves', 'Get-Reserves', function(msg)
  msg.reply({ Action = 'Reserves', ['Token-A'] = Pool.TokenA, ['Token-B'] = Pool.TokenB,
    ['Reserve-A'] = Pool.Reserves[Pool.TokenA] or '0', ['Reserve-B'] = Pool.Reserves[Pool.TokenB] or '0',
    ['LP-Supply'] = Pool.LPSupply, ['Fee-Bps'] = tostring(Pool.FeeBps) })
end)

Handlers.add('amm.lp.balance', 'Balance', function(msg)
  local who = msg.Tags.Recipient or msg.Tags.Target or msg.From
  msg.reply({ Balance = tostring(lp_balance(who)), Ticker = 'LP', Account = who, Data = tostring(lp_balance(who)) })
end)

Handlers.add('amm.lp.balances', 'Balances', function(msg)
  msg.reply({ Data = require('json').encode(Pool.LP) })
end)

Handlers.add('amm.lp.transfer', 'Transfer', function(msg)
  local q, to = amount(msg.Tags.Quantity), msg.Tags.Recipient
  if q == nil or type(to) ~= 'string' or q > lp_balance(msg.From) then
    msg.reply({ Action = 'Transfer-Error', ['Message-Id'] = msg.Id,
      Error = 'Recipient and a Quantity of LP units you hold are required' })
    return
  end
  Pool.LP[msg.From] = tostring(lp_balance(msg.From) - q)
  Pool.LP[to] = tostring(lp_balance(to) + q)
  local debit = { Action = 'Debit-Notice', Recipient = to, Quantity = tostring(q) }
  local credit = { Target = to, Action = 'Credit-Notice', Sender = msg.From, Quantity = tostring(q) }
  for name, value in pairs(msg.Tags) do
    if type(name) == 'string' and name:sub(1, 2) == 'X-' then debit[name] = value credit[name] = value end
  end
  msg.reply(debit)
  ao.send(credit)
end)

Handlers.add('amm.lp', 'LP-Balance', function(msg)
  local who = msg.Tags.Recipient or msg.From
  msg.reply({ Action = 'LP-Balance', Account = who, Balance = tostring(lp_balance(who)), Data = tostring(lp_balance(who)) })
end)

return true
