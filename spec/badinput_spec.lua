-- Bad input through the public API: a clear error or a raise, never a crash, and the
-- client keeps working afterwards.
local helper = require "helper"
local ei = require "ei"

describe("bad input", function()
  local shared = helper.shared_studio { speed = 300 }
  local sim, client
  before_each(function() sim, client = shared.sim, shared.client end)

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

-- Every public function, every argument, every kind of bad value: a raise with a
-- message of its own or `nil, message, code` with a code of the contract. What
-- may not happen: a crash, Lua's own runtime errors leaking out of the module
-- (they mean a check is missing), or a client that stops working.
describe("bad input to every public function", function()
  local pipeline = require "ei.pipeline"
  local plot = require "ei.plot"
  local CODES = { EINVAL = true, EAUTH = true, EAPI = true, EHTTP = true, ETIMEDOUT = true, ECONNECT = true,
    EPROTO = true, ECLOSED = true, ECANCELED = true }
  -- Lua's own errors: a value reached code that never checked it.
  local INTERNAL = { "attempt to ", "stack overflow", "table index is ",
    "string length overflow", "not enough memory", "number has no integer representation" }

  local function bad_values()
    local cyclic = {}
    cyclic.self, cyclic[1] = cyclic, cyclic
    local deep = {}
    for _ = 1, 10000 do deep = { deep, x = deep } end
    local huge = {}
    for i = 1, 100000 do huge[i] = i end
    return {
      { "nil", nil }, { "false", false }, { "true", true }, { "0", 0 }, { "-1", -1 },
      { "maxinteger", math.maxinteger }, { "mininteger", math.mininteger }, { "1.5", 1.5 },
      { "NaN", 0 / 0 }, { "inf", math.huge }, { "-inf", -math.huge },
      { "an empty string", "" }, { "a string with NULs", "a\0b" }, { "invalid UTF-8", "\xff\xfe\xc0" },
      { "a 1 MB string", ("x"):rep(1024 * 1024) }, { "an empty table", {} }, { "a cyclic table", cyclic },
      { "a table 10,000 deep", deep }, { "a table of 100,000 numbers", huge }, { "a function", function() end },
      { "a coroutine", coroutine.create(print) }, { "a userdata", io.tmpfile() }, { "ei.null", ei.null },
    }
  end

  local sim, client, finished_job, out_dir
  setup(function()
    out_dir = os.tmpname()
    os.remove(out_dir)
    assert(os.execute("mkdir " .. helper.quote(out_dir)))
    sim = helper.studio { speed = 300 }
    client = sim:client { status_interval = 0.2, backoff = 0.01, timeout = 10, on_warning = function() end }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 2 }))
    assert(job:wait(30))
    finished_job = client:job(sim.project_id, job.id)
    assert(finished_job:wait(30))
  end)
  teardown(function()
    client:close()
    sim:stop()
    os.execute("rm -rf " .. helper.quote(out_dir))
  end)

  -- Each entry: a name and a function(args) calling the public function with them;
  -- `args` are good values to start from, one of which is replaced at a time.
  local function targets()
    local pid, lid = sim.project_id, sim.learn_id
    local function opts(extra)
      local t = { host = sim.url, api_key = sim.api_key, timeout = 5, retries = 0, backoff = 0.01 }
      for k, v in pairs(extra) do t[k] = v end
      return t
    end
    local list = {
      { "ei.validate", function(a) return ei.validate(a[1], a[2]) end, { "SetKerasParameterRequest", {} } },
      { "ei.run", function(a) return ei.run(a[1], a[2]) end, { function() return 1 end, function() return 2 end } },
      { "client:call", function(a) return client:call(a[1], a[2], a[3]) end,
        { "getImpulse", { projectId = pid }, { unknown_fields = "send", timeout = 5 } } },
      { "client:call (multipart)", function(a)
        return client:call("uploadPretrainedModel", { projectId = pid, body = {
          modelFile = ei.file(a[1], a[2], a[3]), modelFileName = "m", modelFileType = "onnx" } })
      end, { "/etc/hostname", "m.onnx", "application/octet-stream" } },
      { "client:call (output)", function(a)
        -- string values name files in a directory of their own, which teardown removes
        local output = type(a[1]) == "string" and out_dir .. "/" .. a[1] or a[1]
        return client:call("getImpulse", { projectId = pid }, { output = output, progress = a[2] })
      end, { "impulse.json", function() end } },
      { "client:train_keras", function(a) return client:train_keras(a[1], a[2], a[3]) end,
        { pid, lid, { trainingCycles = 1 } } },
      { "client:job", function(a) return client:job(a[1], a[2]) end, { pid, finished_job.id } },
      { "client:impulse", function(a) return client:impulse(a[1]) end, { pid } },
      { "client:keras_config", function(a) return client:keras_config(a[1], a[2]) end, { pid, lid } },
      { "client:set_keras_config", function(a) return client:set_keras_config(a[1], a[2], a[3]) end,
        { pid, lid, { trainingCycles = 3 } } },
      { "client:keras_metadata", function(a) return client:keras_metadata(a[1], a[2]) end, { pid, lid } },
      { "client:generate_features", function(a) return client:generate_features(a[1], a[2], a[3]) end,
        { pid, sim.dsp_id, {} } },
      { "client:socket_token", function(a) return client:socket_token(a[1]) end, { pid } },
      { "job:receive", function(a) return finished_job:receive(a[1]) end, { 1 } },
      { "job:wait", function(a) return finished_job:wait(a[1]) end, { 1 } },
      { "job:cancel", function(a) return finished_job:cancel(a[1]) end, { false } },
      { "job:logs", function(a) return finished_job:logs(a[1]) end, { 5 } },
      { "pipeline.find_learn_block", function(a) return pipeline.find_learn_block(a[1], a[2], a[3]) end,
        { client, pid, "keras" } },
      { "pipeline.generate_features", function(a) return pipeline.generate_features(a[1], a[2], a[3]) end,
        { client, pid, sim.dsp_id } },
      { "pipeline.train", function(a) return pipeline.train(a[1], a[2], a[3], a[4], a[5]) end,
        { client, pid, lid, { trainingCycles = 1 }, {} } },
      { "pipeline.train_all", function(a) return pipeline.train_all(a[1], a[2]) end,
        { client, { { pid, lid, { trainingCycles = 1 } } } } },
      { "pipeline.report", function(a)
        -- a nil output means io.stdout: keep the report out of the test's output
        local stdout = io.stdout
        io.stdout = assert(io.open("/dev/null", "w"))
        local r = table.pack(pcall(pipeline.report, a[1], a[2]))
        io.stdout:close()
        io.stdout = stdout
        if not r[1] then error(r[2], 0) end
        return table.unpack(r, 2, r.n)
      end, { { epochs = {} }, function() end } },
      { "pipeline.test", function(a) return pipeline.test(a[1], a[2], a[3]) end,
        { client, pid, { variants = { "int8" } } } },
      { "pipeline.fit", function(a) return pipeline.fit(a[1], a[2], a[3], a[4]) end,
        { client, pid, lid, { ram = 65536, rom = 262144, latency_ms = 100 } } },
      { "pipeline.deploy", function(a)
        -- a bad options table leaves the default output name: remove what was written
        local r = table.pack(pipeline.deploy(a[1], a[2], a[3]))
        if type(r[1]) == "table" and r[1].path then os.remove(r[1].path) end
        return table.unpack(r, 1, r.n)
      end, { client, pid, { output = os.tmpname() } } },
      { "plot.svg", function(a) return plot.svg(a[1]) end, { {} } },
      { "ei.new", function(a) return ei.new(a[1]) end, { opts {} } },
    }
    -- ei.new, one option at a time
    for _, key in ipairs { "api_key", "jwt", "jwt_cookie", "bearer", "oauth2", "host", "timeout", "retries",
      "wait", "ca_file", "user_agent", "insecure", "on_warning", "backoff", "status_interval", "unknown_fields" } do
      list[#list + 1] = { "ei.new{" .. key .. "}", function(a)
        local c, err, code = ei.new(opts { [key] = a[1] })
        if not c then return c, err, code end
        -- a client made with the value still answers, or fails with a code
        local r, err2, code2 = c:impulse(pid)
        c:close()
        if r then return c end
        return nil, err2, code2
      end, { nil } }
    end
    return list
  end

  -- What is wrong with the outcome of a call, or nil.
  local function fault(name, ok, ...)
    if not ok then
      local e = ...
      if type(e) ~= "string" then return name .. " raised a " .. type(e) end
      for _, pattern in ipairs(INTERNAL) do
        if e:find(pattern) then return name .. " raised Lua's own error: " .. e:sub(1, 200) end
      end
      return nil
    end
    local first, err, code = ...
    if first == nil and code ~= nil and (type(err) ~= "string" or not CODES[code]) then
      return ("%s returned code %s with %s"):format(name, tostring(code), tostring(err):sub(1, 200))
    end
    return nil
  end

  it("raises a message of its own or returns a code of the contract, and the client still works", function()
    local calls, faults = 0, {}
    for _, target in ipairs(targets()) do
      local name, call, good = target[1], target[2], target[3]
      for slot = 1, math.max(1, #good) do
        for _, bad in ipairs(bad_values()) do
          local args = {}
          for i = 1, #good do args[i] = good[i] end
          args[slot] = bad[2]
          calls = calls + 1
          faults[#faults + 1] = fault(("%s, argument %d = %s"):format(name, slot, bad[1]), pcall(call, args))
        end
      end
    end
    assert.equal("", table.concat(faults, "\n"))
    assert.is_true(calls > 1000, calls)
    assert(client:impulse(sim.project_id))
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 2 }))
    assert.is_true(job:wait(30))
  end)
end)
