-- Pipeline helpers against the Studio simulator.
local helper = require "helper"
local pipeline = require "ei.pipeline"

describe("ei.pipeline", function()
  local sim, client
  before_each(function()
    sim = helper.studio { speed = 300 }
    client = sim:client { status_interval = 0.5 }
  end)
  after_each(function()
    client:close()
    sim:stop()
  end)

  describe("find_learn_block", function()
    it("finds the first keras block with its DSP ids", function()
      local block = assert(pipeline.find_learn_block(client, sim.project_id))
      assert.equal(sim.ready.learn_ids[1], block.id)
      assert.equal("keras", block.type)
      assert.same({ sim.dsp_id }, block.dsp)
    end)

    it("finds a block by name or by type", function()
      local block = assert(pipeline.find_learn_block(client, sim.project_id, "Classifier 2"))
      assert.equal(sim.ready.learn_ids[2], block.id)
      block = assert(pipeline.find_learn_block(client, sim.project_id, "keras"))
      assert.equal(sim.ready.learn_ids[1], block.id)
    end)

    it("says so when no block matches", function()
      local block, err, code = pipeline.find_learn_block(client, sim.project_id, "Regression")
      assert.is_nil(block)
      assert.matches("Regression", err)
      assert.equal("EINVAL", code)
    end)

    it("raises on misuse", function()
      assert.has_error(function() pipeline.find_learn_block(client, "1") end)
      assert.has_error(function() pipeline.find_learn_block(nil, 1) end)
    end)
  end)

  describe("generate_features", function()
    it("starts the job and waits for its end", function()
      assert.is_true(pipeline.generate_features(client, sim.project_id, sim.dsp_id))
      local reqs = sim:requests("/jobs/generate%-features$", "POST")
      assert.equal(1, #reqs)
    end)
  end)

  describe("train", function()
    it("trains, collects the epoch metrics and the metadata", function()
      local r = assert(pipeline.train(client, sim.project_id, sim.learn_id,
        { trainingCycles = 5, learningRate = 0.005, batchSize = 32 }))
      assert.is_true(r.success)
      assert.is_nil(r.reason)
      assert.equal("integer", math.type(r.job))
      assert.equal(5, #r.epochs)
      for i, ev in ipairs(r.epochs) do
        assert.equal("metrics", ev.type)
        assert.equal(i, ev.epoch)
      end
      assert.is_table(r.metadata)
      assert.is_true(r.metadata.hasTrainedModel)
      assert.equal(r.epochs[5].val_accuracy, r.accuracy)
      assert.equal(r.epochs[5].val_loss, r.loss)
      assert.equal(1, #sim:requests("/jobs/train/keras/"))
    end)

    it("reports a failed job with its reason", function()
      sim:stop()
      sim = helper.studio { speed = 300, scenario = { failJob = true } }
      client:close()
      client = sim:client { status_interval = 0.5 }
      local r = assert(pipeline.train(client, sim.project_id, sim.learn_id, { trainingCycles = 5 }))
      assert.is_false(r.success)
      assert.is_string(r.reason)
      assert.is_nil(r.metadata)
    end)

    it("returns nil, err, code for a request that breaks the schema", function()
      local r, err, code = pipeline.train(client, sim.project_id, sim.learn_id, { trainingCycles = "many" })
      assert.is_nil(r)
      assert.matches("trainingCycles", err)
      assert.equal("EINVAL", code)
    end)
  end)

  describe("train_all", function()
    it("trains several blocks concurrently and returns the results in order", function()
      local ids = sim.ready.learn_ids
      local results = pipeline.train_all(client, {
        { sim.project_id, ids[1], { trainingCycles = 20, learningRate = 0.005 } },
        { project_id = sim.project_id, learn_id = ids[2], params = { trainingCycles = 20, learningRate = 0.05 } },
      })
      assert.equal(2, #results)
      for i, r in ipairs(results) do
        assert.is_true(r.success)
        assert.equal(ids[i], r.learn_id)
        assert.equal(20, #r.epochs)
      end
      assert.not_equal(results[1].job, results[2].job)
      assert.equal(2, #sim:requests("/jobs/train/keras/"))
      assert.same({}, pipeline.train_all(client, {}))
    end)
  end)

  describe("report", function()
    it("prints the metrics table and the confusion matrix", function()
      local r = assert(pipeline.train(client, sim.project_id, sim.learn_id, { trainingCycles = 3 }))
      local lines = {}
      pipeline.report(r, function(line) lines[#lines + 1] = line end)
      local text = table.concat(lines, "\n")
      assert.matches("succeeded", text)
      assert.matches("val_loss", text)
      assert.matches("\n%s+3%s", text)
      assert.matches("confusion matrix", text)
      for _, name in ipairs(r.metadata.classNames) do assert.matches(name, text, 1, true) end
    end)

    it("writes to a file and reports a failure without metadata", function()
      local path = os.tmpname()
      local f = assert(io.open(path, "w"))
      pipeline.report({ job = 1, success = false, reason = "boom", epochs = {} }, f)
      f:close()
      local text = helper.read_file(path)
      os.remove(path)
      assert.matches("failed: boom", text)
      assert.not_matches("confusion", text)
    end)
  end)
end)

describe("pipeline.from_env", function()
  -- Run from_env in a child with the given environment; returns what it printed.
  -- The script goes in a file: tools/sanitize's ASan host takes no -e.
  local function from_env(env, opts)
    local script = os.tmpname()
    helper.write_file(script, ([[
      local pipeline = require "ei.pipeline"
      local ok, a, b, c = pcall(pipeline.from_env, %s)
      io.write(tostring(ok), " ", tostring(a), " ", tostring(b), " ", tostring(c))
    ]]):format(opts or "nil"))
    local p = assert(io.popen(("env -u EI_PROJECT_ID -u EI_LEARN_ID %s LUA_PATH=%s LUA_CPATH=%s %s %s 2>&1"):format(env,
      helper.quote(helper.lua_path), helper.quote(helper.lua_cpath), helper.quote(helper.lua), helper.quote(script))))
    local out = p:read("a")
    p:close()
    os.remove(script)
    return out
  end

  it("gives the client and the ids the environment names", function()
    assert.equal("true ei.Client (http://127.0.0.1:9) 42 7", from_env("EI_PROJECT_ID=42 EI_LEARN_ID=7 EI_API_KEY=ei_x EI_HOST=http://127.0.0.1:9"))
    assert.equal("true ei.Client (http://127.0.0.1:9) 42 nil", from_env("EI_PROJECT_ID=42 EI_API_KEY=ei_x EI_HOST=http://127.0.0.1:9"))
  end)

  it("returns nil and a message without EI_PROJECT_ID, and raises on bad options as ei.new does", function()
    assert.equal("true nil set EI_PROJECT_ID (and EI_API_KEY) first nil", from_env("EI_API_KEY=ei_x"))
    assert.matches("^false .*ei.new: unknown option 'api_kee'", from_env("EI_PROJECT_ID=42", "{ api_kee = 'x' }"))
  end)
end)
