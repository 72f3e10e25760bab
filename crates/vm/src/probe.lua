-- The contract probe (`aorta_vm::contract`) in Lua: the native runtime loads it as it is, the
-- WASM Lua module embeds it.
count = 0
hoard = {}
function handle(msg, env)
  local data = msg.Data
  if data:sub(1, 5) == "echo:" then
    local text = data:sub(6)
    return { Output = text, Messages = { { Target = msg.From, Data = text,
      Tags = { { name = "Echo", value = msg.Id } } } } }
  elseif data == "count" then
    count = count + 1
    return { Output = tostring(count) }
  elseif data == "fail" then
    count = count + 1
    error("failed on purpose")
  elseif data == "loop" then
    while true do end
  elseif data == "bomb" then
    while true do hoard[#hoard + 1] = string.rep("x", 4096) .. #hoard end
  elseif data:sub(1, 6) == "flood:" then
    count = count + 1
    local out = {}
    for i = 1, tonumber(data:sub(7)) do out[i] = { Target = msg.From, Data = tostring(i) } end
    return { Messages = out }
  elseif data == "recurse" then
    local function down(n) return down(n + 1) + 1 end
    return { Output = down(1) }
  end
  error("unknown probe command " .. data)
end
