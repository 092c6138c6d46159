-- Bad input through the public API: a clear error or a raise, never a crash, and the
-- client keeps working afterwards.
local helper = require "helper"
local ei = require "ei"

describe("bad input", function()
  local sim, client
  setup(function()
    sim = helper.studio { speed = 300 }
    client = sim:client()
  end)
  teardown(function()
    client:close()
    sim:stop()
  end)

  local function deep(n)
    local t = { type = "dense" }
    for _ = 1, n do t = { visualLayers = { t } } end
    return t
  end
  local cyclic = { trainingCycles = 3 }
  cyclic.customParameters = cyclic
  local many = {}
  for i = 1, 100000 do many[i] = { type = "dense", neurons = i } end

  for _, case in ipairs {
    { "NaN", { learningRate = 0 / 0 }, "learningRate" },
    { "infinity", { learningRate = math.huge }, "learningRate" },
    { "a cyclic table", cyclic, "customParameters" },
    { "deep nesting", deep(10000), "visualLayers" },
    { "invalid UTF-8", { script = "abc\xff\xfe" }, "script" },
    { "a number key in an object", { [1] = "x" }, "" },
    { "a function value", { trainingCycles = print }, "trainingCycles" },
    { "a userdata value", { trainingCycles = io.stdout }, "trainingCycles" },
    { "a fractional integer", { trainingCycles = 2.5 }, "trainingCycles" },
    { "100,000 layers with one bad", (function() many[#many].type = "dens"; return { visualLayers = many } end)(), "visualLayers[100000].type" },
  } do
    local name, params, path = table.unpack(case)
    it("refuses " .. name .. " with EINVAL naming the field, and the client still works", function()
      local before = #sim:requests("/jobs/train/keras/")
      local job, err, code = client:train_keras(sim.project_id, sim.learn_id, params)
      assert.is_nil(job)
      assert.equal("EINVAL", code)
      assert.is_string(err)
      assert.truthy(err:find(path, 1, true), err)
      assert.equal(before, #sim:requests("/jobs/train/keras/"))
      assert(client:impulse(sim.project_id))
    end)
  end

  it("sends strings with NULs whole", function()
    assert(client:set_keras_config(sim.project_id, sim.learn_id, { script = "a\0b" }))
    local sent = sim:requests("/training/keras/", "POST")
    assert.equal("a\0b", sent[#sent].body.script)
  end)

  it("raises on wrong argument types of public functions", function()
    local job = client:job(sim.project_id, 1)
    for _, f in ipairs {
      function() ei.new(42) end,
      function() ei.new { host = 1 } end,
      function() ei.new { oauth2 = { client_id = "x" } } end,
      function() client:train_keras(sim.project_id, 1.5, {}) end,
      function() client:train_keras(sim.project_id, sim.learn_id, "params") end,
      function() client:call(42) end,
      function() client:call("getImpulse", "args") end,
      function() client:job("1", 2) end,
      function() job:receive("soon") end,
      function() job:logs(1.5) end,
      function() ei.validate("NoSuchSchema", {}) end,
      function() ei.run(1) end,
    } do
      assert.has_error(f)
    end
    assert(client:impulse(sim.project_id))
  end)
end)
