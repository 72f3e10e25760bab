-- aorta's aos-compatible process library: the entry point of the default `lua-5.3` module.
local process = require('.process')

function handle(msg, env)
  return process.handle(msg, env)
end
