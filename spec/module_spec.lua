-- The module as a script sees it: what `require "ei"` leaves behind, its version,
-- and waiters passed in explicitly.
local helper = require "helper"
local ei = require "ei"

-- Run Lua source in a fresh interpreter that finds this checkout's module; returns its output.
local function run_child(source)
  local script = os.tmpname()
  helper.write_file(script, source)
  local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s %s %s 2>&1"):format(helper.quote(helper.lua_path),
    helper.quote(helper.lua_cpath), helper.quote(helper.lua), helper.quote(script))))
  local out = p:read("a")
  p:close()
  os.remove(script)
  return out
end

describe("require \"ei\"", function()
  it("writes no globals, and neither do its submodules", function()
    -- A fresh interpreter: the busted process has globals of its own and ei loaded already.
    local out = run_child([[
      local function snapshot()
        local seen = {}
        for k, v in pairs(_G) do seen[k] = v end
        local libs = {}
        for _, name in ipairs { "string", "table", "math", "io", "os", "coroutine", "utf8", "debug", "package" } do
          libs[name] = {}
          for k, v in pairs(_G[name]) do if k ~= "loaded" then libs[name][k] = v end end
        end
        return seen, libs
      end
      local function diff(before, after, where, out)
        for k, v in pairs(after) do
          if before[k] ~= v then out[#out + 1] = where .. tostring(k) end
        end
        for k in pairs(before) do
          if after[k] == nil then out[#out + 1] = where .. tostring(k) .. " (removed)" end
        end
      end
      local g0, libs0 = snapshot()
      local modules = { "ei", "ei.core", "ei.client", "ei.job", "ei.stream", "ei.wait", "ei.pipeline",
        "ei.plot", "ei.cli", "ei.cli.follow", "ei.cli.jobs", "ei.cli.progress", "ei.cli.train" }
      for _, name in ipairs(modules) do require(name) end
      local _ = require("ei").wait.block -- loads the waiters lazily
      local g1, libs1 = snapshot()
      local changed = {}
      diff(g0, g1, "", changed)
      for name, t in pairs(libs0) do diff(t, libs1[name], name .. ".", changed) end
      table.sort(changed)
      io.write("loaded ", #modules, "\n", "changed: ", table.concat(changed, ", "), "\n")
    ]])
    assert.equal("loaded 13\nchanged: \n", out)
  end)
end)

describe("ei.VERSION", function()
  it("reads x.y.z and equals the released rockspec's version", function()
    assert.matches("^%d+%.%d+%.%d+$", ei.VERSION)
    assert.equal(helper.rockspec_version(), ei.VERSION)
  end)
end)

describe("a waiter passed to ei.new", function()
  local sim
  setup(function() sim = helper.studio { speed = 300 } end)
  teardown(function() sim:stop() end)

  it("ei.wait.block follows a job to its end in a plain script", function()
    local client = sim:client { wait = ei.wait.block }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 3 }))
    assert.is_true(job:wait(60))
    client:close()
  end)

  it("a function of the script's own is the one every wait goes through", function()
    local calls, polled = 0, true
    local function counting(pollable)
      calls = calls + 1
      polled = polled and math.type(pollable:pollfd()) == "integer"
        and (pollable:events() == "r" or pollable:events() == "w" or pollable:events() == "rw")
      return ei.wait.block(pollable)
    end
    local client = sim:client { wait = counting }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 3 }))
    local after_start = calls
    assert.is_true(job:wait(60))
    assert.is_true(after_start > 0, "starting the job waited without the waiter")
    assert.is_true(calls > after_start, "following the job waited without the waiter")
    assert.is_true(polled, "the waiter got something other than a pollable")
    client:close()
  end)
end)

describe("the error codes", function()
  -- DESIGN §3: the only codes a runtime failure may carry.
  local CONTRACT = { "EAPI", "EAUTH", "ECANCELED", "ECLOSED", "ECONNECT", "EHTTP", "EINVAL", "EPROTO", "ETIMEDOUT" }

  it("the C core defines are exactly the contract's, and no other code is spelt out in src/", function()
    local defined = {}
    for name, code in helper.read_file(helper.root .. "/src/errors.h"):gmatch('#define EI_(E%u+) "(E%u+)"') do
      assert.equal(name, code)
      defined[#defined + 1] = code
    end
    table.sort(defined)
    assert.same(CONTRACT, defined)
    -- the defines are the only way to a code (the compiler refuses EI_ names not
    -- defined); no code is spelt as a string anywhere else in src/
    local p = assert(io.popen(("grep -ho '\"E[A-Z][A-Z][A-Z]*\"' %s/src/*.c %s/src/*.h | sort -u")
      :format(helper.quote(helper.root), helper.quote(helper.root))))
    local known = {}
    for _, code in ipairs(CONTRACT) do known[code] = true end
    for word in p:lines() do
      assert.is_true(known[word:match('^"(E%u+)"$')], word .. " is not a contract code")
    end
    p:close()
  end)
end)
