--- The live side of a project: one websocket per client and project,
-- multiplexing every job followed on it, kept connected by policy here
-- (fresh token per connect, backoff, status polling while it is down).
-- @module ei.stream
local core = require "ei.core"

local Stream = {}
Stream.__index = Stream

local RECONNECT_BASE, RECONNECT_MAX = 0.25, 15

--- The stream of a client's project, created on first use.
-- @tparam table ctx the client's context (ei.client): the stream's only way to its client
-- @tparam integer project_id
-- @local
function Stream.of(ctx, project_id)
  local stream = ctx.sockets[project_id]
  if stream then return stream end
  local sock = core.socket(ctx.core, { coalesce = ctx.coalesce })
  stream = setmetatable({
    -- Jobs are held weakly: a job nobody holds any more is collected and unfollowed.
    ctx = ctx, project_id = project_id, sock = sock, jobs = setmetatable({}, { __mode = "v" }), state = "idle",
    ever_open = false, attempt = 0, outages = 0, next_attempt = 0, down_since = nil,
  }, Stream)
  ctx.sockets[project_id] = stream
  return stream
end

-- The websocket URL for a token: ws(s)://host/socket.io/?token=…
local function socket_url(host, token)
  local base = host:gsub("^http", "ws")
  return base .. "/socket.io/?token=" .. token .. "&EIO=3&transport=websocket&onDemandLogs=true"
end

local function broadcast(self, state)
  for _, job in pairs(self.jobs) do job:push { type = "connection", job = job.id, state = state } end
end

local function schedule_retry(self)
  local delay = math.min(RECONNECT_MAX, RECONNECT_BASE * 2 ^ math.max(0, self.attempt - 1))
  self.next_attempt = core.monotime() + delay * (0.5 + math.random() * 0.5)
  self.state = "waiting"
end

-- Every job of the stream ends with a permanent answer (a key no longer
-- accepted, a project that does not exist): waiting would not change it.
local function fail_jobs(self, err, code)
  for _, job in pairs(self.jobs) do job:fail(err, code) end
end

-- A fresh token has come (or not): open the websocket with it.
local function token_fetched(self, token, err, code, status)
  if not self.sock then return end -- closed meanwhile
  if not token then
    self.last_error, self.last_code = err, code
    if self.ctx.is_permanent(code, status) then fail_jobs(self, err, code) end
    schedule_retry(self)
    return
  end
  self.sock:connect(socket_url(self.ctx.host, token))
  self.state = "connecting"
end

-- Start a connection attempt: a fresh token each time (tokens expire),
-- fetched as a task of the client, so that nothing waits for it. While it is
-- fetched the state is "token".
local function connect(self)
  self.attempt = self.attempt + 1
  self.state = "token"
  self.ctx:spawn(function()
    return self.ctx:socket_token(self.project_id)
  end, function(...) token_fetched(self, ...) end, true)
end

--- Follow a job on this stream.
-- @local
function Stream:follow(job)
  self.jobs[job.id] = job
  self.sock:follow(job.id)
end

--- Stop following a job; the socket closes with its last job.
-- @local
function Stream:unfollow(job)
  local current = self.jobs[job.id]
  -- A job being collected has already left the weak table.
  if current ~= nil and current ~= job then return end
  self.jobs[job.id] = nil
  if self.sock then self.sock:unfollow(job.id) end
  if not next(self.jobs) then self:close() end
end

--- Whether the stream wants attention now (a state change or a timer).
-- @local
function Stream:due(now)
  if not self.sock then return false end
  if self.state == "idle" then return true end
  if self.state == "waiting" then return now >= self.next_attempt end
  if self.state == "token" then return false end
  local s = self.sock:state()
  if self.state == "connecting" then return s ~= "connecting" end
  if self.state == "open" then return s ~= "open" end
  return false
end

--- When the stream wants attention next without I/O (monotonic seconds).
-- @local
function Stream:deadline()
  if self.state == "waiting" then return self.next_attempt end
  return nil
end

--- Move the connection along: connect, notice losses, reconnect with backoff.
-- @local
function Stream:pump()
  local sock = self.sock
  if not sock then return end
  if self.state == "open" and sock:state() == "open" then return end -- the common case, without the clock
  local now = core.monotime()
  if not self:due(now) then return end
  if self.state == "idle" or self.state == "waiting" then
    connect(self)
    return
  end
  local s, err, code = self.sock:state()
  if s == "open" then
    self.state = "open"
    self.attempt = 0
    self.down_since = nil
    broadcast(self, self.ever_open and "reconnected" or "connected")
    self.ever_open = true
  elseif s == "closed" then
    self.last_error, self.last_code = err, code
    if self.state == "open" or not self.down_since then
      self.down_since = self.down_since or now
      self.outages = self.outages + 1
      if self.ever_open then broadcast(self, "lost") end
    end
    schedule_retry(self)
  end
end

--- Studio answered a REST call: a connection waiting out its backoff tries now,
-- so a socket comes back as soon as the server does, not up to 15 s later.
-- @local
function Stream:server_answered(now)
  if self.state == "waiting" and self.next_attempt > now then self.next_attempt = now end
end

--- Whether the socket is up.
-- @local
function Stream:is_open()
  return self.state == "open"
end

--- Close the socket. Idempotent.
-- @local
function Stream:close()
  if self.sock then
    self.sock:close()
    self.sock = nil
  end
  self.state = "closed"
  local sockets = self.ctx.sockets
  if sockets[self.project_id] == self then sockets[self.project_id] = nil end
end

return Stream
