-- The ei-train command line, run as a user runs it, against the simulator.
local helper = require "helper"
local core = require "ei.core"
local train = require "ei.cli.train"
local progress = require "ei.cli.progress"
local ei = require "ei"

local ROOT = helper.root

local q = helper.quote

local run = helper.ei_train

local function sim_env(sim)
  return { host = sim.url, key = sim.api_key }
end

local write_file = helper.write_file

local function train_requests(sim)
  return sim:requests("/jobs/train/keras/")
end

describe("ei-train", function()
  it("prints its usage on stdout for --help and exits 0", function()
    local out, rc = run("--help")
    assert.equal(0, rc)
    assert.matches("usage: ei%-train %[train%] %-%-project P %-%-learn L", out)
    assert.matches("%-%-follow", out)
  end)

  it("refuses an unknown option with the usage and exit 2", function()
    local out, rc = run("--project 1 --learn 2 --frobnicate")
    assert.equal(2, rc)
    assert.matches("unknown option '%-%-frobnicate'", out)
    assert.matches("usage:", out)
  end)

  it("refuses a missing --project with exit 2", function()
    local out, rc = run("--learn 2")
    assert.equal(2, rc)
    assert.matches("missing %-%-project", out)
  end)

  it("follows a successful job: every log line, then finished: success, exit 0", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d --follow --set trainingCycles=3"):format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(0, rc)
    assert.matches("\nEpoch 1/3\n", out, 1, true)
    assert.matches("Epoch 3/3\n", out, 1, true)
    assert.matches("Job completed (success)\n", out, 1, true)
    assert.matches("\nfinished: success\n$", out)
    assert.is_nil(out:find("\r", 1, true))
    sim:stop()
  end)

  it("follows a job whose --plot file cannot be written: says why and exits 2", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d --follow --set trainingCycles=3 --plot %s"):format(
      sim.project_id, sim.learn_id, q(ROOT .. "/no-such-dir/plot.svg")), sim_env(sim))
    assert.equal(2, rc)
    assert.matches("Job completed (success)\n", out, 1, true)
    assert.matches("ei%-train: %-%-plot: [^\n]*no%-such%-dir/plot%.svg: No such file or directory", out)
    sim:stop()
  end)

  it("prints the job id and exits 0 without --follow", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d"):format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(0, rc)
    assert.matches("^%d+\n$", out)
    assert.equal(1, #train_requests(sim))
    sim:stop()
  end)

  it("sends the --set values field for field, nested keys included", function()
    local sim = helper.studio { speed = 300 }
    local _, rc = run(("--project %d --learn %d --set trainingCycles=3 --set learningRate=0.01 --set augmentationPolicySpectrogram.enabled=true")
      :format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(0, rc)
    local reqs = train_requests(sim)
    assert.equal(1, #reqs)
    assert.same({ trainingCycles = 3, learningRate = 0.01, augmentationPolicySpectrogram = { enabled = true } }, reqs[1].body)
    sim:stop()
  end)

  it("keeps a number-like value as text for a field the schema declares a string", function()
    local sim = helper.studio { speed = 300 }
    local _, rc = run(("--project %d --learn %d --set customParameters.seed=123 --set customParameters.flag=true --set trainingCycles=2")
      :format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(0, rc)
    assert.same({ trainingCycles = 2, customParameters = { seed = "123", flag = "true" } }, train_requests(sim)[1].body)
    sim:stop()
  end)

  it("reads --params from a JSON file and from a Lua file, with --set on top", function()
    local sim = helper.studio { speed = 300 }
    local json_file, lua_file = os.tmpname() .. ".json", os.tmpname() .. ".lua"
    write_file(json_file, '{"trainingCycles": 7, "learningRate": 0.002, "augmentationPolicySpectrogram": {"enabled": false}}')
    write_file(lua_file, 'return { trainingCycles = 4, batchSize = 16, customParameters = { x = "1" } }')
    local _, rc1 = run(("--project %d --learn %d --params %s --set trainingCycles=9"):format(sim.project_id, sim.learn_id, q(json_file)), sim_env(sim))
    local _, rc2 = run(("--project %d --learn %d --params %s"):format(sim.project_id, sim.learn_id, q(lua_file)), sim_env(sim))
    os.remove(json_file)
    os.remove(lua_file)
    assert.equal(0, rc1)
    assert.equal(0, rc2)
    local reqs = train_requests(sim)
    assert.equal(2, #reqs)
    assert.same({ trainingCycles = 9, learningRate = 0.002, augmentationPolicySpectrogram = { enabled = false } }, reqs[1].body)
    assert.same({ trainingCycles = 4, batchSize = 16, customParameters = { x = "1" } }, reqs[2].body)
    sim:stop()
  end)

  it("finds a learn block by its name in the impulse", function()
    local sim = helper.studio { speed = 300 }
    local impulse = assert(sim:client():impulse(sim.project_id)).impulse
    local block = impulse.learnBlocks[#impulse.learnBlocks]
    local _, rc = run(("--project %d --learn %s --set trainingCycles=2"):format(sim.project_id, q(block.name)), sim_env(sim))
    assert.equal(0, rc)
    local reqs = train_requests(sim)
    assert.equal(1, #reqs)
    assert.matches("/jobs/train/keras/" .. block.id .. "$", reqs[1].path)
    local out, rc2 = run(("--project %d --learn %s"):format(sim.project_id, q("No such block")), sim_env(sim))
    assert.equal(2, rc2)
    assert.matches('no learn block named "No such block"', out)
    assert.matches(block.name, out, 1, true)
    sim:stop()
  end)

  it("refuses an unknown --set key with exit 2, suggests learningRate, and sends nothing", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d --set learningrate=1"):format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(2, rc)
    assert.matches('learningrate: unknown field (did you mean "learningRate"?)', out, 1, true)
    assert.same({}, sim:records("http"))
    sim:stop()
  end)

  it("sends a field newer than the bundled schema with --allow-unknown, warns about it, and still checks known fields", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d --allow-unknown --set trainingCycles=3 --set trainingProcessorX=gpu")
      :format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(0, rc, out)
    assert.matches("trainingProcessorX", out, 1, true) -- the warning names the field
    local reqs = train_requests(sim)
    assert.equal(1, #reqs)
    assert.same({ trainingCycles = 3, trainingProcessorX = "gpu" }, reqs[1].body)
    out, rc = run(("--project %d --learn %d --allow-unknown --set trainingCycles=many --set trainingProcessorX=gpu")
      :format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(2, rc)
    assert.matches("trainingCycles", out, 1, true)
    assert.equal(1, #train_requests(sim))
    sim:stop()
  end)

  it("prints one JSON object per line with --json, the last one finished", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d --follow --json --set trainingCycles=3"):format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(0, rc)
    local events = {}
    for line in out:gmatch("[^\n]+") do events[#events + 1] = assert(core.decode(line)) end
    assert.equal("started", events[1].type)
    local last = events[#events]
    assert.equal("finished", last.type)
    assert.is_true(last.success)
    local types = {}
    for _, ev in ipairs(events) do types[ev.type] = (types[ev.type] or 0) + 1 end
    assert.equal(3, types.progress)
    assert.equal(3, types.metrics)
    assert.equal(1, types.finished)
    sim:stop()
  end)

  it("exits 1 and says why when the job fails", function()
    local sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 1 } } }
    local out, rc = run(("--project %d --learn %d --follow --set trainingCycles=3"):format(sim.project_id, sim.learn_id), sim_env(sim))
    assert.equal(1, rc)
    assert.matches("\nfinished: failure %(.+%)\n$", out)
    sim:stop()
  end)

  it("exits 3 when the host cannot be reached", function()
    local out, rc = run("--project 1 --learn 2 --follow", { host = "http://127.0.0.1:1", key = "ei_x" })
    assert.equal(3, rc)
    assert.matches("^ei%-train: ", out)
  end)

  it("exits 3 with a wrong API key, and never prints the key", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run(("--project %d --learn %d"):format(sim.project_id, sim.learn_id), { host = sim.url, key = "ei_wrong_key_0123" })
    assert.equal(3, rc)
    assert.matches("not authorized", out)
    assert.is_nil(out:find("ei_wrong_key_0123", 1, true))
    sim:stop()
  end)
end)

describe("ei.cli.train", function()
  it("parses --set values without guessing wrongly", function()
    assert.is_true(train.parse_value("true"))
    assert.is_false(train.parse_value("false"))
    assert.equal(ei.null, train.parse_value("null"))
    assert.equal("integer", math.type(train.parse_value("30")))
    assert.equal(-2, train.parse_value("-2"))
    assert.equal("float", math.type(train.parse_value("0.5")))
    assert.equal(1e-3, train.parse_value("1e-3"))
    assert.equal("0x10", train.parse_value("0x10"))
    assert.equal("low", train.parse_value("low"))
    assert.equal("", train.parse_value(""))
    assert.equal("True", train.parse_value("True"))
  end)

  it("sets array items by number and rejects a key through a scalar", function()
    local t = assert(train.apply_sets({ visualLayers = { { type = "dense", neurons = 10 } } },
      { { key = "visualLayers.1.neurons", text = "20" } }))
    assert.same({ visualLayers = { { type = "dense", neurons = 20 } } }, t)
    local ok, err = train.apply_sets({}, { { key = "trainingCycles", text = "3" }, { key = "trainingCycles.x", text = "1" } })
    assert.is_nil(ok)
    assert.matches("trainingCycles is not an object", err, 1, true)
  end)

  it("keeps the text of string fields whatever their key looks like", function()
    local t = assert(train.apply_sets({}, {
      { key = "customParameters.some-param", text = "12" }, { key = "customParameters.a b", text = "false" },
      { key = "customParameters.rate", text = "1.50" }, { key = "customParameters.gone", text = "null" },
      { key = "trainingCycles", text = "5" },
    }))
    assert.same({ trainingCycles = 5, customParameters = { ["some-param"] = "12", ["a b"] = "false", rate = "1.50", gone = ei.null } }, t)
    local ok, err = train.apply_sets({}, { { key = "trainingCycles", text = "many" } })
    assert.is_nil(ok)
    assert.equal("trainingCycles: expected integer, got string", err)
  end)

  it("draws the progress line with epoch, elapsed, ETA and metrics", function()
    local line = progress.line { epoch = 3, epochs = 10, elapsed = 30, metrics = { loss = 0.5, accuracy = 0.75, val_accuracy = 0.7 } }
    assert.equal("Epoch 3/10 [#######-----------------]  30%  elapsed 0:30  ETA 1:10  loss 0.5000  accuracy 0.7500  val_accuracy 0.7000", line)
  end)

  -- Start ei-train following a slow job, interrupt it with SIGINT once it printed a few
  -- lines, and return its output and exit code.
  local function interrupted(sim, extra)
    local out_file = os.tmpname()
    local script = ("cd %s || exit 9; EI_HOST=%s EI_API_KEY=%s LUA_PATH=%s LUA_CPATH=%s %s bin/ei-train --project %d --learn %d --follow %s > %s 2>&1 & pid=$!; "
      .. "for i in $(seq 1 100); do [ $(wc -l < %s) -ge 5 ] && break; sleep 0.1; done; kill -INT $pid; wait $pid; echo rc=$? >> %s")
      :format(q(ROOT), q(sim.url), q(sim.api_key), q(helper.lua_path), q(helper.lua_cpath), q(helper.lua),
        sim.project_id, sim.learn_id, extra, q(out_file), q(out_file), q(out_file))
    os.execute("timeout 60 bash -c " .. q(script))
    local out = helper.read_file(out_file) or ""
    os.remove(out_file)
    helper.audit("ei-train", out)
    return out, tonumber(out:match("rc=(%d+)%s*$"))
  end

  it("cancels the job on Ctrl-C with --cancel-on-interrupt", function()
    local sim = helper.studio { speed = 2 }
    local out, rc = interrupted(sim, "--cancel-on-interrupt")
    assert.equal(1, rc, out)
    assert.matches("interrupted; job %d+ canceled", out)
    assert.equal(1, #sim:requests("/cancel$", "POST"))
    sim:stop()
  end)

  it("leaves the job running on Ctrl-C without --cancel-on-interrupt", function()
    local sim = helper.studio { speed = 2 }
    local out, rc = interrupted(sim, "")
    assert.equal(1, rc, out)
    assert.matches("interrupted; job %d+ goes on in Studio", out)
    assert.equal(0, #sim:requests("/cancel$", "POST"))
    sim:stop()
  end)
end)
