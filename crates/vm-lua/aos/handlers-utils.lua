-- Pattern and handle helpers for Handlers (`Handlers.utils`).
local utils = { _version = '0.1.0' }

function utils.hasMatchingTag(name, value)
  return function(msg)
    return type(msg.Tags) == 'table' and msg.Tags[name] == value
  end
end

function utils.hasMatchingTagOf(name, values)
  return function(msg)
    if type(msg.Tags) ~= 'table' then
      return false
    end
    for _, v in ipairs(values) do
      if msg.Tags[name] == v then
        return true
      end
    end
    return false
  end
end

function utils.hasMatchingData(value)
  return function(msg)
    return msg.Data == value
  end
end

function utils.reply(input)
  return function(msg)
    msg.reply(type(input) == 'string' and { Data = input } or input)
  end
end

-- A pattern that, when `pattern` matches, runs the handler and lets later handlers run too.
function utils.continue(pattern)
  return function(msg)
    local decision = Handlers.decide(pattern, msg)
    if decision ~= 0 then
      return 1
    end
    return 0
  end
end

return utils
