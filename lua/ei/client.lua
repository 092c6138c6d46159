--- The client: credentials, REST calls with retries, and the jobs it starts.
-- Created with `ei.new`; every REST method returns its result, or
-- `nil, message, code` with a code of the contract. A script sees the
-- client's methods only: its credentials, sockets, tasks and counters are out
-- of its reach.
-- @classmod ei.Client
local core = require "ei.core"

local Client = {}
Client.__index = Client

-- The context of a client: all it keeps besides its methods, and the interface
-- ei.job and ei.stream use (they get the context from this file, never from a
-- script). The credentials are apart again, known to this file alone. Both are
-- keyed weakly, so a client nobody holds is collected (and closed) as before.
local Context = {}
Context.__index = Context
local context_of = setmetatable({}, { __mode = "k" })     -- client -> its context
local credentials_of = setmetatable({}, { __mode = "k" }) -- context -> its credentials

local DEFAULT_HOST = "https://studio.edgeimpulse.com"

-- Requests a client has in flight at once; more wait their turn. Each holds a
-- libcurl handle (a 16 KB receive buffer) and a connection: 1,000 jobs started
-- together would otherwise hold 1,000 of each.
local MAX_IN_FLIGHT = 16
local MAX_BACKOFF = 30

-- Statuses worth another try: the server says it is busy or broken for now.
local function transient_status(status)
  return status == 429 or (status >= 500 and status <= 599)
end

-- What a request does with a field the bundled schema does not name: refuse it
-- (EINVAL, with a did-you-mean), warn once per field path and send it, or send it.
local UNKNOWN_FIELDS = { error = true, warn = true, send = true }

local function check_options(opts)
  local known = {
    api_key = "string", jwt = "string", jwt_cookie = "string", bearer = "string", oauth2 = "table",
    host = "string", timeout = "number", retries = "number", wait = "function", ca_file = "string",
    user_agent = "string", insecure = "boolean", on_warning = "function", backoff = "number",
    status_interval = "number", unknown_fields = "string", coalesce = "number",
  }
  for k, v in pairs(opts) do
    local want = known[k]
    if not want then error(("ei.new: unknown option '%s'"):format(tostring(k)), 3) end
    if type(v) ~= want then error(("ei.new: option '%s' must be a %s"):format(k, want), 3) end
  end
  if opts.unknown_fields and not UNKNOWN_FIELDS[opts.unknown_fields] then
    error(("ei.new: option 'unknown_fields' must be \"error\", \"warn\" or \"send\", not %q"):format(opts.unknown_fields), 3)
  end
  if opts.coalesce and not (opts.coalesce >= 0 and opts.coalesce <= 1) then
    error("ei.new: option 'coalesce' must be a number of seconds from 0 to 1", 3)
  end
  if opts.oauth2 and (type(opts.oauth2.client_id) ~= "string" or type(opts.oauth2.client_secret) ~= "string") then
    error("ei.new: oauth2 needs client_id and client_secret strings", 3)
  end
end

-- The context of an open client; a closed client (or anything else) raises.
local function open(client)
  local ctx = context_of[client]
  if not (ctx and ctx.core) then error("attempt to use a closed client", 3) end
  return ctx
end

local function normalize_host(host)
  host = host:gsub("/+$", ""):gsub("/v1$", "")
  return host
end

--- Create a client (see `ei.new`).
-- @local
function Client.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("ei.new: options must be a table", 2) end
  check_options(opts)
  local auth_given = opts.api_key or opts.jwt or opts.jwt_cookie or opts.bearer or opts.oauth2
  local client = setmetatable({}, Client)
  local ctx = setmetatable({
    client = client,
    host = normalize_host(opts.host or os.getenv "EI_HOST" or DEFAULT_HOST),
    request_timeout = opts.timeout or 30,
    retries = opts.retries or 3,
    backoff = opts.backoff or 0.5,
    status_interval = opts.status_interval,
    coalesce = opts.coalesce,
    unknown_fields = opts.unknown_fields or "error",
    waiter = opts.wait or false, -- false, not nil: read on every wait (see Context:waits_in_core)
    on_warning = opts.on_warning or function(msg) io.stderr:write("ei: warning: ", msg, "\n") end,
    warned = {},
    sockets = {},
    in_flight = 0,
    tasks = {}, task_of = setmetatable({}, { __mode = "k" }), tasks_done = 0, queued_tasks = {},
    max_in_flight = MAX_IN_FLIGHT,
  }, Context)
  ctx.core = core.client { ca_file = opts.ca_file, user_agent = opts.user_agent or ("ei-train/" .. require("ei.version")), insecure = opts.insecure }
  credentials_of[ctx] = {
    api_key = opts.api_key or (not auth_given and os.getenv "EI_API_KEY" or nil),
    jwt = opts.jwt, jwt_cookie = opts.jwt_cookie, bearer = opts.bearer, oauth2 = opts.oauth2,
    socket_tokens = {}, -- project id -> the last socket token fetched
  }
  context_of[client] = ctx
  return client
end

-- Every secret this client holds, to keep them out of messages.
local function secrets(self)
  local c = credentials_of[self]
  local list = { c.api_key, c.jwt, c.jwt_cookie, c.bearer, c.oauth_token }
  if c.oauth2 then list[#list + 1] = c.oauth2.client_secret end
  for _, token in pairs(c.socket_tokens) do list[#list + 1] = token end
  return list
end

--- Remove every secret the client knows from a message.
-- @local
function Context:redact(msg)
  if type(msg) ~= "string" then return msg end
  for _, secret in ipairs(secrets(self)) do
    if #secret >= 4 then
      local start = 1
      while true do
        local i, j = msg:find(secret, start, true)
        if not i then break end
        msg = msg:sub(1, i - 1) .. "<redacted>" .. msg:sub(j + 1)
        start = i + #"<redacted>"
      end
    end
  end
  return msg
end

--- A failure: `nil, message, code`, and the HTTP status when there was one
-- (the live side tells a transient answer from a permanent one by it).
-- @local
function Context:fail(msg, code, status)
  return nil, self:redact(msg), code, status
end

--- Whether a failure is a permanent answer about what was asked (a 404 for
-- the job, a key no longer accepted) rather than one worth waiting out
-- (no connection, a timeout, 408, 429, 5xx, malformed data).
-- @local
function Context.is_permanent(code, status)
  if code == "EAUTH" or code == "EINVAL" then return true end
  if code ~= "EAPI" and code ~= "EHTTP" then return false end
  return status ~= nil and status ~= 408 and not transient_status(status)
end

-- Tasks: REST exchanges that nobody waits for in a call (the live side's
-- socket tokens, status checks, stored-log back-fills). Each is a coroutine
-- whose waits yield here; step() resumes those whose condition holds, so a
-- host's loop or any waiter advances them and no call blocks on them.
local TASK = {}

local function resume_task(self, task)
  task.ready, task.deadline = nil, nil
  local r = table.pack(coroutine.resume(task.co))
  if coroutine.status(task.co) ~= "dead" then return end
  task.dead = true
  self.task_of[task.co] = nil
  self.tasks_done = self.tasks_done + 1 -- waits that depend on a task's result look again
  if not r[1] then error(debug.traceback(task.co, r[2]), 0) end
  if task.on_done then task.on_done(table.unpack(r, 2, r.n)) end
end

local function start_task(self, task)
  task.co = coroutine.create(task.fn)
  task.fn = nil
  self.tasks[#self.tasks + 1] = task
  self.task_of[task.co] = task
  resume_task(self, task)
end

--- Run `fn` as a task; `on_done` gets its results when it returns. With
-- `queued`, a task that makes one request starts only once the client has a
-- request slot free, so that a thousand status checks due together do not
-- each hold a coroutine (which the collector traverses at once) while waiting.
-- @local
function Context:spawn(fn, on_done, queued)
  local task = { fn = fn, on_done = on_done }
  if queued and self.in_flight >= self.max_in_flight then
    self.queued_tasks[#self.queued_tasks + 1] = task
  else
    start_task(self, task)
  end
  return task
end

-- Queued tasks one step starts at most: each builds a request (about 0.25 ms of
-- CPU), and a step stays short however many are due.
local STARTS_PER_STEP = 4

-- Start queued tasks while request slots are free, oldest first.
local function start_queued(self)
  local queue = self.queued_tasks
  local n = #queue
  if n == 0 or self.in_flight >= self.max_in_flight then return end
  local i, last = 1, math.min(n, STARTS_PER_STEP)
  while i <= last and self.in_flight < self.max_in_flight do
    start_task(self, queue[i])
    i = i + 1
  end
  table.move(queue, i, n + 1, 1) -- the slot after n is nil: it ends the list
  for k = n - i + 2, n do queue[k] = nil end
end

local function task_due(task, now)
  return task.ready == nil or task.ready() or (task.deadline ~= nil and now >= task.deadline)
end

-- Resume every task whose wait is over; forget the finished ones.
local function run_tasks(self)
  start_queued(self)
  local tasks, now = self.tasks, core.monotime()
  local n = #tasks
  for i = 1, n do
    local task = tasks[i]
    if not task.dead and (not self.core or task_due(task, now)) then resume_task(self, task) end
  end
  local j = 0
  for i = 1, #tasks do
    local task = tasks[i]
    tasks[i] = nil
    if not task.dead then j = j + 1; tasks[j] = task end
  end
end

-- A client call run as a task, for hosts that own their loop (`client:pending`).
-- Its client and results are kept here, keyed by the object, not in it.
local Pending = {}
Pending.__index = Pending
Pending.__name = "ei.Pending"
local pending_of = setmetatable({}, { __mode = "k" })

--- Whether the call has returned.
-- @treturn boolean
function Pending:done()
  return pending_of[self].results ~= nil
end

--- The call's results once it has returned (what the call itself returns,
-- e.g. `job` or `nil, message, code`); nothing before. An error the call
-- raised (misuse) is raised here.
function Pending:result()
  local r = pending_of[self].results
  if not r then return end
  if not r[1] then error(r[2], 2) end
  return table.unpack(r, 2, r.n)
end

--- The client's descriptor: poll it for `events()` at most `timeout()` seconds, then `step()`.
-- @treturn integer
function Pending:pollfd() return pending_of[self].client:pollfd() end
--- @treturn string "r"
function Pending:events() return "r" end
--- @treturn number|nil seconds; 0 once the call has returned
function Pending:timeout()
  local p = pending_of[self]
  if p.results then return 0 end
  return p.client:timeout()
end
--- Do the client's ready work (the call's among it) without waiting.
-- @treturn boolean whether the call has returned
function Pending:step()
  local p = pending_of[self]
  if not p.results then p.client:step() end
  return p.results ~= nil
end

--- Run a client call without waiting for it, for hosts that own their loop:
-- `f(...)` runs as a task of the client, its waits are the client's own, and
-- every `step` (of the client, a job or the pending call) moves it on.
-- @tparam function f e.g. `client.train_keras`, or any function making client calls
-- @param ... its arguments
-- @treturn ei.Pending with `done`, `result`, `pollfd`, `events`, `timeout`, `step`
-- @usage local op = client:pending(client.train_keras, client, pid, lid, { trainingCycles = 30 })
-- -- in the host's loop: if op:step() then job = op:result() end
function Client:pending(f, ...)
  local ctx = open(self)
  if type(f) ~= "function" then error("bad argument #1 to 'pending' (function expected)", 2) end
  local op = setmetatable({}, Pending)
  local state = { client = self }
  pending_of[op] = state
  local args = table.pack(...)
  ctx:spawn(function() return pcall(f, table.unpack(args, 1, args.n)) end,
    function(...) state.results = table.pack(...) end)
  return op
end

--- Seconds until a task wants to run (0: now), or nil when none waits on time.
-- @local
function Context:tasks_timeout()
  if self.queued_tasks[1] and self.in_flight < self.max_in_flight then return 0 end
  local now, soonest = core.monotime(), nil
  for _, task in ipairs(self.tasks) do
    if task_due(task, now) then return 0 end
    local d = task.deadline
    if d and (not soonest or d < soonest) then soonest = d end
  end
  return soonest and soonest - now
end

-- Seconds until the client's parts or tasks want a step without I/O, or nil.
-- `inside`: for a wait inside step(timeout), which watches every descriptor
-- itself, so the core's deadlines alone, never the tick of a poll(2) build.
local function client_timeout(self, inside)
  local t = self.core:timeout(inside)
  if self.tasks[1] or self.queued_tasks[1] then
    local tt = self:tasks_timeout()
    if tt and (not t or tt < t) then t = math.max(0, tt) end
  end
  return t
end

-- The client's ready work; with `timeout` (seconds, -1: no bound), first wait
-- that long at most for its descriptor, in the same system call.
local function step(self, timeout)
  local ok, err, code = self.core:step(timeout)
  if self.tasks[1] or self.queued_tasks[1] then run_tasks(self) end
  if self.condition then self.condition:signal() end
  return ok, err, code
end

-- The pollable a waiter gets: the client's descriptor, and a timeout that
-- drops to 0 once `ready()` holds or the deadline passes. A user scheduler may
-- hold it (ei.wait.yield): it names the client, not its context.
local Pollable = {}
Pollable.__index = Pollable
function Pollable:pollfd()
  local ctx = context_of[self.client]
  return ctx.core and ctx.core:pollfd() or -1
end
function Pollable:events() return "r" end
function Pollable:timeout()
  local ctx = context_of[self.client]
  if self.ready() or not ctx.core then return 0 end
  local t = client_timeout(ctx)
  if self.deadline then
    local left = math.max(0, self.deadline - core.monotime())
    if not t or left < t then t = left end
  end
  return t
end
-- The block waiter's way: wait in the client's own system call (epoll_wait,
-- or poll(2) over every descriptor) and do the work it finds, rather than
-- poll(2) the descriptor and then step. Called when ready() was just found
-- false, so only the deadlines bound the wait.
function Pollable:wait_step()
  local ctx = context_of[self.client]
  local t = client_timeout(ctx, true)
  if self.deadline then
    local left = math.max(0, self.deadline - core.monotime())
    if not t or left < t then t = left end
  end
  self.stepped = true
  return step(ctx, t or -1)
end
function Pollable:condition()
  return context_of[self.client]:cqueues_condition()
end

-- A cqueues condition the client signals after each step, so that every
-- coroutine waiting on the shared descriptor re-checks what it waits for.
function Context:cqueues_condition()
  if not self.condition then self.condition = require("cqueues.condition").new() end
  return self.condition
end

--- Do whatever work is ready, without waiting: I/O whose descriptor is
-- ready, timers that are due, and the pending REST exchanges of the live side.
-- For hosts that run their own loop (see `pollfd`).
-- @treturn boolean true
function Client:step()
  return step(open(self))
end

--- The client's descriptor: poll it for reading at most `timeout()` seconds,
-- then `step()`.
-- On the epoll build (Linux) it is an epoll descriptor, readable whenever
-- any of the client's sockets is ready. On the poll(2) build (other systems,
-- and Linux with `-DEI_POLLSET=poll`) no descriptor can say that: it is a
-- pipe the client owns, readable once `timeout()` has found a socket ready,
-- and `timeout()` answers at most 0.01 s while the client has sockets, so a
-- loop that honours it steps at least every 10 ms and misses nothing.
-- @treturn integer
function Client:pollfd()
  return open(self).core:pollfd()
end

--- The events to poll for.
-- @treturn string "r"
function Client:events()
  return "r"
end

--- Seconds until `step` has work without I/O (0: now), or nil.
-- On the poll(2) build (see `pollfd`): 0 when a socket is ready now, and at
-- most 0.01 while the client has sockets open.
-- @treturn number|nil
function Client:timeout()
  return client_timeout(open(self))
end

local wait -- ei.wait, loaded on the first wait
local isyieldable = coroutine.isyieldable

--- Whether a job may wait in one call into C (`sock:await`) rather than
-- through the waiter: the waiter blocks (a plain script's, not a
-- scheduler's), and no task is in flight or queued, so that nothing of the
-- client but its descriptors and C timers needs a turn meanwhile.
-- @local
function Context:waits_in_core()
  if self.tasks[1] or self.queued_tasks[1] or not self.core then return false end
  local waiter = self.waiter
  if not waiter then return not isyieldable() end
  wait = wait or require "ei.wait"
  return waiter == wait.block
end

--- Wait until `ready()` holds or `deadline` (monotonic seconds) passes.
-- Inside a task it yields to step(); elsewhere it waits through the waiter.
-- With `unready`, the caller has just found ready() false and before the
-- deadline: the first check is skipped.
-- @treturn boolean whether ready() holds
-- @local
function Context:wait_until(ready, deadline, unready)
  local task = self.task_of[coroutine.running()]
  if task then
    while true do
      if not self.core then return false, "ECLOSED" end
      if ready() then return true end
      if deadline and core.monotime() >= deadline then return false end
      task.ready, task.deadline = ready, deadline
      coroutine.yield(TASK)
    end
  end
  wait = wait or require "ei.wait"
  local waiter = self.waiter or wait.auto()
  local pollable = setmetatable({ client = self.client, ready = ready, deadline = deadline }, Pollable)
  -- No step before the first wait: ready work makes the wait return at once
  -- (the descriptor is readable, or a timeout is 0), so it costs no more.
  while true do
    if not self.core then return false, "ECLOSED" end -- closed by another coroutine
    if unready then
      unready = false
    else
      if ready() then return true end
      if deadline and core.monotime() >= deadline then return false end
    end
    pollable.stepped = false
    waiter(pollable)
    if not pollable.stepped then
      if not self.core then return false, "ECLOSED" end
      step(self)
    end
  end
end

--- Sleep for `seconds`, doing the client's work meanwhile.
-- @local
function Context:sleep(seconds)
  self:wait_until(function() return false end, core.monotime() + seconds)
end

local function auth_headers(self, headers)
  local c = credentials_of[self]
  if c.api_key then headers[#headers + 1] = "x-api-key: " .. c.api_key end
  if c.jwt then headers[#headers + 1] = "x-jwt-token: " .. c.jwt end
  if c.jwt_cookie then headers[#headers + 1] = "Cookie: jwt=" .. c.jwt_cookie end
  local bearer = c.bearer or c.oauth_token
  if bearer then headers[#headers + 1] = "Authorization: Bearer " .. bearer end
end


-- A request's place among those in flight, given back however the exchange ends:
-- returned, raised, its coroutine closed (__close) or abandoned and collected (__gc).
local Slot = {}
Slot.__index = Slot
function Slot:release()
  if self.ctx then
    self.ctx.in_flight = self.ctx.in_flight - 1
    self.ctx = nil
  end
end
Slot.__close, Slot.__gc = Slot.release, Slot.release

local function take_slot(self)
  local function has_room() return self.in_flight < self.max_in_flight end
  if not has_room() then
    local _, closed = self:wait_until(has_room)
    if closed then return nil end
  end
  self.in_flight = self.in_flight + 1
  return setmetatable({ ctx = self }, Slot)
end

-- What `ready()` of an exchange checks: whether the request is done and, when the
-- call asked for progress, how far the transfer got (called from Lua between steps,
-- never from inside libcurl; once per change).
local function transfer_done(req, transfer)
  local report = transfer and transfer.progress
  if not report then return function() return req:done() end end
  local last
  return function()
    local done = req:done()
    local now, total, sent, to_send = req:progress()
    if transfer.parts and not transfer.output then now, total = sent, to_send end
    if now and now ~= last then
      last = now
      report(now, total)
    end
    return done
  end
end

-- One HTTP exchange: status, body, headers | nil, msg, code. `transfer` (optional)
-- carries a call's multipart parts, output file, progress function and timeout.
local function exchange(self, method, path, body, content_type, transfer)
  local slot <close> = take_slot(self)
  if not slot then return nil, "the client was closed", "ECLOSED" end
  local headers = { "Accept: application/json" }
  if body then headers[#headers + 1] = "Content-Type: " .. (content_type or "application/json") end
  auth_headers(self, headers)
  local req, err, code = self.core:request {
    method = method, url = self.host .. "/v1" .. path, headers = headers, body = body,
    timeout = transfer and transfer.timeout or self.request_timeout,
    parts = transfer and transfer.parts, output = transfer and transfer.output,
  }
  if not req then return nil, err, code end
  local _, closed = self:wait_until(transfer_done(req, transfer))
  if closed then return nil, "the client was closed", closed end
  local status, rbody, rheaders = req:result()
  req:close()
  return status, rbody, rheaders
end

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10, Nov = 11, Dec = 12 }

-- Seconds since the epoch of an HTTP date (RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994
-- 08:49:37 GMT"), or nil. os.time(table) would read it as local time.
local function http_date(value)
  local d, mon, y, h, m, s = value:match("^%a%a%a, (%d%d) (%a%a%a) (%d%d%d%d) (%d%d):(%d%d):(%d%d) GMT$")
  local month = MONTHS[mon]
  if not month then return nil end
  y, month = tonumber(y), month
  if month <= 2 then y = y - 1 end -- days from the civil date, March-based years
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (month + (month > 2 and -3 or 9)) + 2) // 5 + tonumber(d) - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(m) * 60 + tonumber(s)
end

-- Seconds a 429/503 asks us to wait: Retry-After in seconds or as an HTTP date.
local function retry_after(headers)
  local value = headers and headers["retry-after"]
  if not value then return nil end
  local seconds = tonumber(value)
  if not seconds then
    local at = http_date(value)
    seconds = at and at - os.time()
  end
  if seconds then return math.min(math.max(seconds, 0), 300) end
  return nil
end

local function backoff(self, attempt)
  local cap = math.min(MAX_BACKOFF, self.backoff * 2 ^ attempt)
  return cap / 2 + math.random() * cap / 2
end

local function error_text(body)
  local decoded = body and body ~= "" and core.decode(body)
  if type(decoded) == "table" and type(decoded.error) == "string" then return decoded.error end
  return nil
end

-- Turn a finished exchange into a decoded body or nil, msg, code.
local function interpret(self, method, path, status, body, headers)
  if type(body) == "table" then -- a 2xx written to a file: { path, size, sha256 }
    body.content_type = headers and headers["content-type"]
    return body
  end
  local text = error_text(body)
  if status == 401 or status == 403 then
    return self:fail(("%s %s: not authorized (HTTP %d)%s"):format(method, path, status, text and (": " .. text) or ""), "EAUTH", status)
  end
  if status < 200 or status > 299 then
    if text then return self:fail(("%s %s: %s (HTTP %d)"):format(method, path, text, status), "EAPI", status) end
    return self:fail(("%s %s: HTTP %d"):format(method, path, status), "EHTTP", status)
  end
  if body == "" then return {} end
  local content_type = headers and headers["content-type"] or "application/json"
  if not content_type:find("json", 1, true) then return body end -- e.g. a log download
  local decoded, err = core.decode(body)
  if decoded == nil then return self:fail(("%s %s: malformed JSON in the response: %s"):format(method, path, err), "EPROTO") end
  if type(decoded) == "table" and decoded.success == false then
    return self:fail(("%s %s: %s"):format(method, path, tostring(decoded.error or "the request failed")), "EAPI", status)
  end
  return decoded
end

local function ensure_oauth_token(self, force)
  local c = credentials_of[self]
  if not c.oauth2 then return true end
  if not force and c.oauth_token and core.monotime() < c.oauth_expires - 30 then return true end
  local function enc(s) return (s:gsub("[^%w%-%._~]", function(ch) return ("%%%02X"):format(ch:byte()) end)) end
  local form = ("grant_type=client_credentials&client_id=%s&client_secret=%s"):format(enc(c.oauth2.client_id), enc(c.oauth2.client_secret))
  c.oauth_token = nil
  local res, err, code = self:rest("POST", "/oauth/token", form, "application/x-www-form-urlencoded", true)
  if not res then return nil, err, code end
  if type(res.access_token) ~= "string" then return self:fail("POST /oauth/token: no access_token in the response", "EPROTO") end
  c.oauth_token = res.access_token
  c.oauth_expires = core.monotime() + (tonumber(res.expires_in) or 3600)
  return true
end

local IDEMPOTENT = { GET = true, HEAD = true, PUT = true, DELETE = true, OPTIONS = true }

--- One REST call with the client's retry policy.
-- Retries connect failures, 429 (after Retry-After) and 5xx with exponential
-- backoff and jitter; never other 4xx. Timeouts are retried only for
-- idempotent methods, since a POST may have been carried out. `transfer`
-- (optional, from `Client:call`): { parts =, output =, progress =, timeout = };
-- each attempt is a new request, so parts are read and the output written afresh.
-- @local
function Context:rest(method, path, body, content_type, no_oauth, transfer)
  if not no_oauth then
    local ok, err, code = ensure_oauth_token(self)
    if not ok then return nil, err, code end
  end
  local refreshed = false
  local attempt = 0
  while true do
    local status, rbody, headers = exchange(self, method, path, body, content_type, transfer)
    local retry, delay
    if not status then
      local msg, code = rbody, headers
      retry = code == "ECONNECT" or (code == "ETIMEDOUT" and IDEMPOTENT[method])
      if not retry or attempt >= self.retries then return self:fail(("%s %s: %s"):format(method, path, msg), code) end
    elseif status == 401 and credentials_of[self].oauth2 and not no_oauth and not refreshed then
      refreshed = true
      local ok, err, code = ensure_oauth_token(self, true)
      if not ok then return nil, err, code end
      retry, delay = true, 0
      attempt = attempt - 1
    elseif transient_status(status) and attempt < self.retries then
      retry, delay = true, retry_after(headers)
    else
      return interpret(self, method, path, status, rbody, headers)
    end
    self:sleep(delay or backoff(self, attempt))
    attempt = attempt + 1
  end
end

-- Warn once per field path about deprecated fields.
local function warn_deprecated(self, op, deprecated)
  for _, path in ipairs(deprecated or {}) do
    local key = op .. ":" .. path
    if not self.warned[key] then
      self.warned[key] = true
      self.on_warning(("%s: field '%s' is deprecated (it is still sent)"):format(op, path))
    end
  end
end

-- Warn once per field path about fields the bundled schema does not name.
local function warn_unknown(self, op, unknown)
  for _, path in ipairs(unknown) do
    local key = op .. ":unknown:" .. path
    if not self.warned[key] then
      self.warned[key] = true
      local hint = unknown[path] and (' (did you mean "%s"?)'):format(unknown[path]) or ""
      self.on_warning(("%s: field '%s' is not in the bundled schema%s; it is sent as given"):format(op, path, hint))
    end
  end
end

local FILE_MT = getmetatable(core.file(""))

-- A multipart field's value as the text of a part (arrays are split before).
local function part_text(v)
  if type(v) == "string" then return v end
  if math.type(v) == "integer" then return ("%d"):format(v) end
  if type(v) == "number" then return ("%.17g"):format(v) end
  if type(v) == "boolean" then return tostring(v) end
  return core.encode(v) -- an object (or ei.null) travels as JSON text
end

local function add_part(parts, name, v)
  if getmetatable(v) == FILE_MT then
    parts[#parts + 1] = { name = name, file = v.path, filename = v.filename, type = v.type }
  else
    parts[#parts + 1] = { name = name, data = part_text(v) }
  end
end

-- The parts of a validated multipart body, in name order: one per field, one per
-- element of an array field; files (ei.file) are read from disk as they are sent.
local function multipart_parts(body)
  local names = {}
  for name in pairs(body) do names[#names + 1] = name end
  table.sort(names)
  local parts = {}
  for _, name in ipairs(names) do
    local v = body[name]
    if type(v) == "table" and getmetatable(v) ~= FILE_MT and (#v > 0 or next(v) == nil) then
      for _, item in ipairs(v) do add_part(parts, name, item) end
    else
      add_part(parts, name, v)
    end
  end
  return parts
end

local CALL_OPTIONS = { unknown_fields = "string", output = "string", progress = "function", timeout = "number" }

-- Check the options of a call (misuse raises): fname and the argument number name it.
local function check_call_options(opts, fname, n)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("bad argument #%d to '%s' (table expected, got %s)"):format(n, fname, type(opts)), 3) end
  for k, v in pairs(opts) do
    local want = CALL_OPTIONS[k]
    if not want then error(("bad argument #%d to '%s' (unknown option '%s')"):format(n, fname, tostring(k)), 3) end
    if type(v) ~= want then error(("bad argument #%d to '%s' (option '%s' must be a %s)"):format(n, fname, k, want), 3) end
  end
  if opts.unknown_fields and not UNKNOWN_FIELDS[opts.unknown_fields] then
    error(("bad argument #%d to '%s' (unknown_fields must be \"error\", \"warn\" or \"send\")"):format(n, fname), 3)
  end
  return opts
end

-- Studio may answer HTTP 200 with {"success":false}: a small JSON answer written to a
-- file is read back, so that such an error never poses as the result.
local function check_saved_answer(self, op, res)
  if not (res.content_type or ""):find("json", 1, true) or res.size > 65536 then return res end
  local f = io.open(res.path, "rb")
  local decoded = f and core.decode(f:read("a"))
  if f then f:close() end
  if type(decoded) == "table" and decoded.success == false then
    os.remove(res.path)
    return self:fail(("%s: %s"):format(op, tostring(decoded.error or "the request failed")), "EAPI")
  end
  return res
end

--- Call any operation of the Studio API by its operationId.
-- `args` holds the path and query parameters by their names in the API
-- document, and `body` (validated against the operation's schema). A
-- multipart/form-data body is a table too: its fields become form fields (an
-- array field one part per element), and a binary field takes `ei.file(path)`
-- to stream that file from disk (or a string of bytes).
-- @tparam string operation_id e.g. "getJobStatus"
-- @tparam[opt] table args
-- @tparam[opt] table opts
--  `unknown_fields` ("error" | "warn" | "send"; default: the client's option, see `ei.new`);
--  `output` (a file name: a 2xx response goes there, streamed, never held in memory;
--  written under a temporary name beside it and renamed when complete, so a failed or
--  interrupted call leaves no file; a retried transfer starts the file afresh);
--  `progress` (`function(done, total)`: bytes received, or sent for a multipart upload
--  without `output`; total is nil when unknown; called between steps, once per change);
--  `timeout` (seconds for the whole transfer; default: the client's `timeout`).
-- @treturn table the decoded response; with `output`: `{ path =, size =, sha256 =,
-- content_type = }` (size in bytes, sha256 in lowercase hex)
-- @return nil, message, code on failure (`EINVAL` names the field, argument or file)
-- @usage local res = client:call("getJobsLogs", { projectId = 1, jobId = 2, limit = 10 })
-- @usage local file = assert(client:call("downloadJobsLogs", { projectId = 1, jobId = 2 },
--   { output = "job.log", progress = function(done, total) io.write(done, "/", total or "?", "\r") end }))
-- @usage assert(client:call("uploadPretrainedModel", { projectId = 1, body = {
--   modelFile = ei.file("model.tflite"), modelFileName = "model.tflite", modelFileType = "tflite" } }))
function Client:call(operation_id, args, opts)
  local ctx = open(self)
  if type(operation_id) ~= "string" then error("bad argument #1 to 'call' (string expected)", 2) end
  if args ~= nil and type(args) ~= "table" then error("bad argument #2 to 'call' (table expected)", 2) end
  opts = check_call_options(opts, "call", 3)
  local mode = opts.unknown_fields or ctx.unknown_fields
  local method, path, body, content_type, deprecated, unknown = core.operation_parts(operation_id, args or {}, mode)
  if not method then return nil, path, body end
  warn_deprecated(ctx, operation_id, deprecated)
  if mode == "warn" then warn_unknown(ctx, operation_id, unknown) end
  local transfer = { output = opts.output, progress = opts.progress, timeout = opts.timeout }
  if type(body) == "table" then -- multipart/form-data
    transfer.parts, body, content_type = multipart_parts(body), nil, nil
  end
  local res, err, code, status = ctx:rest(method, path, body, content_type, nil, transfer)
  if res and opts.output then
    return check_saved_answer(ctx, operation_id, res)
  end
  return res, err, code, status
end

local function check_id(value, n, fname)
  if math.type(value) ~= "integer" then
    error(("bad argument #%d to '%s' (integer expected, got %s)"):format(n, fname, math.type(value) or type(value)), 3)
  end
end

--- Start training a Keras learn block.
-- @tparam integer project_id
-- @tparam integer learn_id
-- @tparam table params a `SetKerasParameterRequest` table (keys as in the API document)
-- @tparam[opt] table opts options of `Client:call` (e.g. `unknown_fields = "send"`)
-- @treturn ei.Job the job
-- @return nil, message, code on failure (`EINVAL` names the field)
-- @usage local job = assert(client:train_keras(pid, lid, { trainingCycles = 30, learningRate = 0.005 }))
function Client:train_keras(project_id, learn_id, params, opts)
  local ctx = open(self)
  check_id(project_id, 1, "train_keras")
  check_id(learn_id, 2, "train_keras")
  if params ~= nil and type(params) ~= "table" then error("bad argument #3 to 'train_keras' (table expected)", 2) end
  check_call_options(opts, "train_keras", 4)
  local res, err, code = self:call("trainKerasJob", { projectId = project_id, learnId = learn_id, body = params or {} }, opts)
  if not res then return nil, err, code end
  if math.type(res.id) ~= "integer" then return ctx:fail("trainKerasJob: no job id in the response", "EPROTO") end
  return require("ei.job").new(ctx, project_id, res.id, true)
end

--- Follow a job started elsewhere.
-- @tparam integer project_id
-- @tparam integer job_id
-- @treturn ei.Job
function Client:job(project_id, job_id)
  local ctx = open(self)
  check_id(project_id, 1, "job")
  check_id(job_id, 2, "job")
  return require("ei.job").new(ctx, project_id, job_id)
end

--- The project's impulse (`getImpulse`).
-- @tparam integer project_id
-- @treturn table the response, with `impulse`
function Client:impulse(project_id)
  return self:call("getImpulse", { projectId = project_id })
end

--- A learn block's Keras configuration (`getKeras`).
-- @tparam integer project_id
-- @tparam integer learn_id
-- @treturn table
function Client:keras_config(project_id, learn_id)
  return self:call("getKeras", { projectId = project_id, learnId = learn_id })
end

--- Change a learn block's Keras configuration (`setKeras`).
-- @tparam integer project_id
-- @tparam integer learn_id
-- @tparam table params a `SetKerasParameterRequest` table
-- @tparam[opt] table opts options of `Client:call` (e.g. `unknown_fields = "send"`)
-- @treturn table
function Client:set_keras_config(project_id, learn_id, params, opts)
  return self:call("setKeras", { projectId = project_id, learnId = learn_id, body = params }, opts)
end

--- Metadata of the last training of a learn block (`getKerasMetadata`).
-- @tparam integer project_id
-- @tparam integer learn_id
-- @treturn table
function Client:keras_metadata(project_id, learn_id)
  return self:call("getKerasMetadata", { projectId = project_id, learnId = learn_id })
end

--- Start generating features for a DSP block (`generateFeaturesJob`).
-- @tparam integer project_id
-- @tparam integer dsp_id
-- @tparam[opt] table fields more fields of the request body (`dspId` is set from dsp_id)
-- @tparam[opt] table opts options of `Client:call` (e.g. `unknown_fields = "send"`)
-- @treturn ei.Job
function Client:generate_features(project_id, dsp_id, fields, opts)
  local ctx = open(self)
  check_id(project_id, 1, "generate_features")
  check_id(dsp_id, 2, "generate_features")
  if fields ~= nil and type(fields) ~= "table" then error("bad argument #3 to 'generate_features' (table expected)", 2) end
  check_call_options(opts, "generate_features", 4)
  local body = { dspId = dsp_id }
  for k, v in pairs(fields or {}) do body[k] = v end
  local res, err, code = self:call("generateFeaturesJob", { projectId = project_id, body = body }, opts)
  if not res then return nil, err, code end
  if math.type(res.id) ~= "integer" then return ctx:fail("generateFeaturesJob: no job id in the response", "EPROTO") end
  return require("ei.job").new(ctx, project_id, res.id, true)
end

--- A fresh websocket token for a project (`getSocketToken`).
-- @tparam integer project_id
-- @treturn string token
-- @treturn string expiry (RFC 3339)
function Client:socket_token(project_id)
  local res, err, code, status = self:call("getSocketToken", { projectId = project_id })
  if not res then return nil, err, code, status end
  local token = type(res.token) == "table" and res.token.socketToken
  if type(token) ~= "string" then return context_of[self]:fail("getSocketToken: no token in the response", "EPROTO") end
  return token, res.token.expires
end

--- A fresh websocket token for a project, remembered so that no message shows it.
-- @local
function Context:socket_token(project_id)
  local token, expires, code, status = self.client:socket_token(project_id)
  if token then credentials_of[self].socket_tokens[project_id] = token end
  return token, expires, code, status
end

--- Close the client and everything it opened. Idempotent.
function Client:close()
  local ctx = context_of[self]
  if not (ctx and ctx.core) then return end
  for _, s in pairs(ctx.sockets) do s:close() end
  local tasks = ctx.tasks
  ctx.tasks = {}
  for _, task in ipairs(ctx.queued_tasks) do task.dead = true end
  ctx.queued_tasks = {}
  for _, task in ipairs(tasks) do
    task.dead = true
    coroutine.close(task.co) -- gives back its request slot (a to-be-closed variable)
  end
  local fd = ctx.core:pollfd()
  local wait = package.loaded["ei.wait"] -- nothing to forget if no waiter ever ran
  if wait then wait.forget(fd) end
  ctx.core:close()
  ctx.core = nil
end
Client.__close = Client.close
Client.__gc = Client.close

function Client:__tostring()
  return ("ei.Client (%s)"):format(context_of[self].host)
end

return Client
