-- A C host embedding Lua follows a job from its own poll loop (examples/embed).
local helper = require "helper"
local core = require "ei.core"

local ROOT = helper.root
-- The build whose host and module run: build/, or another plain build that
-- EI_EMBED_BUILD names (tools/portable). Never the sanitized one: its module
-- needs the sanitizer runtime in the executable.
local BUILD = os.getenv("EI_EMBED_BUILD") or "build"
local HOST = ROOT .. "/" .. BUILD .. "/examples/embed/ei-embed-host"

local quote = helper.quote

local lines_of = helper.lines_of

-- Build the host (configuring the build tree if needed); fail clearly without it.
local function build_host()
  local log = os.tmpname()
  local cmd = ("cd %s && { [ -f %s/CMakeCache.txt ] || cmake -S . -B %s; } && cmake --build %s --target ei_embed_host")
    :format(quote(ROOT), BUILD, BUILD, BUILD)
  local ok = os.execute(("(%s) > %s 2>&1"):format(cmd, quote(log)))
  local output = helper.read_file(log) or ""
  os.remove(log)
  local f = io.open(HOST, "r")
  if f then f:close() end
  if not ok or not f then
    error(("the embedding host %s is missing: `cmake --build %s --target ei_embed_host` did not build it:\n%s")
      :format(HOST, BUILD, output), 0)
  end
end

-- Run the host against the simulator; returns its exit code, stdout lines and stderr.
-- args: extra arguments before --root, e.g. "--threads 2".
local function run_host(sim, env, args)
  env = env or {}
  local err = os.tmpname()
  local vars = {
    EI_HOST = env.EI_HOST or sim.url, EI_API_KEY = env.EI_API_KEY or sim.api_key,
    EI_PROJECT_ID = sim.project_id, EI_LEARN_ID = sim.learn_id,
  }
  local parts = { "env" }
  for k, v in pairs(vars) do parts[#parts + 1] = k .. "=" .. quote(v) end
  parts[#parts + 1] = quote(HOST)
  if args then parts[#parts + 1] = args end
  -- This host is a plain build's: its module too, whatever EI_SPEC_BUILD says.
  parts[#parts + 1] = "--root " .. quote(ROOT) .. " --build " .. quote(ROOT .. "/" .. BUILD)
  parts[#parts + 1] = "2> " .. quote(err)
  local p = assert(io.popen(table.concat(parts, " "), "r"))
  local out = p:read("a")
  local _, how, code = p:close()
  local stderr = helper.read_file(err) or ""
  os.remove(err)
  helper.audit("ei-embed-host", out .. stderr)
  assert.equal("exit", how, "the host was killed by a signal; stderr:\n" .. stderr)
  return code, lines_of(out), stderr
end

-- Split the host's output into job id, log lines, the canceled job, the
-- finished value and anything else.
local function parse(lines)
  local r = { logs = {}, other = {} }
  for i, line in ipairs(lines) do
    local id = line:match("^job: (%d+)$")
    local text = line:match("^log: (.*)$")
    local canceled = line:match("^canceled: (%d+)$")
    local finished = line:match("^finished: (%a+)$")
    if id and i == 1 then r.job = math.tointeger(tonumber(id))
    elseif text then r.logs[#r.logs + 1] = text
    elseif canceled and not r.canceled then r.canceled = math.tointeger(tonumber(canceled))
    elseif finished and i == #lines then r.finished = finished
    else r.other[#r.other + 1] = line end
  end
  return r
end

-- Split --threads output by its "[K] " tags into one list of lines per thread.
local function by_thread(lines)
  local threads, untagged = {}, {}
  for _, line in ipairs(lines) do
    local k, rest = line:match("^%[(%d+)%] (.*)$")
    k = tonumber(k)
    if k then
      threads[k] = threads[k] or {}
      table.insert(threads[k], rest)
    else
      untagged[#untagged + 1] = line
    end
  end
  return threads, untagged
end

local function turns_of(stderr)
  return tonumber(stderr:match("poll turns: (%d+)")) or 0
end

-- The job's log as Studio stores it, line by line.
local function stored_lines(client, sim, job)
  return lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job })))
end

-- The host's tick report: ticks, longest gap and longest step (ms).
local function ticks_of(stderr)
  local ticks, gap, step = stderr:match("ticks: (%d+), longest tick gap: ([%d.]+) ms, longest step: ([%d.]+) ms")
  return tonumber(ticks), tonumber(gap), tonumber(step)
end

-- The second job was canceled through the API, and Studio says so.
local function assert_canceled(sim, client, r)
  assert.is_number(r.canceled)
  assert.not_equal(r.job, r.canceled)
  local cancels = 0
  for _ in ipairs(sim:requests("/jobs/" .. r.canceled .. "/cancel", "POST")) do cancels = cancels + 1 end
  assert.equal(1, cancels)
  local status = assert(client:call("getJobStatus", { projectId = sim.project_id, jobId = r.canceled }))
  assert.is_false(status.job.finishedSuccessful)
end

describe("embedding host", function()
  setup(build_host)

  it("starts, follows and cancels from its own poll loop, prints the whole log and keeps its 100 Hz tick", function()
    local sim = helper.studio { speed = 300, record = true }
    local code, lines, stderr = run_host(sim)
    assert.equal(0, code, stderr)
    local r = parse(lines)
    assert.is_number(r.job)
    assert.same({}, r.other)
    assert.equal("true", r.finished)
    local client = sim:client()
    local text = assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = r.job }))
    assert.is_true(#r.logs > 30)
    assert.same(lines_of(text), r.logs)
    assert_canceled(sim, client, r)
    assert.is_true(turns_of(stderr) > 1, stderr)
    local ticks, gap = ticks_of(stderr)
    assert.is_true(ticks > 10, stderr)
    assert.is_true(gap < 250, stderr)
    client:close()
    sim:stop()
  end)

  it("keeps its tick while Studio answers tokens and status 1.5 s late and the socket drops every 30 frames", function()
    local sim = helper.studio { speed = 20, record = true, scenario = {
      slow = { { match = "getSocketToken|getJobStatus", delayMs = 1500 } },
      dropSocket = { afterFrames = 30, every = true },
    } }
    local code, lines, stderr = run_host(sim)
    assert.equal(0, code, stderr)
    local r = parse(lines)
    assert.equal("true", r.finished)
    local client = sim:client()
    assert.same(stored_lines(client, sim, r.job), r.logs)
    assert_canceled(sim, client, r)
    -- the faults happened: several connections, late answers
    assert.is_true(#sim:records("ws-open") >= 3, "the socket was not dropped")
    local ticks, gap, step = ticks_of(stderr)
    io.stderr:write(("embed host under slow REST and drops: %d ticks, longest gap %.1f ms, longest step %.1f ms\n")
      :format(ticks, gap, step))
    -- A call that waited for a late answer would leave a gap of 1.5 s.
    assert.is_true(gap < 250, stderr)
    client:close()
    sim:stop()
  end)

  it("runs two lua_States on two threads, each following its own job to the end with every log line once", function()
    local sim = helper.studio { speed = 100 }
    local client = sim:client()
    local started = core.monotime()
    local code, lines, stderr = run_host(sim, nil, "--threads 2")
    local elapsed = core.monotime() - started
    assert.equal(0, code, stderr)
    assert.is_true(elapsed < 30, ("took %.1fs"):format(elapsed))
    local threads, untagged = by_thread(lines)
    assert.same({}, untagged)
    assert.equal(2, #threads)
    local jobs = {}
    for k = 1, 2 do
      local result = table.remove(threads[k])
      assert.equal("result: succeeded", result)
      local r = parse(threads[k])
      assert.is_number(r.job)
      assert.same({}, r.other)
      assert.equal("true", r.finished)
      local text = assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = r.job }))
      assert.is_true(#r.logs > 30)
      assert.same(lines_of(text), r.logs)
      assert.matches("%[" .. k .. "%] poll turns: %d+", stderr)
      local status = assert(client:call("getJobStatus", { projectId = sim.project_id, jobId = r.job }))
      jobs[k] = status.job
    end
    assert.not_equal(jobs[1].id, jobs[2].id)
    -- Both jobs were running at once: each was created before the other finished.
    assert.is_true(jobs[1].created < jobs[2].finished and jobs[2].created < jobs[1].finished)
    client:close()
    sim:stop()
  end)

  it("with two threads, exits 1 when one job fails while the other thread's job still succeeds", function()
    -- The first job the simulator creates fails; either thread may have started it (each
    -- starts its second job, the one it cancels, after its first).
    local sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 2, nth = 1 } } }
    local code, lines, stderr = run_host(sim, nil, "--threads 2")
    assert.equal(1, code, stderr)
    local threads = by_thread(lines)
    local seen = {}
    for k = 1, 2 do
      local result = table.remove(threads[k])
      local r = parse(threads[k])
      seen[#seen + 1] = { job = r.job, finished = r.finished, result = result }
    end
    table.sort(seen, function(a, b) return a.job < b.job end)
    assert.same({ finished = "false", result = "result: failed" }, { finished = seen[1].finished, result = seen[1].result })
    assert.same({ finished = "true", result = "result: succeeded" }, { finished = seen[2].finished, result = seen[2].result })
    sim:stop()
  end)

  it("exits 1 and prints finished: false when the job fails", function()
    local sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 2 } } }
    local code, lines, stderr = run_host(sim)
    assert.equal(1, code, stderr)
    local r = parse(lines)
    assert.equal("false", r.finished)
    local client = sim:client()
    assert.same(stored_lines(client, sim, r.job), r.logs)
    client:close()
    sim:stop()
  end)

  it("exits 3 and says why when the API key is refused", function()
    local sim = helper.studio { speed = 300 }
    local code, lines, stderr = run_host(sim, { EI_API_KEY = "ei_wrong" })
    assert.equal(3, code)
    assert.same({}, lines)
    assert.matches("ei%-embed%-host: ", stderr)
    assert.not_matches("ei_wrong", stderr)
    sim:stop()
  end)

  it("refuses --threads outside 1 to 64 with its usage and exit status 3", function()
    for _, n in ipairs { "0", "65", "two", "" } do
      local err = os.tmpname()
      local ok, how, code = os.execute(("%s --threads %s > /dev/null 2> %s"):format(quote(HOST), quote(n), quote(err)))
      local stderr = helper.read_file(err) or ""
      os.remove(err)
      assert.same({ false, "exit", 3 }, { ok or false, how, code }, n)
      assert.matches("usage: ei%-embed%-host %[%-%-threads N%]", stderr)
    end
  end)
end)
