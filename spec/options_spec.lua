-- Options are documented once in the LDoc of lua/ei/init.lua (ei.new) and lua/ei/client.lua
-- (Client:call); types/ei.lua and the README follow them. This checks that they agree with
-- what the code accepts.
local helper = require "helper"
local ei = require "ei"

local function source(path) return assert(helper.read_file(helper.root .. "/" .. path)) end

-- The fields of a LuaLS class in types/ei.lua.
local function class_fields(class)
  local text = source("types/ei.lua")
  local block = text:match("%-%-%-@class " .. class:gsub("%.", "%%.") .. "\n(.-)\n\n")
  local names = {}
  for name in block:gmatch("%-%-%-@field ([%w_]+)") do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- The keys of a table constructor `local NAME = { key = "type", ... }` (or `known = {`) in a file.
local function table_keys(path, opening)
  local text = source(path)
  local body = text:match(opening:gsub("%p", "%%%0") .. "(.-)\n?%s*}")
  local names = {}
  for name in body:gmatch("([%w_]+) = \"%a+\"") do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- The LDoc block right above `function <name>(`.
local function ldoc_of(path, fname)
  local text = source(path)
  local stop = assert(text:find("\nfunction " .. fname:gsub("[%.:]", "%%%0") .. "%("), fname)
  local start = stop
  while true do
    local line_start = text:sub(1, start - 1):match(".*()\n")
    if not line_start or not text:sub(line_start + 1, start - 1):match("^%-%-") then break end
    start = line_start
  end
  return text:sub(start, stop)
end

describe("options", function()
  it("ei.new accepts exactly the options of ei.Options, and its LDoc names each one", function()
    local typed = class_fields("ei.Options")
    assert.same(table_keys("lua/ei/client.lua", "local known = {"), typed)
    local doc = ldoc_of("lua/ei/init.lua", "ei.new")
    for _, name in ipairs(typed) do
      assert.truthy(doc:find("`" .. name .. "[` ]"), name .. " is not in the LDoc of ei.new")
      local ok, err = pcall(ei.new, { [name] = coroutine.create(print) })
      assert.is_false(ok)
      assert.matches("option '" .. name .. "' must be", err)
    end
    assert.has_error(function() ei.new { no_such_option = 1 } end, "ei.new: unknown option 'no_such_option'")
  end)

  it("client:call accepts exactly the options of ei.CallOptions, and its LDoc names each one", function()
    local typed = class_fields("ei.CallOptions")
    assert.same(table_keys("lua/ei/client.lua", "local CALL_OPTIONS = {"), typed)
    local doc = ldoc_of("lua/ei/client.lua", "Client:call")
    local client = assert(ei.new { api_key = "ei_x", host = "http://127.0.0.1:9" })
    for _, name in ipairs(typed) do
      assert.truthy(doc:find("`" .. name .. "[` ]"), name .. " is not in the LDoc of Client:call")
      local ok, err = pcall(client.call, client, "getImpulse", { projectId = 1 }, { [name] = coroutine.create(print) })
      assert.is_false(ok)
      assert.matches("option '" .. name .. "' must be", err)
    end
    client:close()
  end)

  it("train_keras, set_keras_config and generate_features take exactly the options of Client:call, and say so", function()
    local call_options = class_fields("ei.CallOptions")
    local types = source("types/ei.lua")
    local client = assert(ei.new { api_key = "ei_x", host = "http://127.0.0.1:9" })
    local helpers = {
      train_keras = { 1, 2, {} }, set_keras_config = { 1, 2, {} }, generate_features = { 1, 2, {} },
    }
    for name, args in pairs(helpers) do
      assert.truthy(ldoc_of("lua/ei/client.lua", "Client:" .. name):find("options of `Client:call`", 1, true), name)
      assert.matches("---@param opts%? ei%.CallOptions\n[^f]*function Client:" .. name .. "%(", types)
      for _, option in ipairs(call_options) do
        local ok, err = pcall(client[name], client, args[1], args[2], args[3], { [option] = coroutine.create(print) })
        assert.is_false(ok, name .. " " .. option)
        assert.matches("option '" .. option .. "' must be", err)
      end
      local ok, err = pcall(client[name], client, args[1], args[2], args[3], { no_such_option = 1 })
      assert.is_false(ok)
      assert.matches("unknown option 'no_such_option'", err)
    end
    client:close()
  end)

  it("names one description of each option: the LDoc of ei.new and of Client:call", function()
    local types, readme = source("types/ei.lua"), source("README.md")
    assert.matches("described once: in the LDoc of `ei.new`", types, 1, true)
    assert.matches("described once: in the LDoc of\n---`Client:call`", types)
    assert.matches("Every option is described once, in the LDoc of the function that takes it", readme, 1, true)
    -- The README names options only as the code spells them.
    local known = {}
    for _, name in ipairs(class_fields("ei.Options")) do known[name] = true end
    local glance = readme:match("local client = ei%.new {(.-)\n}")
    for name in glance:gmatch("\n%s+([%w_]+) = ") do assert.is_true(known[name], name) end
    for name in readme:match("lua/ei/init%.lua: also (.-)%)"):gmatch("`([%w_]+)`") do assert.is_true(known[name], name) end
    for _, name in ipairs(class_fields("ei.Options")) do
      local named = glance:find("%f[%w_]" .. name .. "%f[^%w_]") or readme:find("also [^)]*`" .. name .. "`")
      assert.truthy(named, name .. " is not in the README")
    end
  end)

  it("unknown_fields has the same three values in the code, the LDoc, the types and the README", function()
    local values = { "error", "warn", "send" }
    assert.matches('"error"|"warn"|"send"', source("types/ei.lua"), 1, true)
    local doc = ldoc_of("lua/ei/init.lua", "ei.new")
    local readme = source("README.md")
    for _, v in ipairs(values) do
      assert.truthy(doc:find('`"' .. v .. '"`', 1, true), v)
      assert.truthy(readme:find('unknown_fields = "' .. v .. '"', 1, true) or readme:find('"' .. v .. '"', 1, true), v)
      assert(ei.new { unknown_fields = v }):close()
    end
    assert.truthy(readme:find('unknown_fields = "error"', 1, true))
    assert.has_error(function() ei.new { unknown_fields = "ignore" } end)
  end)
end)
