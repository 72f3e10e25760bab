-- Extra probe commands for the WASM Lua module: `read:PATH` reads a WeaveDrive file.
local probe = handle
function handle(msg, env)
  if msg.Data:sub(1, 5) == 'read:' then
    local bytes = weavedrive.read(msg.Data:sub(6))
    return { Output = #bytes .. ':' .. bytes:sub(1, 64) }
  end
  return probe(msg, env)
end
