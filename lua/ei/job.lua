--- A Studio job: its REST side (status, logs, cancel) and its live updates.
-- Jobs come from `client:train_keras`, `client:generate_features` and
-- `client:job`.
-- @classmod ei.Job
local core = require "ei.core"
local Stream = require "ei.stream"

local Job = {}
Job.__index = Job

-- A job shows a script its `id`, `project_id` and methods; what it keeps to
-- follow the job (its client's context, its stream, its queues) is its state,
-- kept here. The stream holds states, not jobs, and calls their push and fail.
local State = {}
State.__index = State
local state_of = setmetatable({}, { __mode = "k" }) -- job -> its state

-- How long a job may stay silent before its status is asked, and how long
-- REST may keep failing transiently before following the job is given up.
local STATUS_INTERVAL, GIVE_UP_AFTER = 5, 300
-- Events taken from the socket per call into C, and the batch of a job that
-- has taken them all (batches are only read, so one empty table serves all).
local BATCH, NO_EVENTS = 64, {}

local has_work -- whether a call would find something to do now (below)

--- Wrap a job of a project. A job started elsewhere has its status asked at
-- once, so that a job id that does not exist is told at the first answer.
-- @tparam table ctx the client's context (ei.client)
-- @tparam integer project_id
-- @tparam integer job_id
-- @tparam[opt] boolean started_here the job was started by this client
-- @local
function Job.new(ctx, project_id, job_id, started_here)
  local client = ctx.client
  local state = setmetatable({
    check_first = not started_here,
    ctx = ctx, client = client, project_id = project_id, id = job_id,
    status_interval = ctx.status_interval or STATUS_INTERVAL,
    pending = {}, head = 1, tail = 0, -- events made in Lua (connection, finished)
    refetch_at = 0, -- the stored log is fetched again no sooner
    -- Events drained from the socket, and how many of them were taken. `ready`
    -- is the batch while its next event may be returned without further checks:
    -- the job is open and no event made in Lua waits (see receive).
    batch = NO_EVENTS, taken = 0, ready = false,
    inbox = {}, -- the batch the steady wait fills, again and again (see await)
    -- false rather than nil: a field the state lacks is looked up in State
    -- too, and these are read on every wait.
    closed = false, done = false, fatal = false, final_status = false, finished = false,
    stored_log = false, backfill = false,
  }, State)
  -- What receive waits for, made once rather than on every wait.
  state.wake_check = function()
    if state.closed then return true end
    local sock = state.stream.sock -- receive started the job before it waits
    if sock and sock:queued(job_id) > 0 then return true end -- most wake-ups: events came
    return ctx.tasks_done ~= state.tasks_seen or has_work(state, core.monotime())
  end
  local job = setmetatable({ id = job_id, project_id = project_id }, Job)
  state_of[job] = state
  return job
end

local function check_open(self, fname)
  if self.closed then error(("attempt to call '%s' on a closed job"):format(fname), 3) end
end

--- The job's status as Studio reports it (`getJobStatus`).
-- @treturn table the `job` table: id, created, started, finished, finishedSuccessful, …
-- @return nil, message, code
function Job:status()
  local s = state_of[self]
  check_open(s, "status")
  local res, err, code = s.client:call("getJobStatus", { projectId = s.project_id, jobId = s.id })
  if not res then return nil, err, code end
  if type(res.job) ~= "table" then return s.ctx:fail("getJobStatus: no job in the response", "EPROTO") end
  return res.job
end

--- The job's most recent log lines, oldest first (`getJobsLogs`).
-- @tparam[opt] integer limit how many lines at most
-- @treturn {string,...} the lines, without their newlines
-- @return nil, message, code
function Job:logs(limit)
  local s = state_of[self]
  check_open(s, "logs")
  if limit ~= nil and math.type(limit) ~= "integer" then error("bad argument #1 to 'logs' (integer expected)", 2) end
  local res, err, code = s.client:call("getJobsLogs", { projectId = s.project_id, jobId = s.id, limit = limit })
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
  local s = state_of[self]
  check_open(s, "cancel")
  local res, err, code = s.client:call("cancelJob", {
    projectId = s.project_id, jobId = s.id, forceCancel = force and "true" or nil,
  })
  if not res then return nil, err, code end
  s.cancel_requested = true
  return true
end

--- Queue an event made in Lua.
-- @local
function State:push(ev)
  -- Not #pending: the queue's front is nil once taken, and # would then overwrite.
  self.tail = self.tail + 1
  self.pending[self.tail] = ev
  self.ready = false -- it goes before the socket's events
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
  self.stream = Stream.of(self.ctx, self.project_id)
  self.stream:follow(self)
  self.outages_at_start = self.stream.outages
  self.next_status = self.check_first and 0 or core.monotime() + self.status_interval
end

-- The job's socket once started (nil once its stream closed).
local function sock_of(self)
  return self.stream.sock
end

local function busy(task)
  return task ~= nil and not task.dead
end

--- End following with a permanent failure (the job or project does not
-- exist, the credentials are no longer accepted).
-- @local
function State:fail(err, code)
  if self.fatal or self.done then return end
  self.fatal = { msg = ("job %d: %s"):format(self.id, err), code = code }
end

-- Take n events the socket drained for this job into batch[1..n]. The
-- socket's `ended` comes in a batch of its own: a hint, never delivered.
-- Returns the batch to deliver (NO_EVENTS for `ended`).
local function accept(self, batch, n)
  self.heard = true -- cheaper than reading the clock for every event
  if batch[1].type == "ended" then
    self.ended_hint = true
    self.next_status = 0
    return NO_EVENTS
  end
  for i = n, 1, -1 do -- the last line, for wait()'s reason and back-fills; the batch is delivered before `finished`
    local ev = batch[i]
    if ev.type == "log" then
      self.last_line = ev.line
      break
    end
  end
  return batch
end

-- The next batch of events the socket queued for this job, if any. The
-- socket's `ended` comes in a batch of its own: a hint, never delivered.
local function refill(self)
  local sock = sock_of(self)
  if not sock then return false end
  local batch = sock:drain(self.id, BATCH, true)
  local n = #batch
  if n == 0 then return false end
  self.batch, self.taken, self.ready = accept(self, batch, n), 0, false
  return true
end

-- The next event the socket queued for this job; nil when its queue is empty.
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
      self.batch, self.taken, self.ready = NO_EVENTS, 0, false
      return nil
    end
  end
end

--[[ Back-fill: lines the socket did not deliver, from the stored log. Two
cases: the job finished while the socket was down or before it said so (to
the end of the log), and a job that overflowed while nobody read it (up to
the last line it lost; then it keeps lines again). The log is fetched by a
task; once the job's queue is empty it is aligned with the lines delivered
(sock:align) and fed back a chunk at a time, as the reader takes the lines. ]]
local CHUNK, REFETCH_AFTER = 256 * 1024, 1

local function finish(self)
  self.finished = { type = "finished", job = self.id, success = self.final_status.finishedSuccessful == true }
end

local function fetch_log(self, to_end)
  self.log_task = self.ctx:spawn(function()
    return self.client:call("downloadJobsLogs", { projectId = self.project_id, jobId = self.id })
  end, function(text, err, code, status)
    if self.closed or self.done then return end
    if text == nil then
      -- EPROTO here is a log over the body limit: fetching again would not help.
      if code == "EPROTO" or self.ctx.is_permanent(code, status) then return self:fail(err, code) end
      self.refetch_at = core.monotime() + REFETCH_AFTER
      return
    end
    self.stored_log, self.to_end = type(text) == "string" and text or "", to_end
  end, true)
end

-- The job's queue is empty: place the stored log after what was delivered.
local function align(self, sock)
  local text = self.stored_log
  local from, to, complete = sock:align(self.id, text, self.last_line, self.to_end)
  self.backfill = { text = text, pos = from, stop = to, complete = complete, to_end = self.to_end }
  self.stored_log = false
end

local function backfill_done(self, sock, bf)
  self.backfill = false
  if bf.to_end then return finish(self) end
  if not (bf.complete and sock:recover(self.id)) then
    self.refetch_at = core.monotime() + (bf.complete and 0 or REFETCH_AFTER)
  end
end

-- Feed the next chunk of the back-fill, cut after a line end.
local function feed_chunk(self, sock)
  local bf = self.backfill
  if bf.pos > bf.stop then return backfill_done(self, sock, bf) end
  local last = bf.stop
  if last - bf.pos >= CHUNK then last = math.min(bf.text:find("\n", bf.pos + CHUNK - 1, true) or last, last) end
  local chunk = bf.text:sub(bf.pos, last)
  bf.pos = last + 1
  -- A finished job's log may end without a newline: its last line is whole.
  if bf.to_end and bf.pos > bf.stop and chunk:sub(-1) ~= "\n" then chunk = chunk .. "\n" end
  sock:feed(self.id, chunk)
end

-- Events queued in Lua go first, then the socket's, then a back-fill's.
local function take(self)
  local ev = pop_pending(self) or pop_socket(self)
  if ev or not (self.stored_log or self.backfill) then return ev end
  local sock = sock_of(self)
  if self.stored_log then align(self, sock) end
  feed_chunk(self, sock)
  return pop_socket(self)
end

-- Whether the finished job needs its stored log: the socket may have missed
-- lines (an outage, no job-finished seen, lines let go while nobody read).
local function needs_log(self, sock)
  return sock:lag(self.id) ~= nil or not (self.ended_hint and self.stream.outages == self.outages_at_start)
end

-- Ask Studio whether the job is done; the socket is not the source of truth.
local function check_status(self, now)
  local interval = self.status_interval
  self.next_status = now + (self.ended_hint and math.min(interval, 0.5) or interval)
  -- "polling" once the socket is down, not while it is still being opened the first time
  local stream = self.stream
  if not stream:is_open() and (stream.ever_open or stream.state == "waiting") and not self.polling_said then
    self.polling_said = true
    self:push { type = "connection", job = self.id, state = "polling" }
  end
  self.status_task = self.ctx:spawn(function()
    return self.client:call("getJobStatus", { projectId = self.project_id, jobId = self.id })
  end, function(res, err, code, status)
    if self.closed or self.done then return end
    local t = core.monotime()
    if res and type(res.job) ~= "table" then res, err, code = nil, "getJobStatus: no job in the response", "EPROTO" end
    if not res then
      if self.ctx.is_permanent(code, status) then return self:fail(err, code) end
      self.rest_failing_since = self.rest_failing_since or t
      if t - self.rest_failing_since > GIVE_UP_AFTER then self:fail(err, code) end
      return
    end
    self.rest_failing_since = nil
    self.stream:server_answered(t)
    if self.stream:is_open() then self.polling_said = nil end
    if res.job.finished then self.final_status = res.job end
  end, true)
end

-- Start whatever work is due, without waiting for any of it.
-- (advance, has_work and next_wake run on every wake-up: busy() and
-- sock_of() are written out in them.)
local function advance(self, now)
  local stream = self.stream
  stream:pump()
  local sock = stream.sock
  if not sock or self.finished or self.fatal then return end
  local log_task = self.log_task
  local fetching = (log_task and not log_task.dead) or self.stored_log or self.backfill
  if self.final_status then
    if not fetching and now >= self.refetch_at then
      if needs_log(self, sock) then fetch_log(self, true) else sock:flush(self.id); finish(self) end
    end
    return
  end
  if not fetching and now >= self.refetch_at and sock:lag(self.id) then fetch_log(self, false) end
  local status_task = self.status_task
  if now < self.next_status or (status_task and not status_task.dead) then return end
  if self.heard and not self.ended_hint and self.stream:is_open() then
    -- The job spoke since the last check: ask its status only after a silence.
    self.heard = false
    self.next_status = now + self.status_interval
  else
    check_status(self, now)
  end
end

-- Whether a call would find something to do now.
function has_work(self, now)
  if self.pending[self.head] ~= nil or self.batch[self.taken + 1] ~= nil then return true end
  if self.finished or self.fatal or self.stored_log or self.backfill then return true end
  local stream = self.stream
  local sock = stream.sock
  if not sock then return false end
  local id = self.id
  if sock:queued(id) > 0 or stream:due(now) then return true end
  local log_task = self.log_task
  if log_task and not log_task.dead then return false end
  if self.final_status or sock:lag(id) then return now >= self.refetch_at end
  local status_task = self.status_task
  return now >= self.next_status and not (status_task and not status_task.dead)
end

-- When the job wants attention next without I/O (monotonic seconds).
local function next_wake(self, now)
  local stream = self.stream
  local wake = stream:deadline() or math.huge
  local status_task, final_status = self.status_task, self.final_status
  if not final_status and not (status_task and not status_task.dead) and self.next_status < wake then
    wake = self.next_status
  end
  local refetch_at = self.refetch_at
  if refetch_at > now and refetch_at < wake and not busy(self.log_task) then
    local sock = stream.sock
    if final_status or (sock and sock:lag(self.id)) then wake = refetch_at end
  end
  return wake
end

-- The steady state's wait. When the socket is open, the job's events are all
-- taken, no event made in Lua waits, no stored log is being fed, no final
-- status came, and the client has no task in flight and blocks to wait (see
-- the context's waits_in_core), then nothing but the socket's events and the
-- status timer can make work for the job: the wait is one call into C
-- (sock:await, the status time passed in) that drains the events into the
-- job's inbox, and advance, has_work and next_wake run only when it returns
-- without any. Returns the next event; false when the wait ended without
-- one; nil when the job is not in that state (the caller waits the general
-- way).
local function await(self, deadline)
  local stream = self.stream
  if stream.state ~= "open" or self.pending[self.head] or self.batch[self.taken + 1] or self.closed
    or self.final_status or self.fatal or self.stored_log or self.backfill or not self.ctx:waits_in_core() then
    return nil
  end
  local wake = self.next_status
  if deadline and deadline < wake then wake = deadline end
  local inbox = self.inbox
  local n = stream.sock:await(self.id, BATCH, wake, inbox)
  if not n then return n end
  local batch = accept(self, inbox, n)
  local ev = batch[1] -- nothing goes ahead of it (see above)
  if not ev then -- the socket's `ended`
    self.batch, self.taken, self.ready = batch, 0, false
    return false
  end
  self.batch, self.taken, self.ready = batch, 1, batch
  return ev
end

--- The next event of the job.
-- Waits (through the client's waiter) until one arrives. Events are tables
-- with `type` (`log`, `progress`, `metrics`, `connection`, `finished`) and
-- `job`; `finished` comes last, once, confirmed by the REST status. With a
-- timeout of 0 it only does the work that is ready and never waits.
-- @tparam[opt] number timeout seconds to wait at most
-- @treturn table the event, or nil once the job finished
-- @return nil, message, code (`ETIMEDOUT` when the timeout passed; `EAPI` or
-- `EAUTH` when Studio says the job cannot be followed, e.g. it does not exist)
function Job:receive(timeout)
  local s = state_of[self]
  if s.closed then check_open(s, "receive") end
  if timeout ~= nil and type(timeout) ~= "number" then error("bad argument #1 to 'receive' (number expected)", 2) end
  if s.done then return nil end
  -- Most calls: the next event was drained before and nothing goes ahead of it.
  local ready, i = s.ready, s.taken + 1
  local ev = ready and ready[i]
  if ev then s.taken = i; return ev end
  start(s)
  local deadline = timeout and core.monotime() + timeout
  while true do
    local awaited -- nil: not waited the steady way, so the general wait below
    if timeout ~= 0 then
      awaited = await(s, deadline)
      if awaited then return awaited end
    end
    ev = take(s)
    if ev then return ev end
    if s.finished then
      s.done = true
      s.stream:unfollow(s)
      return s.finished
    end
    if s.fatal then return nil, s.fatal.msg, s.fatal.code end
    if s.closed then return nil, ("job %d was closed while waiting for it"):format(s.id), "ECANCELED" end
    if not s.ctx.core then return nil, "the client was closed", "ECLOSED" end
    local now = core.monotime()
    advance(s, now)
    if s.finished or s.fatal or has_work(s, now) then
      -- loop: take what is there
    elseif deadline and now >= deadline then
      if timeout == 0 then -- a host's loop asks this of every job, every turn
        s.nothing_yet = s.nothing_yet or ("no event from job %d yet"):format(s.id)
        return nil, s.nothing_yet, "ETIMEDOUT"
      end
      return nil, ("no event from job %d within %gs"):format(s.id, timeout), "ETIMEDOUT"
    elseif awaited == nil then
      -- A task that ends (a status, a token) changes what is due: look again then.
      s.tasks_seen = s.ctx.tasks_done
      s.ctx:wait_until(s.wake_check, math.min(next_wake(s, now), deadline or math.huge), true)
    end
  end
end

-- The iterator of updates(), with the job as its state: receive()'s common
-- case without a call, the rest through receive().
local function iterate(job)
  local s = state_of[job]
  local ready, i = s.ready, s.taken + 1
  local ev = ready and ready[i]
  if ev then s.taken = i; return ev end
  if s.stream and not s.done then -- most other calls: wait the steady way
    ev = await(s)
    if ev then return ev end
  end
  local err
  ev, err = Job.receive(job)
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
  local s = state_of[self]
  check_open(s, "updates")
  return iterate, self, nil, self
end

--- Follow the job to its end.
-- @tparam[opt] number timeout seconds
-- @treturn boolean true when the job succeeded
-- @return false, reason when the job ran and failed
-- @return nil, message, code when it could not be followed
function Job:wait(timeout)
  local s = state_of[self]
  if not s.done then check_open(s, "wait") end
  if timeout ~= nil and type(timeout) ~= "number" then error("bad argument #1 to 'wait' (number expected)", 2) end
  local deadline = timeout and core.monotime() + timeout
  while not s.done do
    local ev, err, code = self:receive(deadline and math.max(0, deadline - core.monotime()))
    if not ev then
      if err then return nil, err, code end
      break
    end
    if ev.type == "finished" and ev.success then return true end
    if ev.type == "finished" then break end
  end
  if s.finished and s.finished.success then return true end
  local reason = s.cancel_requested and "canceled" or s.last_line or "the job failed"
  return false, reason
end

--- The job's descriptor for pollers: the client's descriptor (see
-- `ei.Client:pollfd` for what it is on each build); poll it for reading at
-- most `timeout()` seconds, then `step()`.
-- @treturn integer
function Job:pollfd()
  local s = state_of[self]
  check_open(s, "pollfd")
  if not s.ctx.core then error("attempt to use a job of a closed client", 2) end
  return s.client:pollfd()
end

--- The events to poll for.
-- @treturn string "r"
function Job:events()
  local s = state_of[self]
  check_open(s, "events")
  return "r"
end

--- Seconds until the job wants a `step` without I/O, or nil; 0 when an event
-- is ready. On the poll(2) build at most 0.01 while the client has sockets
-- open (see `ei.Client:pollfd`).
-- @treturn number|nil
function Job:timeout()
  local s = state_of[self]
  check_open(s, "timeout")
  start(s)
  local now = core.monotime()
  if s.done or has_work(s, now) then return 0 end
  local t = s.client:timeout()
  local wake = next_wake(s, now) - now
  if not t or wake < t then t = math.max(0, wake) end
  return t
end

--- Do the job's ready work without waiting, for hosts that run their own
-- poll loop: call it when `pollfd()` is readable or `timeout()` passed, then
-- take events with `receive(0)`. REST exchanges the job needs (status, socket
-- token, stored log) go on in the background; no call waits for one.
-- @treturn boolean true
function Job:step()
  local s = state_of[self]
  check_open(s, "step")
  start(s)
  s.client:step()
  if not s.done then advance(s, core.monotime()) end
  return true
end

--- Stop following the job and release what it holds. Idempotent.
function Job:close()
  local s = state_of[self]
  if s.closed then return end
  s.closed = true
  if s.stream then
    s.batch, s.taken, s.ready = NO_EVENTS, 0, false
    s.stream:unfollow(s)
  end
end
Job.__close = Job.close
Job.__gc = Job.close

function Job:__tostring()
  local s = state_of[self]
  return ("ei.Job %d (project %d%s)"):format(self.id, self.project_id, s.closed and ", closed" or "")
end

return Job
