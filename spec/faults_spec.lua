-- The fault matrix: a job followed to its end through every kind of trouble the
-- simulator can make. Each row asserts the end state, that no log line was lost
-- or repeated (against the log Studio stores), that the fault really happened,
-- and that following finished within a bound.
local helper = require "helper"
local core = require "ei.core"

local lines_of = helper.lines_of

local follow = helper.follow_faults

local function statuses(sim, operation)
  local list = {}
  for _, r in ipairs(sim:requests(".")) do
    if not operation or r.operationId == operation then list[#list + 1] = r end
  end
  return list
end

local function count_status(sim, status)
  local n = 0
  for _, r in ipairs(statuses(sim)) do if r.status == status then n = n + 1 end end
  return n
end

local function has(list, value)
  for _, v in ipairs(list) do if v == value then return true end end
  return false
end

-- Peak resident memory of a child process that follows one job (kB).
local function child_peak_kb(sim, params, out)
  local script = os.tmpname()
  helper.write_file(script, ([[
    local ei = require "ei"
    local client = assert(ei.new { host = %q, api_key = %q, status_interval = 0.5, backoff = 0.01 })
    local job = assert(client:train_keras(%d, %d, %s))
    local ok, err, code = job:wait(120)
    local status = io.open("/proc/self/status"):read("a")
    io.write(tostring(ok), "\t", tostring(code), "\t", tostring(err), "\t", status:match("VmHWM:%%s*(%%d+)"), "\n")
    assert(client:impulse(%d), "the client no longer works")
    io.write("still works\n")
  ]]):format(sim.url, sim.api_key, sim.project_id, sim.learn_id, params, sim.project_id))
  local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s %s > %s 2>&1"):format(helper.quote(helper.lua_path),
    helper.quote(helper.lua_cpath), helper.quote(helper.lua), helper.quote(script), helper.quote(out))
  os.execute(cmd)
  os.remove(script)
  return helper.read_file(out)
end

local MB = 1024 * 1024

local ROWS = {
  {
    name = "the socket dropped once mid-epoch",
    scenario = { dropSocket = { afterFrames = 40 } },
    bound = 30, states = { "lost", "reconnected" },
  },
  {
    name = "the socket dropped every 25 frames",
    scenario = { dropSocket = { afterFrames = 25, every = true } },
    bound = 60, states = { "lost", "reconnected" },
    happened = function(sim) return #sim:records("ws-open") >= 3 or nil end,
  },
  {
    name = "the server unreachable for 30 s and back while the job runs on",
    scenario = { unreachable = { forSeconds = 30, afterFrames = 20 } },
    params = { trainingCycles = 20 }, speed = 1.5,
    bound = 60, states = { "lost", "polling", "reconnected" },
    happened = function(_, seen, elapsed) return elapsed >= 30 and #seen.log > 0 or nil end,
  },
  {
    name = "the job finishing while the server is unreachable",
    -- at speed 8 the job ends about 1.9 s into the 4 s outage: a margin either side
    -- for a client slow to connect (the outage waits for 20 frames to reach it)
    scenario = { unreachable = { forSeconds = 4, afterFrames = 20 } },
    params = { trainingCycles = 3 }, speed = 8,
    bound = 30, states = { "lost", "polling" },
    happened = function(sim)
      local down, up
      for _, r in ipairs(sim:records("outage")) do
        if r.down then down = down or r.t else up = up or r.t end
      end
      local finished = sim:records("job-finished")[1]
      return down and up and finished and down <= finished.t and finished.t <= up or nil
    end,
  },
  {
    name = "a token expired at reconnect",
    scenario = { dropSocket = { afterFrames = 40 }, socketTokenTtl = 1 },
    bound = 30, states = { "lost", "reconnected" },
    happened = function(sim) return #statuses(sim, "getSocketToken") >= 2 or nil end,
  },
  {
    name = "a burst of 503 answers while reconnecting",
    midway = { at = 30, apply = function(sim)
      sim:control("fail-next", { count = 5, status = 503 })
      sim:control("drop-sockets")
    end },
    bound = 30, states = { "lost", "reconnected" },
    happened = function(sim) return count_status(sim, 503) == 5 or nil end,
  },
  {
    name = "429 with Retry-After while reconnecting",
    midway = { at = 30, apply = function(sim)
      sim:control("fail-next", { count = 2, status = 429, retryAfter = 1 })
      sim:control("drop-sockets")
    end },
    speed = 5, bound = 30, states = { "lost", "reconnected" },
    happened = function(sim)
      local list = statuses(sim)
      for i, r in ipairs(list) do
        -- the retry of a 429 (the next call of the same operation) waited for the Retry-After second
        if r.status == 429 then
          local retry
          for k = i + 1, #list do
            if list[k].operationId == r.operationId then retry = list[k]; break end
          end
          if not retry or retry.t - r.t < 900 then return nil end
        end
      end
      return count_status(sim, 429) == 2 or nil
    end,
  },
  {
    name = "slow answers to status and token calls",
    scenario = { slow = { { match = "getJobStatus|getSocketToken", delayMs = 400 } }, dropSocket = { afterFrames = 40 } },
    client = { status_interval = 0.2 }, speed = 10,
    bound = 40, states = { "lost", "reconnected" },
    happened = function(sim)
      local delayed = {}
      for _, r in ipairs(sim:records("http")) do
        if r.delayedMs == 400 then delayed[r.operationId] = (delayed[r.operationId] or 0) + 1 end
      end
      return (delayed.getJobStatus or 0) >= 1 and (delayed.getSocketToken or 0) >= 2 or nil
    end,
  },
  {
    name = "a stalled token call (the timeout fires and the call is retried)",
    scenario = { stall = { { match = "getSocketToken", count = 1 } }, dropSocket = { afterFrames = 40 } },
    client = { timeout = 1 }, speed = 10,
    bound = 30, states = { "connected" },
    happened = function(sim)
      local tokens = statuses(sim, "getSocketToken")
      return #tokens >= 2 and tokens[1].stalled == true and tokens[1].status == helper.json.null or nil
    end,
  },
  {
    name = "truncated and malformed frames among unknown events",
    scenario = { junkFrames = { every = 2 }, unknownEvents = { every = 3 } },
    bound = 30, states = { "connected" },
    happened = function(sim)
      local stats = sim:stats()
      return stats.junkFrames > 0 and stats.unknownEvents > 0 or nil
    end,
  },
  {
    name = "a 17 MB line, over the 16 MB message limit, taken from the stored log",
    scenario = { hugeLine = { bytes = 17 * MB, atEpoch = 2 } }, params = { trainingCycles = 3 },
    bound = 60, states = { "lost" },
    happened = function(_, seen)
      for _, line in ipairs(seen.log) do if #line == 17 * MB then return true end end
    end,
  },
}

describe("following a job through faults", function()
  for _, row in ipairs(ROWS) do
    it("loses no line and repeats none: " .. row.name, function()
      local sim = helper.studio { scenario = row.scenario, speed = row.speed or 30 }
      local opts = { status_interval = 0.5, backoff = 0.01 }
      for k, v in pairs(row.client or {}) do opts[k] = v end
      local client = sim:client(opts)
      local started = core.monotime()
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, row.params or { trainingCycles = 10 }))
      local seen = follow(job, sim, row)
      local elapsed = core.monotime() - started

      assert.is_nil(seen.err, seen.err)
      assert.is_true(elapsed < row.bound, ("took %.1f s"):format(elapsed))
      assert.equal(1, #seen.finished)
      assert.is_true(seen.finished[1].success)
      local stored = lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job.id })))
      assert.equal(#stored, #seen.log)
      assert.same(stored, seen.log)
      for _, state in ipairs(row.states) do
        assert.is_true(has(seen.states, state), ("no '%s' event in %s"):format(state, table.concat(seen.states, ",")))
      end
      if row.happened then assert.is_true(row.happened(sim, seen, elapsed), "the fault did not happen") end
      client:close()
      sim:stop()
    end)
  end

  it("ends following with EPROTO naming the limit when the log outgrows the 64 MB body limit, in bounded memory", function()
    local sim = helper.studio { scenario = { hugeLine = { bytes = 100 * MB, atEpoch = 2 } }, speed = 300 }
    local out = os.tmpname()
    local text = child_peak_kb(sim, "{ trainingCycles = 3 }", out)
    os.remove(out)
    sim:stop()
    local ok, code, err, peak = text:match("^(%S+)\t(%S+)\t([^\t]*)\t(%d+)\n")
    assert.equal("nil", ok, text)
    assert.equal("EPROTO", code)
    assert.truthy(err:find("larger than 67108864 bytes", 1, true), err)
    assert.truthy(text:find("still works", 1, true), text)
    if helper.lua ~= "lua5.4" then
      pending("on another interpreter (tools/sanitize's ASan host) peak RSS counts the freed memory "
        .. "ASan holds back; the plain run checks the bound")
      return
    end
    -- a 100 MB line never held whole: the body stops at its limit
    assert.is_true(tonumber(peak) < 100 * 1024, ("peak RSS %d kB"):format(tonumber(peak)))
  end)
end)
