-- The amounts the finance blueprints accept: base units as digits only (no sign, spaces or
-- exponent), at most 38 of them (10^38 base units is far beyond any supply, and bounds the work
-- a hostile amount can cause), and positive. `amount(text)` is the bint, or nil.
local bint = require('.bint')

return function(text)
  if type(text) ~= 'string' or #text == 0 or #text > 38 or not text:match('^%d+$') then return nil end
  local q = bint(text)
  return bint.ispos(q) and q or nil
end
