--- A Studio job: its REST side (status, logs, cancel) and its live updates.
-- Jobs come from `client:train_keras`, `client:generate_features` and
-- `client:job`.
-- @classmod ei.Job
local core = require "ei.core"
local Stream = require "ei.stream"

local Job = {}
Job.__index = Job

-- How long a job may stay silent before its status is asked, and how long
-- REST may keep failing before following the job is given up.
local STATUS_INTERVAL, GIVE_UP_AFTER = 5, 300
-- Events taken from the socket per call into C, and the batch of a job that
-- has taken them all (batches are only read, so one empty table serves all).
local BATCH, NO_EVENTS = 64, {}

--- Wrap a job of a project.
-- @local
function Job.new(client, project_id, job_id)
  return setmetatable({
    client = client, project_id = project_id, id = job_id,
    pending = {}, head = 1, tail = 0, -- events made in Lua (connection, finished)
    -- Events drained from the socket, and how many of them were taken. `ready`
    -- is the batch while its next event may be returned without further checks:
    -- the job is open and no event made in Lua waits (see receive).
    batch = NO_EVENTS, taken = 0, ready = nil,
  }, Job)
end

local function check_open(self, fname)
  if self.closed then error(("attempt to call '%s' on a closed job"):format(fname), 3) end
end

--- The job's status as Studio reports it (`getJobStatus`).
-- @treturn table the `job` table: id, created, started, finished, finishedSuccessful, …
-- @return nil, message, code
function Job:status()
  check_open(self, "status")
  local res, err, code = self.client:call("getJobStatus", { projectId = self.project_id, jobId = self.id })
  if not res then return nil, err, code end
  if type(res.job) ~= "table" then return self.client:fail("getJobStatus: no job in the response", "EPROTO") end
  return res.job
end

--- The job's most recent log lines, oldest first (`getJobsLogs`).
-- @tparam[opt] integer limit how many lines at most
-- @treturn {string,...} the lines, without their newlines
-- @return nil, message, code
function Job:logs(limit)
  check_open(self, "logs")
  if limit ~= nil and math.type(limit) ~= "integer" then error("bad argument #1 to 'logs' (integer expected)", 2) end
  local res, err, code = self.client:call("getJobsLogs", { projectId = self.project_id, jobId = self.id, limit = limit })
  if not res then return nil, err, code end
  local lines, stdout = {}, res.stdout or {}
  for i = #stdout, 1, -1 do
    local data = stdout[i].data
    if type(data) == "string" then lines[#lines + 1] = (data:gsub("\r?\n$", "")) end
  end
  return lines
end

--- Ask Studio to cancel the job (`cancelJob`).
-- @tparam[opt] boolean force cancel even if the job does not answer
-- @treturn boolean true
-- @return nil, message, code
function Job:cancel(force)
  check_open(self, "cancel")
  local res, err, code = self.client:call("cancelJob", {
    projectId = self.project_id, jobId = self.id, forceCancel = force and "true" or nil,
  })
  if not res then return nil, err, code end
  self.cancel_requested = true
  return true
end

--- Queue an event made in Lua.
-- @local
function Job:push(ev)
  -- Not #pending: the queue's front is nil once taken, and # would then overwrite.
  self.tail = self.tail + 1
  self.pending[self.tail] = ev
  self.ready = nil -- it goes before the socket's events
end

local function pop_pending(self)
  local ev = self.pending[self.head]
  if ev == nil then return nil end
  self.pending[self.head] = nil
  self.head = self.head + 1
  return ev
end

local function start(self)
  if self.stream then return end
  self.stream = Stream.of(self.client, self.project_id)
  self.stream:follow(self)
  self.outages_at_start = self.stream.outages
  self.next_status = core.monotime() + (self.client.status_interval or STATUS_INTERVAL)
end

local function sock_of(self)
  return self.stream and self.stream.sock
end

-- The next batch of events the socket queued for this job, if any. The
-- socket's `ended` comes in a batch of its own: a hint, never delivered.
local function refill(self)
  local sock = sock_of(self)
  if not sock then return false end
  local batch = sock:drain(self.id, BATCH, true)
  local n = #batch
  if n == 0 then return false end
  self.heard = true -- cheaper than reading the clock for every event
  if batch[1].type == "ended" then
    self.ended_hint = true
    self.next_status = 0
    batch = NO_EVENTS
  end
  for i = #batch, 1, -1 do -- the last line, for wait()'s reason; the batch is delivered before `finished`
    local ev = batch[i]
    if ev.type == "log" then
      self.last_line = ev.line
      break
    end
  end
  self.batch, self.taken, self.ready = batch, 0, nil
  return true
end

-- The next event the socket queued for this job.
local function pop_socket(self)
  while true do
    local batch, i = self.batch, self.taken + 1
    local ev = batch[i]
    if ev then
      self.taken = i
      if not self.closed then self.ready = batch end -- nothing was pending: see take
      return ev
    end
    if not refill(self) then
      -- Taken: let the events go, a job may wait long for the next ones.
      self.batch, self.taken, self.ready = NO_EVENTS, 0, nil
      return nil
    end
  end
end

-- Events already queued (a back-fill among them) come before `finished`.
local function take(self)
  return pop_pending(self) or pop_socket(self)
end

local function has_work(self, now)
  if self.pending[self.head] ~= nil or self.batch[self.taken + 1] ~= nil then return true end
  local sock = sock_of(self)
  if sock and sock:queued(self.id) > 0 then return true end
  return now >= self.next_status or (self.stream and self.stream:due(now))
end

-- Lines Studio has that the socket never delivered (a finish while the
-- socket was down), fed through the same line and event parsing.
local function backfill(self)
  local sock = sock_of(self)
  if not sock or (self.ended_hint and self.stream.outages == self.outages_at_start) then return true end
  local text, err, code = self.client:call("downloadJobsLogs", { projectId = self.project_id, jobId = self.id })
  if not text then return nil, err, code end
  if type(text) == "string" then
    local _, received = sock:position(self.id)
    if #text > received then sock:feed(self.id, text:sub(received + 1)) end
  end
  return true
end

local function finish(self, st)
  local ok, err, code = backfill(self)
  if not ok then return nil, err, code end
  local sock = sock_of(self)
  if sock then sock:flush(self.id) end
  self.finished = { type = "finished", job = self.id, success = st.finishedSuccessful == true }
  return true
end

-- Ask Studio whether the job is done; the socket is not the source of truth.
local function check_status(self, now)
  local interval = self.client.status_interval or STATUS_INTERVAL
  self.next_status = now + (self.ended_hint and math.min(interval, 0.5) or interval)
  if self.stream and not self.stream:is_open() and not self.polling_said then
    self.polling_said = true
    self:push { type = "connection", job = self.id, state = "polling" }
  end
  local st, err, code = self:status()
  if not st then
    self.rest_failing_since = self.rest_failing_since or now
    if now - self.rest_failing_since > (self.client.give_up_after or GIVE_UP_AFTER) then return nil, err, code end
    return true
  end
  self.rest_failing_since = nil
  if self.stream then self.stream:server_answered(now) end
  if self.stream and self.stream:is_open() then self.polling_said = nil end
  if st.finished then return finish(self, st) end
  return true
end

--- The next event of the job.
-- Waits (through the client's waiter) until one arrives. Events are tables
-- with `type` (`log`, `progress`, `metrics`, `connection`, `finished`) and
-- `job`; `finished` comes last, once, confirmed by the REST status.
-- @tparam[opt] number timeout seconds to wait at most
-- @treturn table the event, or nil once the job finished
-- @return nil, message, code (`ETIMEDOUT` when the timeout passed)
function Job:receive(timeout)
  if self.closed then check_open(self, "receive") end
  if timeout ~= nil and type(timeout) ~= "number" then error("bad argument #1 to 'receive' (number expected)", 2) end
  if self.done then return nil end
  -- Most calls: the next event was drained before and nothing goes ahead of it.
  local ready, i = self.ready, self.taken + 1
  local ev = ready and ready[i]
  if ev then self.taken = i; return ev end
  start(self)
  local deadline = timeout and core.monotime() + timeout
  while true do
    local ev = take(self)
    if ev then return ev end
    if self.finished then
      self.done = true
      if self.stream then self.stream:unfollow(self) end
      return self.finished
    end
    if self.closed then return nil, ("job %d was closed while waiting for it"):format(self.id), "ECANCELED" end
    if not self.client.core then return nil, "the client was closed", "ECLOSED" end
    local now = core.monotime()
    self.stream:pump()
    if now >= self.next_status and self.heard and not self.ended_hint and self.stream:is_open() then
      -- The job spoke since the last check: ask its status only after a silence.
      self.heard = false
      self.next_status = now + (self.client.status_interval or STATUS_INTERVAL)
    elseif now >= self.next_status then
      local ok, err, code = check_status(self, now)
      if not ok then return nil, err, code end
    elseif deadline and now >= deadline then
      return nil, ("no event from job %d within %gs"):format(self.id, timeout), "ETIMEDOUT"
    else
      local wake = math.min(self.next_status, deadline or math.huge, self.stream:deadline() or math.huge)
      self.client:wait_until(function() return self.closed or has_work(self, core.monotime()) end, wake)
    end
  end
end

-- The iterator of updates(), with the job as its state: receive()'s common
-- case without a call, the rest through receive().
local function iterate(self)
  local ready, i = self.ready, self.taken + 1
  local ev = ready and ready[i]
  if ev then self.taken = i; return ev end
  local err
  ev, err = Job.receive(self)
  if ev then return ev end
  if err then error(err, 2) end
  return nil
end

--- Iterate over the job's events until it finishes.
-- Works in a plain script (it blocks) and in coroutines (it yields through
-- the waiter). Breaking out of the loop closes the job. Raises on errors.
-- @treturn function iterator
-- @usage for ev in job:updates() do if ev.type == "log" then print(ev.line) end end
function Job:updates()
  check_open(self, "updates")
  return iterate, self, nil, self
end

--- Follow the job to its end.
-- @tparam[opt] number timeout seconds
-- @treturn boolean true when the job succeeded
-- @return false, reason when the job ran and failed
-- @return nil, message, code when it could not be followed
function Job:wait(timeout)
  if not self.done then check_open(self, "wait") end
  if timeout ~= nil and type(timeout) ~= "number" then error("bad argument #1 to 'wait' (number expected)", 2) end
  local deadline = timeout and core.monotime() + timeout
  while not self.done do
    local ev, err, code = self:receive(deadline and math.max(0, deadline - core.monotime()))
    if not ev then
      if err then return nil, err, code end
      break
    end
    if ev.type == "finished" and ev.success then return true end
    if ev.type == "finished" then break end
  end
  if self.finished and self.finished.success then return true end
  local reason = self.cancel_requested and "canceled" or self.last_line or "the job failed"
  return false, reason
end

--- The job's descriptor for pollers: the client's descriptor.
-- @treturn integer
function Job:pollfd()
  check_open(self, "pollfd")
  if not self.client.core then error("attempt to use a job of a closed client", 2) end
  return self.client.core:pollfd()
end

--- The events to poll for.
-- @treturn string "r"
function Job:events()
  check_open(self, "events")
  return "r"
end

--- Seconds until the job wants a `step` without I/O, or nil; 0 when an event
-- is ready.
-- @treturn number|nil
function Job:timeout()
  check_open(self, "timeout")
  start(self)
  local now = core.monotime()
  if has_work(self, now) then return 0 end
  local t = self.client.core:timeout()
  local wake = math.min(self.next_status, self.stream:deadline() or math.huge) - now
  if not t or wake < t then t = math.max(0, wake) end
  return t
end

--- Do the job's ready work without waiting, for hosts that run their own
-- poll loop: call it when `pollfd()` is readable or `timeout()` passed, then
-- take events with `receive(0)`.
-- @treturn boolean true
function Job:step()
  check_open(self, "step")
  start(self)
  self.client:step()
  self.stream:pump()
  return true
end

--- Stop following the job and release what it holds. Idempotent.
function Job:close()
  if self.closed then return end
  self.closed = true
  if self.stream then
    self.batch, self.taken, self.ready = NO_EVENTS, 0, nil
    self.stream:unfollow(self)
  end
end
Job.__close = Job.close
Job.__gc = Job.close

function Job:__tostring()
  return ("ei.Job %d (project %d%s)"):format(self.id, self.project_id, self.closed and ", closed" or "")
end

return Job
