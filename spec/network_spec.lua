-- A rough network between the client and Studio: connections cut in the middle of a
-- websocket frame or reset, several lines with one timestamp across a resubscription,
-- Retry-After as an HTTP date, and a stored log that differs from the streamed bytes
-- (CRLF line ends, a line the stream never carried, a different split). Each row follows
-- a job to its end through the fault and asserts that every line of the stream arrived
-- once, in order, and that the fault really happened.
local helper = require "helper"

local lines_of = helper.lines_of

local follow_through = helper.follow_faults

-- Whether the simulator cut a connection that way and the client connected again.
local function cut_and_reconnected(sim, how)
  local cuts = sim:records("ws-cut")
  return cuts[1] and cuts[1].how == how and #sim:records("ws-open") >= 2 or nil
end

-- The resubscriptions: start-log-stream messages carrying a timestamp.
local function resumed(sim)
  local n = 0
  for _, r in ipairs(sim:records("ws-message")) do
    if r.event == "start-log-stream" and (r.data.lastReceivedTimestamp or 0) > 0 then n = n + 1 end
  end
  return n
end

local function answered(sim, status)
  for _, r in ipairs(sim:requests(".")) do
    if r.status == status then return true end
  end
end

-- Whether the call after each 429/503 waited until the Retry-After date, 2 s ahead
-- rounded up to the second: at least a second.
-- Each answer with that status was followed by its own retry (the next call of the
-- same operation) no sooner than a second later.
local function waited_for_date(sim, status)
  local list = sim:requests(".")
  for i, r in ipairs(list) do
    if r.status == status then
      local retry
      for k = i + 1, #list do
        if list[k].operationId == r.operationId then retry = list[k]; break end
      end
      if not retry or retry.t - r.t < 1000 then return false end
    end
  end
  return answered(sim, status) or false
end

local function retry_after_date(status)
  return { at = 30, apply = function(sim)
    sim:control("fail-next", { count = 1, status = status, retryAfter = 2, retryAfterAs = "date" })
    sim:control("drop-sockets")
  end }
end

local ROWS = {
  {
    name = "a connection cut in the middle of a websocket frame",
    scenario = { dropSocket = { afterFrames = 40, how = "midFrame" } },
    happened = function(sim) return cut_and_reconnected(sim, "midFrame") end,
  },
  {
    name = "a connection reset (TCP RST)",
    scenario = { dropSocket = { afterFrames = 40, how = "reset" } },
    happened = function(sim) return cut_and_reconnected(sim, "reset") end,
  },
  {
    name = "lines sharing a timestamp across a resubscription that resumes after it",
    scenario = { sharedTimestamps = { frames = 3, resume = "after" }, dropSocket = { afterFrames = 40 } },
    happened = function(sim) return resumed(sim) >= 1 or nil end,
  },
  {
    name = "lines sharing a timestamp across a resubscription that resumes at it",
    scenario = { sharedTimestamps = { frames = 3, resume = "at" }, dropSocket = { afterFrames = 40 } },
    happened = function(sim) return resumed(sim) >= 1 or nil end,
  },
  {
    name = "429 with Retry-After as an HTTP date while reconnecting",
    midway = retry_after_date(429), speed = 5, bound = 40,
    happened = function(sim) return answered(sim, 429) end,
  },
  {
    name = "503 with Retry-After as an HTTP date while reconnecting",
    midway = retry_after_date(503), speed = 5, bound = 40,
    happened = function(sim) return answered(sim, 503) end,
  },
  {
    name = "a stored log with CRLF ends, an extra line and another split, back-filled after a skipped group",
    scenario = {
      storedLog = { crlf = true, extraLine = { text = "WARN: log collector restarted", after = 2 }, splitFrames = true },
      sharedTimestamps = { frames = 3, resume = "after" }, dropSocket = { afterFrames = 40 },
    },
    happened = function(sim) return resumed(sim) >= 1 or nil end,
  },
}

-- The log as the stream carried it (the stored log may differ under storedLog).
local function streamed_lines(sim, client, job)
  sim:control("scenario", { storedLog = false })
  return lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job.id })))
end

describe("following a job over a rough network", function()
  for _, row in ipairs(ROWS) do
    it("loses no line and repeats none: " .. row.name, function()
      if row.pending then return pending(row.pending) end
      local sim = helper.studio { scenario = row.scenario, speed = row.speed or 30 }
      finally(function() sim:stop() end)
      local client = sim:client { status_interval = 0.5, backoff = 0.01 }
      finally(function() client:close() end)
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 10 }))
      local seen = follow_through(job, sim, { midway = row.midway, bound = row.bound or 30 })
      assert.is_nil(seen.err, seen.err)
      assert.equal(1, #seen.finished)
      assert.is_true(seen.finished[1].success)
      assert.is_true(row.happened(sim, seen), "the fault did not happen")
      local streamed = streamed_lines(sim, client, job)
      assert.equal(#streamed, #seen.log)
      assert.same(streamed, seen.log)
    end)
  end

  for _, status in ipairs { 429, 503 } do
    it("waits until a Retry-After HTTP date on " .. status .. " before the next call", function()
      local sim = helper.studio { speed = 5 }
      finally(function() sim:stop() end)
      local client = sim:client { status_interval = 0.5, backoff = 0.01 }
      finally(function() client:close() end)
      local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 10 }))
      local seen = follow_through(job, sim, { midway = retry_after_date(status), bound = 40 })
      assert.is_nil(seen.err, seen.err)
      assert.is_true(waited_for_date(sim, status))
    end)
  end
end)
