-- Trains one job on a running simulator and follows it with job:updates(),
-- counting log events until `finished`.
--
--   lua bench/follow.lua URL API_KEY PROJECT_ID LEARN_ID EXPECTED_LOG_LINES
--
-- Prints "lines <n>" and exits 1 when the count differs from EXPECTED_LOG_LINES
-- bench/run bounds it in time with timeout(1).
local ei = require "ei"

local url, key, pid, lid, expected = ...
pid, lid, expected = math.tointeger(tonumber(pid)), math.tointeger(tonumber(lid)), math.tointeger(tonumber(expected))
assert(url and key and pid and lid and expected, "usage: follow.lua URL API_KEY PROJECT_ID LEARN_ID EXPECTED")

local client = assert(ei.new { host = url, api_key = key })
local job = assert(client:train_keras(pid, lid, { trainingCycles = 1 }))
local lines, finished = 0, nil
for ev in job:updates() do
  if ev.type == "log" then
    lines = lines + 1
  elseif ev.type == "finished" then
    finished = ev.success
  end
end
job:close()
print(("lines %d finished %s"):format(lines, tostring(finished)))
if lines ~= expected or finished ~= true then
  io.stderr:write(("follow: expected %d log lines and success, got %d, %s\n"):format(expected, lines, tostring(finished)))
  os.exit(1)
end
