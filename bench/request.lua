-- Request path in Lua: per-call time of core.encode(t, "SetKerasParameterRequest")
-- (schema validation + JSON encoding) for a request with 20 visual layers.
--
--   lua5.4 bench/request.lua [BATCHES] [SECONDS_PER_BATCH] [CALLS_PER_BATCH]
--
-- Prints one line: "request-lua <median us/call> <min> <max> <calls/batch>".
-- CALLS_PER_BATCH fixes the batch size instead of sizing it by time, for instruction
-- counts that repeat: the difference between two callgrind runs, e.g.
--   valgrind --tool=callgrind lua5.4 bench/request.lua 1 0 2000   (and ... 1 0 1000)
-- divided by 1000 is the count per call.
local core = require "ei.core"

local batches = tonumber((...)) or 5
local seconds = tonumber((select(2, ...))) or 1

local function request()
  local layers = {}
  for i = 1, 20 do
    local k = i % 4
    if k == 1 then layers[i] = { type = "conv1d", neurons = 8 * i, kernelSize = 3, stack = 1 }
    elseif k == 2 then layers[i] = { type = "dropout", dropoutRate = 0.25 }
    elseif k == 3 then layers[i] = { type = "dense", neurons = 16 + i }
    else layers[i] = { type = "dense", neurons = 32, enabled = true } end
  end
  return {
    mode = "visual", trainingCycles = 30, learningRate = 0.005, batchSize = 32,
    visualLayers = layers,
  }
end

local t = request()
local text = assert(core.encode(t, "SetKerasParameterRequest"))
assert(#text > 500)

local samples = {}
local fixed = tonumber((select(3, ...)))
local calls = fixed or 1000
if not fixed then -- size a batch so that it takes about `seconds`
  local t0 = core.monotime()
  for _ = 1, calls do core.encode(t, "SetKerasParameterRequest") end
  local dt = core.monotime() - t0
  calls = math.max(1000, math.floor(calls * seconds / math.max(dt, 1e-6)))
end
for b = 1, batches do
  local t0 = core.monotime()
  for _ = 1, calls do core.encode(t, "SetKerasParameterRequest") end
  samples[b] = (core.monotime() - t0) / calls * 1e6
end
table.sort(samples)
print(("request-lua %.3f %.3f %.3f %d"):format(samples[(batches + 1) // 2], samples[1], samples[batches], calls))
