-- The examples run unchanged against a fresh simulator.
local helper = require "helper"

local ROOT = helper.root

local quote = helper.quote

-- Run examples/<name>.lua with the simulator's settings in the environment;
-- returns its exit status, its output (stdout and stderr) and the simulator.
local function run_example(name, env)
  local sim = helper.studio { speed = 300 }
  local vars = {
    EI_HOST = sim.url, EI_API_KEY = sim.api_key, EI_PROJECT_ID = sim.project_id,
    LUA_PATH = helper.lua_path,
    LUA_CPATH = helper.lua_cpath,
  }
  for k, v in pairs(env or {}) do vars[k] = v end
  local parts = { "cd", quote(ROOT), "&&", "env" }
  for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. quote(v) end
  parts[#parts + 1] = quote(helper.lua) .. " " .. quote("examples/" .. name .. ".lua") .. " 2>&1"
  local p = assert(io.popen(table.concat(parts, " ")))
  local out = p:read("a")
  local _, how, status = p:close()
  helper.audit("examples/" .. name, out)
  return how == "exit" and status or -1, out, sim
end

local function check(name, expect_requests, patterns, env)
  local status, out, sim = run_example(name, env)
  local ok, err = pcall(function()
    assert.equal(0, status, out)
    for _, pat in ipairs(patterns) do assert.matches(pat, out, 1, true) end
    assert.equal(expect_requests, #sim:requests("/jobs/train/keras/"), out)
  end)
  sim:stop()
  if not ok then error(err, 0) end
  return out
end

describe("examples", function()
  it("pipeline.lua trains, tests, checks the fit and deploys the best variant that fits", function()
    local output = os.tmpname()
    os.remove(output)
    output = output .. ".zip"
    local status, out, sim = run_example("pipeline", { EI_OUTPUT = output })
    local ok, err = pcall(function()
      assert.equal(0, status, out)
      for _, pat in ipairs { "Generating features of DSP block 3 … done", "Validation accuracy ",
        "Confusion matrix of int8", "idle  ", "On-device estimate, Cortex-M4F 80MHz" } do
        assert.matches(pat, out, 1, true)
      end
      local int8, float32 = out:match("\nint8%s+(%d+%.%d+)%%"), out:match("\nfloat32%s+(%d+%.%d+)%%")
      assert.truthy(int8 and float32, out)
      assert.matches("\nint8%s+[%d.]+ KB%s+[%d.]+ KB%s+%d+ ms  yes\n", out)
      assert.matches("\nfloat32%s+[%d.]+ KB%s+[%d.]+ KB%s+%d+ ms  no, over: rom\n", out)
      assert.matches("Deploying int8 as a C++ library", out, 1, true)
      local size, sha = out:match("Deployment version 1 saved to " .. output:gsub("%p", "%%%0") .. "\n  (%d+) bytes, sha256 (%x+)\n")
      assert.truthy(size, out)
      local f = assert(io.open(output, "rb"))
      assert.equal(tonumber(size), f:seek("end"))
      f:close()
      local p = assert(io.popen("sha256sum " .. quote(output) .. " && unzip -Z1 " .. quote(output)))
      local listed = p:read("a")
      p:close()
      assert.equal(sha, listed:match("^(%x+)"))
      assert.matches("\nmodel%-parameters/model_metadata%.h\n", listed)
      assert.matches("\ntflite%-model/tflite_learn_5_compiled%.cpp\n", listed)
      assert.equal(1, #sim:requests("/jobs/train/keras/"))
      assert.equal(1, #sim:requests("/jobs/classify$"))
      assert.equal(1, #sim:requests("/jobs/build%-ondevice%-model$"))
      assert.equal(1, #sim:requests("/deployment/history/1/download$"))
    end)
    sim:stop()
    os.remove(output)
    if not ok then error(err, 0) end
  end)

  it("train.lua trains the first learn block and prints the final metrics", function()
    check("train", 1, { "Training job ", "epoch  30/30", "Training finished", "Final validation accuracy" })
  end)

  it("train.lua takes the learn block from EI_LEARN_ID", function()
    check("train", 1, { "learn block 7)", "Training finished" }, { EI_LEARN_ID = "7" })
  end)

  it("sweep.lua trains the grid one after another and finds the best setting", function()
    local out = check("sweep", 6, { "learningRate  batchSize", "best: learningRate=0.005 batchSize=32" })
    local rows = 0
    for _ in out:gmatch("\n0%.%d+%s+%d+%s+0%.%d+") do rows = rows + 1 end
    assert.equal(6, rows, out)
  end)

  it("parallel.lua trains every keras learn block at once", function()
    check("parallel", 2, { "Training 2 learn blocks at once", "== Classifier ==", "== Classifier 2 ==",
      "confusion matrix" })
  end)

  it("cqueues.lua follows a job alongside another coroutine", function()
    local out = check("cqueues", 1, { "epoch 10/10", "Training finished" })
    local beats = tonumber(out:match("heartbeat ran (%d+) times"))
    assert.is_true(beats and beats > 0, out)
  end)

  it("luv.lua follows a job while a timer ticks", function()
    local out = check("luv", 1, { "epoch 10", "Training finished" })
    assert.is_truthy(out:match("timer ticked %d+ times"), out)
  end)

  it("every example asks for EI_PROJECT_ID when it is missing", function()
    for _, name in ipairs { "pipeline", "train", "sweep", "parallel", "cqueues", "luv" } do
      local status, out, sim = run_example(name, { EI_PROJECT_ID = "" })
      sim:stop()
      assert.equal(2, status, name)
      assert.matches("EI_PROJECT_ID", out, 1, true)
    end
  end)
end)
