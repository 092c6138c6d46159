-- Following jobs live: every line exactly once, in order, whatever the socket does.
local helper = require "helper"
local ei = require "ei"
local core = require "ei.core"

local lines_of = helper.lines_of

-- Let `seconds` pass inside ei.run, yielding to the other coroutines meanwhile.
local function pause(seconds)
  local monotime = require("ei.core").monotime
  local deadline = monotime() + seconds
  local pollable = { pollfd = function() return -1 end, events = function() return "r" end,
    timeout = function() return math.max(0, deadline - monotime()) end }
  while monotime() < deadline do require("ei.wait").run(pollable) end
end

-- Follow a job to its end; returns the events by type and every event in order.
local function follow(job)
  local all, by = {}, { log = {}, progress = {}, metrics = {}, connection = {}, finished = {} }
  for ev in job:updates() do
    all[#all + 1] = ev
    assert.equal(job.id, ev.job)
    table.insert(by[ev.type], ev)
  end
  return by, all
end

local function downloaded(client, sim, job)
  return lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job.id })))
end

local function log_lines(by)
  local list = {}
  for i, ev in ipairs(by.log) do list[i] = ev.line end
  return list
end

local function check_complete(client, sim, job, by, all)
  assert.same(downloaded(client, sim, job), log_lines(by))
  assert.equal(1, #by.finished)
  assert.equal("finished", all[#all].type)
end

-- Faults (drops, outages, expired tokens, 503/429, stalls, junk frames, oversized
-- messages) are the matrix of spec/faults_spec.lua.
describe("job updates", function()
  local function run_case(name, scenario, params, expect_success, happened)
    it(name, function()
      local sim = helper.studio { scenario = scenario, speed = 300 }
      local client = sim:client { status_interval = 0.5, backoff = 0.01 }
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, params or { trainingCycles = 30 }))
      local by, all = follow(job)
      check_complete(client, sim, job, by, all)
      assert.equal(expect_success ~= false, by.finished[1].success)
      if happened then happened(sim) end
      client:close()
      sim:stop()
    end)
  end

  run_case("deliver a 30-epoch job with progress and metrics in a plain script", nil)
  -- the socket was cut and reopened, and the simulator sent more job-data frames than
  -- the job has: the frames before the cut went out twice
  local function replayed(sim)
    assert.equal(1, #sim:records("ws-cut"))
    assert.equal(2, #sim:records("ws-open"))
    local stats = sim:stats()
    assert.is_true(stats.dataFrames > stats.jobs[1].frames,
      ("%d data frames sent for a job of %d"):format(stats.dataFrames, stats.jobs[1].frames))
  end
  run_case("skip what a reconnect replays from the start", { dropSocket = { afterFrames = 40 }, replayFromStart = true },
    nil, true, replayed)
  run_case("skip a replay without timestamps", { dropSocket = { afterFrames = 40 }, omitTimestamps = true },
    nil, true, replayed)
  run_case("finish through the REST status when job-finished never comes", { noJobFinished = true })
  run_case("deliver a 1 MB line whole", { hugeLine = { bytes = 1024 * 1024, atEpoch = 2 } }, { trainingCycles = 3 })
  run_case("report a failed job", { failJob = { atEpoch = 2 } }, { trainingCycles = 5 }, false)

  it("reads a burst in batches spaced by ei.new{ coalesce }, every line once", function()
    local sim = helper.studio { speed = 300, scenario = { fastStream = { lines = 5000 } } }
    local client = sim:client { coalesce = 0.25 }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 1 }))
    local lines, longest_gap, last = {}, 0, nil
    for ev in job:updates() do
      if ev.type == "log" then
        local now = core.monotime()
        if last then longest_gap = math.max(longest_gap, now - last) end
        last = now
        lines[#lines + 1] = ev.line
      end
    end
    assert.same(downloaded(client, sim, job), lines)
    -- The first read of the burst takes several frames; the next waits 0.25 s.
    assert.is_true(longest_gap >= 0.2, ("longest gap between lines %.3f s"):format(longest_gap))
    client:close()
    sim:stop()
  end)

  it("refuses a coalescing pause outside 0 to 1 second", function()
    for _, bad in ipairs { -0.5, 1.5 } do
      local ok, err = pcall(ei.new, { api_key = "ei_x", coalesce = bad })
      assert.is_false(ok)
      assert.matches("option 'coalesce' must be a number of seconds from 0 to 1", err, 1, true)
    end
    assert.is_table(ei.new { api_key = "ei_x", coalesce = 0 })
  end)

  it("emits progress after the log line it came from and metrics for every epoch", function()
    local sim = helper.studio { speed = 300 }
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    local by, all = follow(job)
    assert.equal(30, #by.progress)
    assert.equal(30, #by.metrics)
    for i, ev in ipairs(all) do
      if ev.type == "progress" then
        assert.equal(("Epoch %d/%d"):format(ev.epoch, ev.epochs), all[i - 1].line)
        assert.equal(ev.epoch / ev.epochs, ev.fraction)
      end
    end
    assert.equal(30, by.metrics[30].epoch)
    assert.is_number(by.metrics[30].val_accuracy)
    assert.equal("connected", by.connection[1].state)
    assert.is_true(job:wait())
    client:close()
    sim:stop()
  end)

  it("returns false and a reason from wait for a diverging run", function()
    local sim = helper.studio { speed = 300 }
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 5, learningRate = 0.9 }))
    local ok, why = job:wait(30)
    assert.is_false(ok)
    assert.is_string(why)
    client:close()
    sim:stop()
  end)

  it("ends a cancelled job as failed", function()
    local sim = helper.studio { speed = 5 }
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    assert(job:receive(10))
    assert(job:cancel())
    local ok, why = job:wait(30)
    assert.is_false(ok)
    assert.equal("canceled", why)
    client:close()
    sim:stop()
  end)

  it("times out receive(timeout) in a plain script while the socket is open and silent, and loses no line", function()
    -- Lines every 0.25 s: a 0.05 s receive in between finds the socket open and
    -- nothing queued, so its wait ends at its deadline (the steady wait in C).
    local sim = helper.studio { scenario = { steadyStream = { rate = 4, lines = 8 } } }
    local client = sim:client { status_interval = 30 }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 1 }))
    local lines, timeouts, finished = {}, 0, nil
    while not finished do
      local t0 = core.monotime()
      local ev, err, code = job:receive(0.05)
      if ev then
        if ev.type == "log" then lines[#lines + 1] = ev.line end
        if ev.type == "finished" then finished = ev end
      else
        assert.equal("ETIMEDOUT", code, err)
        assert.is_true(core.monotime() - t0 >= 0.05)
        if #lines > 0 then timeouts = timeouts + 1 end
      end
    end
    assert.is_true(finished.success)
    assert.same(downloaded(client, sim, job), lines)
    assert.equal(8 + 3, #lines)
    assert.is_true(timeouts >= 1, "no receive timed out between two lines")
    client:close()
    sim:stop()
  end)

  it("closes the subscription on break", function()
    local sim = helper.studio { speed = 50 }
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    for ev in job:updates() do
      if ev.type == "log" then break end
    end
    assert.matches(", closed%)$", tostring(job))
    assert.has_error(function() job:receive() end)
    -- its last job gone, the websocket closes
    assert.is_true(helper.eventually(function() return #sim:records("ws-close") > 0 end, 5))
    client:close()
    sim:stop()
  end)

  it("follows 20 jobs at once with ei.run over one websocket", function()
    local sim = helper.studio { speed = 300 }
    local client = sim:client()
    local starts, follows = {}, {}
    for i = 1, 20 do
      starts[i] = function() return assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 })) end
    end
    -- Started first, then all followed together: however slow the host, none has
    -- finished and closed the socket before the last is followed.
    local jobs = { ei.run(table.unpack(starts)) }
    for i, job in ipairs(jobs) do
      follows[i] = function()
        local by = follow(job)
        return { job = job, lines = log_lines(by), finished = #by.finished }
      end
    end
    local results = { ei.run(table.unpack(follows)) }
    assert.equal(20, #results)
    for _, r in ipairs(results) do
      assert.equal(1, r.finished)
      assert.same(downloaded(client, sim, r.job), r.lines)
    end
    assert.equal(1, #sim:records("ws-open"))
    client:close()
    sim:stop()
  end)

  it("asks one socket token and opens one websocket when jobs start following together", function()
    local sim = helper.studio { speed = 300, scenario = { slow = { { match = "getSocketToken", delayMs = 300 } } } }
    local client = sim:client()
    local jobs, follows = {}, {}
    for i = 1, 5 do jobs[i] = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 3 })) end
    for i, job in ipairs(jobs) do follows[i] = function() return #follow(job).finished end end
    assert.same({ 1, 1, 1, 1, 1 }, { ei.run(table.unpack(follows)) })
    assert.equal(1, #sim:requests("/socket%-token"))
    assert.equal(1, #sim:records("ws-open"))
    client:close()
    sim:stop()
  end)

  it("follows a job inside a cqueues controller", function()
    local cqueues = require "cqueues"
    local sim = helper.studio { speed = 300 }
    local client = sim:client()
    local cq = cqueues.new()
    local lines, other_ran
    cq:wrap(function()
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
      lines = log_lines(follow(job))
      assert.same(downloaded(client, sim, job), lines)
    end)
    cq:wrap(function() cqueues.sleep(0.01); other_ran = true end)
    assert(cq:loop(60))
    assert.is_true(#lines > 30)
    assert.is_true(other_ran)
    client:close()
    sim:stop()
  end)

  it("follows a job with the luv waiter", function()
    local uv = require "luv"
    local sim = helper.studio { speed = 300 }
    local client = sim:client { wait = ei.wait.luv }
    local lines, ticks = nil, 0
    local timer = uv.new_timer()
    timer:start(1, 1, function() ticks = ticks + 1 end)
    coroutine.wrap(function()
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
      lines = log_lines(follow(job))
      assert.same(downloaded(client, sim, job), lines)
      timer:stop()
      timer:close()
    end)()
    uv.run()
    assert.is_true(#lines > 30)
    assert.is_true(ticks > 0)
    client:close()
    uv.run() -- let libuv finish closing the poll handle of the client's descriptor
    sim:stop()
  end)

  it("follows a job from a hand-written scheduler on ei.wait.yield", function()
    local sim = helper.studio { speed = 300 }
    local client = sim:client { wait = ei.wait.yield }
    local co = coroutine.create(function()
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
      return log_lines(follow(job)), job
    end)
    local ok, p, job = coroutine.resume(co)
    local turns = 0
    while coroutine.status(co) ~= "dead" do
      assert(ok, p)
      turns = turns + 1
      core.poll(p:pollfd(), p:events(), p:timeout())
      ok, p, job = coroutine.resume(co)
    end
    assert(ok, p)
    assert.same(downloaded(client, sim, job), p)
    assert.is_true(turns > 1)
    client:close()
    sim:stop()
  end)

  it("unfollows a job whose coroutine was abandoned mid-iteration and collected", function()
    local sim = helper.studio { speed = 20 }
    local client = sim:client()
    local co = coroutine.create(function()
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
      for ev in job:updates() do coroutine.yield(ev) end
    end)
    for _ = 1, 3 do assert(coroutine.resume(co)) end
    assert.is_true(#sim:records("ws-open") >= 1)
    assert.equal(0, #sim:records("ws-close"))
    co = nil
    collectgarbage()
    collectgarbage()
    assert.is_true(helper.eventually(function()
      for _, r in ipairs(sim:records("ws-close")) do return true end
    end, 5))
    client:close()
    sim:stop()
  end)

  it("cancels a wait with ECANCELED when another coroutine closes the job", function()
    local sim = helper.studio { speed = 5 }
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    local waited, closer = ei.run(function() return { job:wait() } end, function()
      pause(0.2)
      job:close()
      return true
    end)
    assert.is_true(closer)
    assert.is_nil(waited[1])
    assert.equal("ECANCELED", waited[3])
    client:close()
    sim:stop()
  end)

  it("ends a wait with ECLOSED when another coroutine closes the client", function()
    local sim = helper.studio { speed = 5 }
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    local waited = ei.run(function() return { job:wait() } end, function()
      pause(0.2)
      client:close()
    end)
    assert.is_nil(waited[1])
    assert.equal("ECLOSED", waited[3])
    sim:stop()
  end)
end)
