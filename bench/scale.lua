-- N concurrent jobs on one client with ei.run, each followed to `finished`
-- with job:updates(), counting log events.
--
--   lua5.4 bench/scale.lua URL API_KEY PROJECT_ID LEARN_ID JOBS EXPECTED_LOG_LINES_PER_JOB
--
-- Prints "jobs <n> lines <total>" and exits 1 on a wrong count. bench/run bounds it
-- in time with timeout(1).
local ei = require "ei"

local url, key, pid, lid, jobs, expected = ...
pid, lid = math.tointeger(tonumber(pid)), math.tointeger(tonumber(lid))
jobs, expected = math.tointeger(tonumber(jobs)), math.tointeger(tonumber(expected))
assert(url and key and pid and lid and jobs and expected, "usage: scale.lua URL API_KEY PROJECT_ID LEARN_ID JOBS EXPECTED")

local client = assert(ei.new { host = url, api_key = key })
local tasks = {}
for i = 1, jobs do
  tasks[i] = function()
    local job = assert(client:train_keras(pid, lid, { trainingCycles = 1 }))
    local lines, ok = 0, false
    for ev in job:updates() do
      if ev.type == "log" then lines = lines + 1
      elseif ev.type == "finished" then ok = ev.success end
    end
    job:close()
    return ok and lines or -lines
  end
end
local results = table.pack(ei.run(table.unpack(tasks)))
local total, bad = 0, 0
for i = 1, jobs do
  local n = results[i]
  if n ~= expected then bad = bad + 1 end
  total = total + math.abs(n or 0)
end
print(("jobs %d lines %d"):format(jobs, total))
if bad > 0 then
  io.stderr:write(("scale: %d of %d jobs did not deliver %d lines and success\n"):format(bad, jobs, expected))
  os.exit(1)
end
