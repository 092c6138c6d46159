-- Trains one job on a simulator running the steadyStream scenario and follows it with
-- job:updates(), noting for every `Steady line … at <µs>` how long after the simulator
-- sent it the script received it. Both clocks are CLOCK_MONOTONIC: the simulator's
-- process.hrtime and core.monotime() here.
--
--   lua5.4 bench/latency.lua URL API_KEY PROJECT_ID LEARN_ID EXPECTED_LINES [SKIP [COALESCE]]
--
-- Prints "events <n> p50_us <x> p99_us <y> max_us <z>" over the stamped lines after the
-- first SKIP (default 100: connection set-up and warm-up); exits 1 unless all
-- EXPECTED_LINES stamped lines came and the job succeeded. bench/run bounds it in time
-- with timeout(1). COALESCE (seconds) is passed to ei.new{ coalesce = … }; without it,
-- ei's default.
local ei = require "ei"
local core = require "ei.core"

local url, key, pid, lid, expected, skip, coalesce = ...
pid, lid = math.tointeger(tonumber(pid)), math.tointeger(tonumber(lid))
expected, skip = math.tointeger(tonumber(expected)), math.tointeger(tonumber(skip or 100))
assert(url and key and pid and lid and expected and skip, "usage: latency.lua URL API_KEY PROJECT_ID LEARN_ID EXPECTED [SKIP]")

local client = assert(ei.new { host = url, api_key = key, coalesce = tonumber(coalesce) })
local job = assert(client:train_keras(pid, lid, { trainingCycles = 1 }))
local delays, stamped, finished = {}, 0, nil
for ev in job:updates() do
  if ev.type == "log" then
    local sent = ev.line:match(" at (%d+)$")
    if sent then
      local now = core.monotime() * 1e6
      stamped = stamped + 1
      if stamped > skip then delays[#delays + 1] = now - tonumber(sent) end
    end
  elseif ev.type == "finished" then
    finished = ev.success
  end
end
job:close()

table.sort(delays)
local function pct(p)
  if #delays == 0 then return 0 / 0 end
  return delays[math.max(1, math.ceil(p / 100 * #delays))]
end
print(("events %d p50_us %.0f p99_us %.0f max_us %.0f"):format(#delays, pct(50), pct(99), delays[#delays] or 0 / 0))
if stamped ~= expected or finished ~= true then
  io.stderr:write(("latency: expected %d stamped lines and success, got %d, %s\n"):format(expected, stamped, tostring(finished)))
  os.exit(1)
end
