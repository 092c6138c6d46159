-- The steps after training against the Studio simulator: pipeline.test,
-- pipeline.fit and pipeline.deploy, their jobs followed live, their failures.
local helper = require "helper"
local pipeline = require "ei.pipeline"
local ei = require "ei"

local SMALL = { { type = "dense", neurons = 20 }, { type = "dense", neurons = 10 } }
local BIG = { { type = "dense", neurons = 256 }, { type = "dense", neurons = 128 } }

local function trained(client, sim, layers)
  local r = assert(pipeline.train(client, sim.project_id, sim.learn_id,
    { trainingCycles = 8, learningRate = 0.005, visualLayers = layers or SMALL }))
  assert.is_true(r.success, r.reason)
  return r
end

local function shell(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  return out, ok
end

local function log_lines(events)
  return table.concat(helper.logged(events), "\n")
end

describe("after training", function()
  local sim, client, dir
  before_each(function()
    sim = helper.studio { speed = 300 }
    client = sim:client { status_interval = 0.5 }
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. helper.quote(dir)))
  end)
  after_each(function()
    client:close()
    sim:stop()
    os.execute("rm -rf " .. helper.quote(dir))
  end)

  describe("pipeline.test", function()
    it("reports the job's ERROR line when there is no trained model", function()
      local events = {}
      local t = assert(pipeline.test(client, sim.project_id, { on_event = function(ev) events[#events + 1] = ev end }))
      assert.is_false(t.success)
      assert.equal("integer", math.type(t.job))
      assert.equal("int8", t.variant)
      assert.equal("ERROR: The impulse has no trained model; train a learn block first", t.reason)
      assert.equal("finished", events[#events].type)
      assert.is_false(events[#events].success)
    end)

    it("classifies the test set per variant: accuracy, labels and confusion matrix", function()
      local r = trained(client, sim)
      local events = {}
      local t = assert(pipeline.test(client, sim.project_id,
        { variants = { "int8", "float32" }, on_event = function(ev) events[#events + 1] = ev end }))
      assert.is_true(t.success)
      assert.equal("int8", t.variant)
      assert.matches("Classifying test set with the float32 model OK", log_lines(events), 1, true)
      assert.same({ "idle", "snake", "updown", "wave", "uncertain" }, t.labels)
      for _, variant in ipairs { "int8", "float32" } do
        local v = t.variants[variant]
        assert.equal(variant, v.variant)
        assert.equal(493, v.good + v.bad)
        assert.near(v.good / 493, v.accuracy, 1e-12)
        assert.is_true(math.abs(v.accuracy - r.accuracy) < 0.08, ("test %g, validation %g"):format(v.accuracy, r.accuracy))
        -- the simulator's own predictions agree with what test counted
        local res = assert(client:call("getClassifyJobResult", { projectId = sim.project_id, variant = variant }))
        local correct = 0
        for _, p in ipairs(res.predictions) do if p.prediction == p.label then correct = correct + 1 end end
        assert.equal(correct, v.good)
        for actual, row in pairs(v.confusion) do
          local sum = 0
          for _, percent in pairs(row) do sum = sum + percent end
          assert.near(100, sum, 0.1, actual)
        end
      end
      assert.equal(t.variants.int8.accuracy, t.accuracy)
      assert.same(t.variants.int8.confusion, t.confusion)
    end)

    it("returns success = false and the reason when the job fails mid-way", function()
      trained(client, sim)
      sim:control("scenario", { failClassify = { message = "ERROR: worker lost" } })
      local lines = {}
      local t = assert(pipeline.test(client, sim.project_id, { on_event = function(ev)
        if ev.type == "log" then lines[#lines + 1] = ev.line end
      end }))
      assert.is_false(t.success)
      assert.equal("ERROR: worker lost", t.reason)
      assert.equal("[200/493] Classifying...", lines[#lines - 4])
      assert.is_nil(t.accuracy)
    end)

    it("refuses a variant the API does not know, before sending anything", function()
      local t, err, code = pipeline.test(client, sim.project_id, { variants = { "int16" } })
      assert.is_nil(t)
      assert.equal("EINVAL", code)
      assert.matches("int16", err, 1, true)
      assert.equal(0, #sim:requests("/jobs/classify$"))
      assert.has_error(function() pipeline.test(client, "1") end)
      assert.has_error(function() pipeline.test(client, sim.project_id, { variants = {} }) end)
    end)
  end)

  describe("pipeline.fit", function()
    it("gives the RAM, ROM and latency of the trained layers, larger for bigger layers", function()
      trained(client, sim, SMALL)
      local small = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { dsp = false }))
      trained(client, sim, BIG)
      local big = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { dsp = false }))
      assert.equal("cortex-m4f-80mhz", big.device)
      assert.equal("int8", big.variant)
      assert.equal("eon", big.engine)
      for _, k in ipairs { "ram", "rom", "latency_ms" } do
        assert.is_true(big[k] > small[k], k)
        assert.equal(big.model[k], big[k], k)
      end
      assert.is_nil(big.dsp)
      local float32 = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { variant = "float32", dsp = false }))
      assert.is_true(float32.rom > big.rom and float32.latency_ms > big.latency_ms)
      local tflite = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { engine = "tflite", dsp = false }))
      assert.is_true(tflite.rom > big.rom)
      local ram_opt = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { engine = "tflite-eon-ram-optimized", dsp = false }))
      assert.is_true(ram_opt.ram < big.ram)
      local m7 = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { device = "cortex-m7-216mhz", dsp = false }))
      assert.is_true(m7.latency_ms < big.latency_ms)
      -- the figures are the metadata's own
      local meta = assert(client:keras_metadata(sim.project_id, sim.learn_id))
      local perf = meta.modelValidationMetrics[1].onDevicePerformance[1]
      assert.equal(meta.modelValidationMetrics[1].type, "int8")
      assert.same({ perf.eon.ramRequired, perf.eon.romRequired, perf.latency }, { big.ram, big.rom, big.latency_ms })
    end)

    it("adds the DSP block: the larger RAM of the two, the sum of their latencies", function()
      trained(client, sim, BIG)
      local f = assert(pipeline.fit(client, sim.project_id, sim.learn_id))
      assert.is_true(f.dsp.ram > 0 and f.dsp.latency_ms > 0)
      assert.equal(math.max(f.model.ram, f.dsp.ram), f.ram)
      assert.equal(f.model.latency_ms + f.dsp.latency_ms, f.latency_ms)
      assert.equal(f.model.rom, f.rom)
      assert.equal(1, #sim:requests("/dsp/" .. sim.dsp_id .. "/performance$", "GET"))
    end)

    it("checks a budget: fits, or lists what is over in the order ram, rom, latency_ms", function()
      trained(client, sim, BIG)
      local f = assert(pipeline.fit(client, sim.project_id, sim.learn_id))
      local roomy = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { ram = f.ram, rom = f.rom, latency_ms = f.latency_ms }))
      assert.is_true(roomy.fits)
      assert.same({}, roomy.over)
      local tight = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { ram = f.ram - 1, rom = f.rom - 1, latency_ms = f.latency_ms - 1 }))
      assert.is_false(tight.fits)
      assert.same({ "ram", "rom", "latency_ms" }, tight.over)
      local rom_only = assert(pipeline.fit(client, sim.project_id, sim.learn_id, { rom = 1024 }))
      assert.same({ "rom" }, rom_only.over)
    end)

    it("says what is missing: no trained model, an unknown device; raises on misuse", function()
      local f, err, code = pipeline.fit(client, sim.project_id, sim.learn_id)
      assert.is_nil(f)
      assert.equal("EINVAL", code)
      assert.matches("no trained int8 model", err, 1, true)
      trained(client, sim)
      f, err, code = pipeline.fit(client, sim.project_id, sim.learn_id, { device = "nrf52840" })
      assert.is_nil(f)
      assert.equal("EINVAL", code)
      assert.matches('"nrf52840" (known: cortex-m4f-80mhz, cortex-m7-216mhz, esp32-240mhz)', err, 1, true)
      assert.has_error(function() pipeline.fit(client, sim.project_id, sim.learn_id, { engine = "onnx" }) end)
      assert.has_error(function() pipeline.fit(client, sim.project_id, sim.learn_id, { ram = "64k" }) end)
      assert.has_error(function() pipeline.fit(client, sim.project_id) end)
    end)
  end)

  describe("pipeline.deploy", function()
    it("builds, follows the job live and writes the ZIP with its size and sha256", function()
      trained(client, sim)
      local events = {}
      local path = dir .. "/model.zip"
      local d = assert(pipeline.deploy(client, sim.project_id, { engine = "tflite-eon", model_type = "int8", output = path,
        on_event = function(ev) events[#events + 1] = ev end }))
      assert.is_true(d.success)
      assert.equal("integer", math.type(d.job))
      assert.equal(1, d.version)
      assert.equal(path, d.path)
      local log = log_lines(events)
      assert.matches("Compiling model with the EON Compiler...", log, 1, true)
      assert.matches(("Creating archive OK (%d bytes)"):format(d.size), log, 1, true)
      local f = assert(io.open(path, "rb"))
      assert.equal(d.size, f:seek("end"))
      f:close()
      assert.equal(d.sha256 .. "  " .. path .. "\n", (shell("sha256sum " .. helper.quote(path))))
      local listing, ok = shell("unzip -Z1 " .. helper.quote(path))
      assert.truthy(ok, listing)
      assert.same({
        "README.txt", "CMakeLists.txt", "edge-impulse-sdk/classifier/ei_run_classifier.h",
        "model-parameters/model_metadata.h", "model-parameters/model_variables.h",
        "tflite-model/tflite_learn_5_compiled.h", "tflite-model/tflite_learn_5_compiled.cpp",
      }, helper.lines_of(listing))
      local tested, tok = shell("unzip -tq " .. helper.quote(path))
      assert.truthy(tok, tested)
      local meta = shell("unzip -p " .. helper.quote(path) .. " model-parameters/model_metadata.h")
      assert.matches("EI_CLASSIFIER_PROJECT_DEPLOY_VERSION%s+1\n", meta)
      assert.matches("EI_CLASSIFIER_QUANTIZATION_ENABLED%s+1\n", meta)
    end)

    it("returns success = false and the ERROR line when the build fails mid-way, and writes nothing", function()
      trained(client, sim)
      sim:control("scenario", { failBuild = { message = "ERROR: EON Compiler crashed" } })
      local path = dir .. "/model.zip"
      local lines = {}
      local d = assert(pipeline.deploy(client, sim.project_id, { output = path, on_event = function(ev)
        if ev.type == "log" then lines[#lines + 1] = ev.line end
      end }))
      assert.is_false(d.success)
      assert.equal("ERROR: EON Compiler crashed", d.reason)
      assert.equal(1, d.version)
      assert.equal("Compiling model with the EON Compiler...", lines[#lines - 4])
      assert.is_nil(io.open(path, "rb"))
      assert.is_nil(io.open(path .. ".part", "rb"))
      assert.equal(0, #sim:requests("/deployment/history/"))
    end)

    it("fails the same way without a trained model", function()
      local d = assert(pipeline.deploy(client, sim.project_id, { output = dir .. "/m.zip" }))
      assert.is_false(d.success)
      assert.matches("no trained model", d.reason, 1, true)
    end)

    it("returns nil, message, code for a refused build: EAPI (HTTP 200 success:false), EINVAL before sending", function()
      trained(client, sim)
      local d, err, code = pipeline.deploy(client, sim.project_id, { engine = "tensorrt", output = dir .. "/m.zip" })
      assert.is_nil(d)
      assert.equal("EAPI", code)
      assert.matches('Engine "tensorrt" is not supported by deployment type zip', err, 1, true)
      d, err, code = pipeline.deploy(client, sim.project_id, { type = "esp32", output = dir .. "/m.zip" })
      assert.is_nil(d)
      assert.equal("EAPI", code)
      assert.matches('Unknown deployment type "esp32"', err, 1, true)
      d, err, code = pipeline.deploy(client, sim.project_id, { engine = "eon" })
      assert.is_nil(d)
      assert.equal("EINVAL", code)
      assert.matches('engine: "eon" is not one of', err, 1, true)
      assert.equal(2, #sim:requests("/jobs/build%-ondevice%-model$"))
      d, err, code = pipeline.deploy(client, sim.project_id, { output = dir .. "/no/such/dir/m.zip" })
      assert.is_nil(d)
      assert.equal("EINVAL", code)
      assert.matches("cannot write", err, 1, true)
      assert.has_error(function() pipeline.deploy(client, sim.project_id, { output = 1 }) end)
    end)

    it("runs inside ei.run: several variants and a test at once", function()
      trained(client, sim)
      local started = {}
      local function deploy(model_type, engine)
        return function()
          return pipeline.deploy(client, sim.project_id, { model_type = model_type, engine = engine,
            output = ("%s/%s-%s.zip"):format(dir, model_type, engine),
            on_event = function(ev) started[#started + 1] = ev.job end })
        end
      end
      local a, b, c, t = ei.run(deploy("int8", "tflite-eon"), deploy("float32", "tflite-eon"), deploy("int8", "tflite"),
        function() return pipeline.test(client, sim.project_id) end)
      local versions = {}
      for _, d in ipairs { a, b, c } do
        assert.is_true(d.success, d.reason)
        versions[#versions + 1] = d.version
        assert.truthy(select(2, shell("unzip -tq " .. helper.quote(d.path))))
      end
      table.sort(versions)
      assert.same({ 1, 2, 3 }, versions)
      assert.is_true(b.size > a.size, "float32 weights are larger")
      assert.are_not.equal(a.sha256, c.sha256)
      assert.is_true(t.success)
      -- the jobs' events interleaved: each job spoke before another one finished
      local first_of, last_of = {}, {}
      for i, id in ipairs(started) do
        first_of[id] = first_of[id] or i
        last_of[id] = i
      end
      local overlapped = false
      for id in pairs(first_of) do
        for other in pairs(first_of) do
          if id ~= other and first_of[other] < last_of[id] and first_of[other] > first_of[id] then overlapped = true end
        end
      end
      assert.is_true(overlapped)
    end)

    it("retries a download cut mid-way and writes the whole archive", function()
      trained(client, sim)
      sim:control("scenario", { cutDownloads = { afterBytes = 4096, count = 1 } })
      local path = dir .. "/model.zip"
      local d = assert(pipeline.deploy(client, sim.project_id, { output = path }))
      assert.is_true(d.success, d.reason)
      assert.equal(2, #sim:requests("/deployment/history/1/download$"))
      local f = assert(io.open(path, "rb"))
      assert.equal(d.size, f:seek("end"))
      f:close()
      assert.is_true(d.size > 4096)
      assert.equal(d.sha256, (shell("sha256sum " .. helper.quote(path))):match("^%x+"))
      assert.truthy(select(2, shell("unzip -tq " .. helper.quote(path))))
    end)

    it("returns nil, message, ECONNECT when every attempt of the download is cut, and writes nothing", function()
      trained(client, sim)
      local impatient = sim:client { status_interval = 0.5, retries = 1, backoff = 0.01 }
      sim:control("scenario", { cutDownloads = { afterBytes = 100, count = 2 } })
      local path = dir .. "/model.zip"
      local d, err, code = pipeline.deploy(impatient, sim.project_id, { output = path })
      impatient:close()
      assert.is_nil(d)
      assert.equal("ECONNECT", code, err)
      assert.matches("/deployment/history/1/download", err, 1, true)
      assert.equal(2, #sim:requests("/deployment/history/1/download$"))
      assert.is_nil(io.open(path, "rb"))
      assert.is_nil(io.open(path .. ".part", "rb"))
    end)
  end)
end)
