-- Extra probe commands for the WASM Lua module: `read:PATH` reads a WeaveDrive file and answers
-- its length and first 64 bytes; `readall:PATH` answers the whole file.
local probe = handle
function handle(msg, env)
  if msg.Data:sub(1, 5) == 'read:' then
    local bytes = weavedrive.read(msg.Data:sub(6))
    return { Output = #bytes .. ':' .. bytes:sub(1, 64) }
  elseif msg.Data:sub(1, 8) == 'readall:' then
    return { Output = weavedrive.read(msg.Data:sub(9)) }
  end
  return probe(msg, env)
end
