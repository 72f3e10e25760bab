-- The fair-launch mint blueprint: a token with no pre-mine whose only supply is a schedule.
-- Each period (a cron tick: Action = Tick from the owner's cron) mints the period's emission,
-- halving every Halving-Periods periods and capped so the supply never exceeds Cap
-- (21 000 000 × 10^12 by default), to the accounts in the deposit ledger, pro rata. The ledger
-- is credited and debited only by the configured bridge process. Rounding dust is carried to
-- the next period, never lost or created; a period with no deposits carries its whole emission.
--   Configure (owner, once): Bridge, Emission (base units per period), Halving-Periods, [Cap].
--   Deposit-Credit / Deposit-Debit (bridge): Account, Quantity.
--   Mint-Status: the schedule's state.
local bint = require('.bint')

-- No pre-mine: the token starts empty (set before the token blueprint's defaults apply).
Balances = Balances or {}
TotalSupply = TotalSupply or '0'
Name = Name or 'Fair Launch'
Ticker = Ticker or 'FAIR'
require('.blueprints.token')
-- The schedule is the only source of supply.
Handlers.remove('mint')

Schedule = Schedule or {
  Bridge = nil, Emission = '0', HalvingPeriods = 0, Cap = '21000000000000000000',
  Period = 0, Dust = '0', Deposits = {}, TotalDeposits = '0', Minted = '0',
}

local amount = require('.amount')

Handlers.add('mint.configure', 'Configure', function(msg)
  assert(msg.From == Owner, 'only the owner configures the schedule')
  assert(Schedule.Bridge == nil, 'the schedule is set once')
  local emission, halving = amount(msg.Tags.Emission), math.tointeger(tonumber(msg.Tags['Halving-Periods'] or ''))
  assert(type(msg.Tags.Bridge) == 'string' and emission and halving and halving > 0,
    'Bridge, Emission and Halving-Periods are required')
  Schedule.Bridge, Schedule.Emission, Schedule.HalvingPeriods = msg.Tags.Bridge, tostring(emission), halving
  if msg.Tags.Cap then Schedule.Cap = tostring(assert(amount(msg.Tags.Cap), 'Cap is an amount')) end
  msg.reply({ Action = 'Configured' })
end)

local function ledger(msg, sign)
  assert(Schedule.Bridge ~= nil and msg.From == Schedule.Bridge, 'only the bridge moves deposits')
  local q = assert(amount(msg.Tags.Quantity), 'Quantity is an amount')
  local account = assert(msg.Tags.Account, 'Account is required')
  local held = bint(Schedule.Deposits[account] or '0')
  if sign < 0 then assert(q <= held, 'a debit beyond the deposits') end
  local new = sign > 0 and held + q or held - q
  Schedule.Deposits[account] = bint.iszero(new) and nil or tostring(new)
  local total = bint(Schedule.TotalDeposits)
  Schedule.TotalDeposits = tostring(sign > 0 and total + q or total - q)
end

Handlers.add('mint.credit', 'Deposit-Credit', function(msg) ledger(msg, 1) end)
Handlers.add('mint.debit', 'Deposit-Debit', function(msg) ledger(msg, -1) end)

-- The emission of period p (1-based): Emission halved once per Halving-Periods periods.
local function emission_of(p)
  local halvings = (p - 1) // Schedule.HalvingPeriods
  if halvings >= 256 then return bint(0) end
  return bint(Schedule.Emission) // (bint(2) ^ halvings)
end

Handlers.add('mint.tick', function(msg)
  return msg.Tags.Action == 'Tick' and msg.From == Owner and Schedule.Bridge ~= nil
end, function(msg)
  Schedule.Period = Schedule.Period + 1
  local room = bint(Schedule.Cap) - bint(TotalSupply)
  local available = bint.min(emission_of(Schedule.Period) + bint(Schedule.Dust), room)
  local total = bint(Schedule.TotalDeposits)
  if not bint.ispos(available) or bint.iszero(total) then
    Schedule.Dust = tostring(bint.max(available, bint(0)))
    return
  end
  local minted = bint(0)
  for account, deposit in pairs(Schedule.Deposits) do
    local share = (available * bint(deposit)) // total
    if bint.ispos(share) then
      Balances[account] = tostring(bint(Balances[account] or '0') + share)
      minted = minted + share
    end
  end
  Schedule.Dust = tostring(available - minted)
  Schedule.Minted = tostring(bint(Schedule.Minted) + minted)
  TotalSupply = tostring(bint(TotalSupply) + minted)
end)

Handlers.add('mint.status', 'Mint-Status', function(msg)
  msg.reply({ Action = 'Mint-Status', Period = tostring(Schedule.Period), Dust = Schedule.Dust,
    Minted = Schedule.Minted, Supply = TotalSupply, ['Total-Deposits'] = Schedule.TotalDeposits,
    ['Next-Emission'] = tostring(emission_of(Schedule.Period + 1)) })
end)

return true
