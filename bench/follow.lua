-- Trains one job on a running simulator and follows it with job:updates(),
-- counting log events until `finished`.
--
--   lua bench/follow.lua URL API_KEY PROJECT_ID LEARN_ID EXPECTED_LOG_LINES [COALESCE]
--
-- COALESCE (seconds) is passed to ei.new{ coalesce = … }; without it, ei's default.
-- Prints "lines <n> finished <success> job <id> finished_us <µs>" (finished_us: the
-- CLOCK_MONOTONIC microsecond the `finished` event reached the script, to compare with
-- the simulator's finishedSentUs) and exits 1 when the count differs from
-- EXPECTED_LOG_LINES. bench/run bounds it in time with timeout(1).
local ei = require "ei"
local core = require "ei.core"

local url, key, pid, lid, expected, coalesce = ...
pid, lid, expected = math.tointeger(tonumber(pid)), math.tointeger(tonumber(lid)), math.tointeger(tonumber(expected))
assert(url and key and pid and lid and expected, "usage: follow.lua URL API_KEY PROJECT_ID LEARN_ID EXPECTED")

local client = assert(ei.new { host = url, api_key = key, coalesce = tonumber(coalesce) })
local job = assert(client:train_keras(pid, lid, { trainingCycles = 1 }))
local lines, finished, finished_us = 0, nil, 0
for ev in job:updates() do
  if ev.type == "log" then
    lines = lines + 1
  elseif ev.type == "finished" then
    finished, finished_us = ev.success, core.monotime() * 1e6
  end
end
job:close()
print(("lines %d finished %s job %d finished_us %.0f"):format(lines, tostring(finished), job.id, finished_us))
if lines ~= expected or finished ~= true then
  io.stderr:write(("follow: expected %d log lines and success, got %d, %s\n"):format(expected, lines, tostring(finished)))
  os.exit(1)
end
