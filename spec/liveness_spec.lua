-- Liveness: the live side never stalls its caller, no job holds up another, and
-- an answer that will not change ends a follow at once (DESIGN §2).
local helper = require "helper"
local core = require "ei.core"

local lines_of = helper.lines_of

-- The longest call allowed: a call that waited for one late answer takes 1.5 s. Under
-- tools/sanitize's ASan host (another interpreter) every call costs a few times more.
local LONGEST_CALL = helper.lua == "lua5.4" and 0.05 or 0.25
-- With 1,000 jobs a call also does the collector's steps over all of them (a few ms of
-- CPU each, the host's Lua state's own) and starts queued requests; still far below
-- the 1.5 s of one late answer.
local LONGEST_CALL_1000 = helper.lua == "lua5.4" and 0.25 or 0.5

local function stored_lines(client, sim, job_id)
  return lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job_id })))
end

local function downloads(sim, job_id)
  return #sim:requests("/jobs/" .. job_id .. "/stdout/download", "GET")
end

-- A host's own loop over the pollable protocol, timing every call into ei.
-- `jobs` are followed to their end with receive(0); with `per_client`, the loop
-- polls and steps the client once a turn instead of each job (as a host
-- following many jobs would). Returns the log lines per job, the longest call
-- (seconds) and its name, and the first error.
local function host_loop(client, jobs, bound, per_client)
  local worst, worst_name = 0, nil
  local cpu_worst = 0 -- the same calls in CPU time, which a busy machine's preemptions do not inflate
  local function timed(name, f, ...)
    local t, c0 = core.monotime(), os.clock()
    local a, b, c = f(...)
    local took = core.monotime() - t
    cpu_worst = math.max(cpu_worst, os.clock() - c0)
    if took > worst then worst, worst_name = took, name end
    return a, b, c
  end
  local logs, finished, left = {}, {}, #jobs
  for _, job in ipairs(jobs) do logs[job.id] = {} end
  local deadline = core.monotime() + bound
  while left > 0 and core.monotime() < deadline do
    local fd, wait
    if per_client then
      fd, wait = timed("client:pollfd", client.pollfd, client), timed("client:timeout", client.timeout, client)
      timed("client:events", client.events, client)
    else
      for _, job in ipairs(jobs) do
        if not finished[job.id] then
          fd = timed("pollfd", job.pollfd, job)
          timed("events", job.events, job)
          local t = timed("timeout", job.timeout, job)
          if t and (not wait or t < wait) then wait = t end
        end
      end
    end
    core.poll(fd, "r", math.min(wait or 0.05, 0.05))
    if per_client then timed("client:step", client.step, client) end
    for _, job in ipairs(jobs) do
      if not finished[job.id] then
        if not per_client then timed("step", job.step, job) end
        while true do
          local ev, err, code = timed("receive(0)", job.receive, job, 0)
          if not ev then
            if code ~= "ETIMEDOUT" then
              if err then return logs, worst, worst_name, err, code end
              finished[job.id] = true
              left = left - 1
            end
            break
          end
          if ev.type == "log" then table.insert(logs[job.id], ev.line) end
        end
      end
    end
  end
  if left > 0 then return logs, worst, worst_name, "the loop's bound passed", "ETIMEDOUT" end
  return logs, worst, worst_name, nil, nil, cpu_worst
end

describe("a host loop", function()
  it("never stalls in any call while tokens and status come 1.5 s late and the socket drops every 30 frames", function()
    local sim = helper.studio { speed = 20, scenario = {
      slow = { { match = "getSocketToken|getJobStatus", delayMs = 1500 } },
      dropSocket = { afterFrames = 30, every = true },
    } }
    local client = sim:client { status_interval = 1 }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    local logs, worst, name, err, _, cpu = host_loop(client, { job }, 120)
    assert.is_nil(err, err)
    assert.same(stored_lines(client, sim, job.id), logs[job.id])
    assert.is_true(#sim:records("ws-open") >= 3, "the socket was not dropped")
    io.stderr:write(("host loop, 1 job, slow REST and drops: longest call %.2f ms (%s), %.2f ms CPU\n")
      :format(worst * 1000, name, cpu * 1000))
    assert.is_true(worst < LONGEST_CALL, ("%s took %.1f ms"):format(name, worst * 1000))
    client:close()
    sim:stop()
  end)

  it("never stalls in any call with 1,000 followed jobs while tokens come 1.5 s late and the socket drops", function()
    local sim = helper.studio { speed = 50, scenario = {
      fastStream = { lines = 20 },
      slow = { { match = "getSocketToken", delayMs = 1500 } },
      dropSocket = { afterFrames = 30, every = true },
    } }
    local client = sim:client { status_interval = 2 }
    local jobs = {}
    for i = 1, 1000 do jobs[i] = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 1 })) end
    local logs, worst, name, err, _, cpu = host_loop(client, jobs, 240, true)
    assert.is_nil(err, err)
    for _, i in ipairs { 1, 2, 500, 999, 1000 } do
      assert.same(stored_lines(client, sim, jobs[i].id), logs[jobs[i].id])
    end
    for _, job in ipairs(jobs) do assert.equal(23, #logs[job.id]) end -- 20 lines, a head of 2 and the end
    io.stderr:write(("host loop, 1,000 jobs, slow tokens and drops: longest call %.2f ms (%s), %.2f ms CPU\n")
      :format(worst * 1000, name, cpu * 1000))
    assert.is_true(worst < LONGEST_CALL_1000, ("%s took %.1f ms"):format(name, worst * 1000))
    client:close()
    sim:stop()
  end)

  it("starts and cancels jobs through pending calls without a call waiting for Studio's late answers", function()
    local sim = helper.studio { speed = 30, scenario = { slow = { { match = "trainKerasJob|cancelJob", delayMs = 1500 } } } }
    local client = sim:client()
    local worst = 0
    local function run(op)
      local deadline = core.monotime() + 30
      while not op:done() and core.monotime() < deadline do
        core.poll(op:pollfd(), op:events(), math.min(op:timeout() or 0.05, 0.05))
        local t = core.monotime()
        op:step()
        worst = math.max(worst, core.monotime() - t)
      end
      return op:result()
    end
    local job = assert(run(client:pending(client.train_keras, client, sim.project_id, sim.learn_id, { trainingCycles = 30 })))
    assert.is_true(run(client:pending(job.cancel, job, true)))
    assert.equal(1, #sim:requests("/jobs/" .. job.id .. "/cancel", "POST"))
    assert.is_true(worst < LONGEST_CALL, ("a step took %.1f ms"):format(worst * 1000))
    local failed = client:pending(client.train_keras, client, sim.project_id, sim.learn_id, { learningRate = "fast" })
    local _, err, code = run(failed)
    assert.equal("EINVAL", code)
    assert.truthy(err:find("learningRate", 1, true))
    local misuse = client:pending(client.train_keras, client, "not a project")
    assert.has_error(function() run(misuse) end)
    client:close()
    sim:stop()
  end)
end)

describe("a job nobody reads", function()
  -- Job 1 is read to its end while job 2, on the same socket, had one receive(0) and
  -- is then left alone: each has more lines than a job may keep queued (10,000).
  local function read_one_beside_unread(scenario, lines)
    local sim = helper.studio { speed = 30, scenario = scenario }
    local client = sim:client { status_interval = 1 }
    local job1 = assert(client:train_keras(sim.project_id, sim.learn_id, {}))
    local job2 = assert(client:train_keras(sim.project_id, sim.learn_id, {}))
    job2:receive(0)
    local got, last_at, finished_at = {}, nil, nil
    for ev in job1:updates() do
      if ev.type == "log" then
        got[#got + 1] = ev.line
        last_at = tonumber(ev.line:match(" at (%d+)$")) or last_at
      elseif ev.type == "finished" then
        finished_at = core.monotime()
      end
    end
    assert.equal(0, downloads(sim, job1.id), "job 1 needed its stored log")
    assert.equal(lines + 3, #got)
    assert.same(stored_lines(client, sim, job1.id), got)
    -- Now job 2 is read: every line once, the part it could not keep from the stored log.
    local rest = {}
    for ev in job2:updates() do if ev.type == "log" then rest[#rest + 1] = ev.line end end
    assert.is_true(downloads(sim, job2.id) >= 1, "job 2 never overflowed")
    assert.same(stored_lines(client, sim, job2.id), rest)
    client:close()
    sim:stop()
    return last_at, finished_at
  end

  it("does not hold up a job being read, with a steady producer, and is read whole later", function()
    local last_at, finished_at = read_one_beside_unread({ steadyStream = { rate = 2500, lines = 12000 } }, 12000)
    -- The steady lines carry the server's CLOCK_MONOTONIC microsecond, the clock of core.monotime.
    local lag = finished_at - last_at / 1e6
    io.stderr:write(("read job finished %.0f ms after its last line was sent, beside an unread job\n"):format(lag * 1000))
    assert.is_true(lag < 1, ("finished %.2f s after the server's end"):format(lag))
  end)

  it("does not hold up a job being read when the producer waits for the client to read", function()
    read_one_beside_unread({ fastStream = { lines = 40000 } }, 40000)
  end)

  it("keeps memory bounded while an unread job streams 1,000,000 lines", function()
    local sim = helper.studio { speed = 30, scenario = { fastStream = { lines = 1000000, nth = 2 }, steadyStream = { rate = 200, lines = 2000, nth = 1 } } }
    local script = os.tmpname()
    helper.write_file(script, ([[
      local ei = require "ei"
      local client = assert(ei.new { host = %q, api_key = %q, status_interval = 1 })
      local job1 = assert(client:train_keras(%d, %d, {}))
      local job2 = assert(client:train_keras(%d, %d, {}))
      job2:receive(0)
      local n = 0
      for ev in job1:updates() do if ev.type == "log" then n = n + 1 end end
      -- job 2 streams on, unread, until Studio says it is done
      repeat
        client:step()
        require("ei.core").poll(client:pollfd(), "r", 0.2)
        local st = assert(job2:status())
      until st.finished
      local status = io.open("/proc/self/status"):read("a")
      io.write(n, "\t", status:match("VmHWM:%%s*(%%d+)"), "\n")
    ]]):format(sim.url, sim.api_key, sim.project_id, sim.learn_id, sim.project_id, sim.learn_id))
    local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s %s %s 2>&1"):format(helper.quote(helper.lua_path),
      helper.quote(helper.lua_cpath), helper.quote(helper.lua), helper.quote(script))))
    local out = p:read("a")
    p:close()
    os.remove(script)
    local client = sim:client()
    local jobs = client:call("listActiveJobs", { projectId = sim.project_id })
    client:close()
    sim:stop()
    local n, peak = out:match("^(%d+)\t(%d+)\n")
    assert.equal("2003", n, out)
    io.stderr:write(("peak RSS beside an unread job of 1,000,000 lines: %d kB\n"):format(tonumber(peak)))
    if helper.lua ~= "lua5.4" then
      pending("on another interpreter (tools/sanitize's ASan host) peak RSS counts what ASan holds back")
      return
    end
    assert.is_true(tonumber(peak) < 80 * 1024, ("peak RSS %s kB"):format(peak))
    assert.is_table(jobs)
  end)

  it("is followed one after another with its siblings, every line once", function()
    local sim = helper.studio { speed = 30, scenario = { fastStream = { lines = 15000 } } }
    local client = sim:client { status_interval = 1 }
    local jobs = {}
    for i = 1, 3 do jobs[i] = assert(client:train_keras(sim.project_id, sim.learn_id, {})) end
    for _, job in ipairs(jobs) do
      local got = {}
      for ev in job:updates() do if ev.type == "log" then got[#got + 1] = ev.line end end
      assert.same(stored_lines(client, sim, job.id), got)
    end
    client:close()
    sim:stop()
  end)
end)

describe("following ends at the first permanent answer", function()
  local sim, client
  before_each(function()
    sim = helper.studio { speed = 30 }
    client = sim:client { status_interval = 0.5 }
  end)
  after_each(function()
    client:close()
    sim:stop()
  end)

  local function status_requests(job_id)
    return #sim:requests("/jobs/" .. job_id .. "/status", "GET")
  end

  local FOLLOWERS = {
    ["wait()"] = function(job) return job:wait(30) end,
    ["receive()"] = function(job)
      while true do
        local ev, err, code = job:receive(30)
        if not ev then return ev, err, code end
      end
    end,
    ["updates()"] = function(job)
      local ok, err = pcall(function() for _ in job:updates() do end end)
      if ok then return true end
      return nil, err, err:match("%u%u%u%u+$")
    end,
    ["a host loop"] = function(job)
      local _, _, _, err, code = host_loop(client, { job }, 30)
      return nil, err, code
    end,
  }

  for name, follow in pairs(FOLLOWERS) do
    it(name .. " of a job id that does not exist ends with EAPI naming the job at the first answer", function()
      local job = client:job(sim.project_id, 424242)
      local started = core.monotime()
      local ok, err, code = follow(job)
      assert.is_nil(ok)
      assert.truthy(err:find("424242", 1, true), err)
      assert.truthy(err:find("not found", 1, true), err)
      if name ~= "updates()" then assert.equal("EAPI", code) end
      assert.equal(1, status_requests(424242))
      assert.is_true(core.monotime() - started < 10)
    end)

    it(name .. " ends with EAUTH when the key stops being accepted", function()
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
      assert(job:receive(10))
      sim:control("revoke-key")
      local ok, err, code = follow(job)
      assert.is_nil(ok)
      assert.truthy(err:find("job " .. job.id, 1, true), err)
      if name ~= "updates()" then assert.equal("EAUTH", code) end
    end)
  end

  it("a burst of 503 answers to status checks is still waited out", function()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 3 }))
    assert(job:receive(10))
    sim:control("fail-next", { count = 8, status = 503 })
    assert.is_true(job:wait(60))
    local n503 = 0
    for _, r in ipairs(sim:requests(".")) do if r.status == 503 then n503 = n503 + 1 end end
    assert.equal(8, n503)
  end)
end)
