--- Waiting: the one place where ei waits, so that a coroutine may yield there.
--
-- A waiter is a function `waiter(pollable)` that returns once the pollable's
-- descriptor is ready or its timeout has passed. A pollable answers
-- `pollfd()`, `events()` ("r", "w" or "rw") and `timeout()` (seconds or nil),
-- the protocol cqueues controllers and luv poll handles already speak. The
-- pollables ei hands to waiters report a timeout of 0 as soon as what they
-- wait for has happened, so a scheduler that asks again on every turn never
-- misses a wake-up that another coroutine's work caused.
-- @module ei.wait
local core = require "ei.core"

local wait = {}

-- Coroutines run by ei.run; their waits yield to its scheduler.
local run_threads = setmetatable({}, { __mode = "k" })
local RUN = {}

--- Block the whole program until the pollable is ready.
-- The right waiter for plain scripts; the default outside any scheduler.
-- ei's own waits block in the client's own system call (epoll_wait, or one
-- poll(2) over all its sockets) and do the ready work there (their
-- pollable's `wait_step`); any other pollable in poll(2).
-- @tparam table pollable an object with pollfd, events and timeout methods
function wait.block(pollable)
  -- ei's own pollables wait in the client's own system call and step there:
  -- one per wake-up instead of poll(2) on pollfd(), then the step's own.
  if pollable.wait_step then return pollable:wait_step() end
  core.poll(pollable:pollfd(), pollable:events(), pollable:timeout())
end

--- Yield the pollable to whoever resumed the current coroutine.
-- For user schedulers that speak the pollable protocol: they poll
-- `pollfd()` for `events()` at most `timeout()` seconds, then resume the
-- coroutine. Ask `timeout()` again on every turn: it drops to 0 once there is
-- work to do. Outside a coroutine it blocks.
-- @tparam table pollable
function wait.yield(pollable)
  if not coroutine.isyieldable() then return wait.block(pollable) end
  coroutine.yield(pollable)
end

--- Wait through cqueues (`cqueues.poll`), inside a cqueues controller.
-- Chosen automatically when ei is used from a coroutine that a cqueues
-- controller runs.
-- @tparam table pollable
function wait.cqueues(pollable)
  local cqueues = require "cqueues"
  local condition = pollable.condition and pollable:condition()
  if condition then
    cqueues.poll(pollable, condition)
  else
    cqueues.poll(pollable)
  end
end

-- One libuv poll handle per descriptor: libuv refuses two for the same one.
-- Each handle wakes every wait registered on its descriptor.
local luv_watchers = {}

local function luv_watcher(uv, fd)
  local watcher = luv_watchers[fd]
  if not watcher then
    watcher = { handle = uv.new_poll(fd), waiting = {} }
    luv_watchers[fd] = watcher
  end
  return watcher
end

local function luv_wake_all(watcher)
  local wakes = {}
  for _, wake in pairs(watcher.waiting) do wakes[#wakes + 1] = wake end
  for _, wake in ipairs(wakes) do wake() end
end

--- Wait through the luv event loop.
-- Inside a coroutine the coroutine yields and the loop resumes it; in the
-- main thread the loop runs until the pollable is ready, so other luv work
-- goes on meanwhile.
-- @tparam table pollable
function wait.luv(pollable)
  local uv = require "luv"
  local fd, timeout = pollable:pollfd(), pollable:timeout()
  local co, main = coroutine.running()
  local watcher = luv_watcher(uv, fd)
  local key, done, timer = {}, false, nil
  local function wake()
    if done then return end
    done = true
    watcher.waiting[key] = nil
    if next(watcher.waiting) == nil then watcher.handle:stop() end
    if timer then timer:stop(); timer:close(); timer = nil end
    if not main then
      local ok, err = coroutine.resume(co)
      if not ok then error(err, 0) end
    end
  end
  if next(watcher.waiting) == nil then
    watcher.handle:start("r", function() luv_wake_all(watcher) end)
  end
  watcher.waiting[key] = wake
  if timeout then
    timer = uv.new_timer()
    timer:start(math.max(0, math.ceil(timeout * 1000)), 0, wake)
  end
  if main then
    while not done do uv.run("once") end
  else
    coroutine.yield()
  end
end

--- Forget what the waiters keep for a descriptor that is about to close.
-- @tparam integer fd
function wait.forget(fd)
  local watcher = luv_watchers[fd]
  if watcher then
    luv_watchers[fd] = nil
    luv_wake_all(watcher)
    if not watcher.handle:is_closing() then watcher.handle:close() end
  end
end

--- The waiter for the current context: inside `ei.run` its scheduler, inside
-- a cqueues controller cqueues, otherwise block.
-- @treturn function a waiter
function wait.auto()
  local co, main = coroutine.running()
  if not main and run_threads[co] then return wait.run end
  local cqueues = package.loaded.cqueues
  if cqueues and cqueues.running and cqueues.running() then return wait.cqueues end
  return wait.block
end

-- Events to poll for as bits, and back.
local EVENT_BITS, EVENT_NAMES = { r = 1, w = 2, rw = 3 }, { "r", "w", "rw" }
local READY_BITS = { [""] = 0, r = 1, w = 2, rw = 3 }

-- The waiter of coroutines run by ei.run.
function wait.run(pollable)
  coroutine.yield(RUN, pollable)
end

--- Run functions as concurrent coroutines over one poll loop.
-- Returns once every function has returned, with the first result of each,
-- in order. An error in any function is raised after the others are closed.
-- @tparam function ... the functions
-- @return the first result of each function
-- @usage local a, b = ei.run(function() return job1:wait() end, function() return job2:wait() end)
function wait.run_all(...)
  local n = select("#", ...)
  local tasks, results, live = {}, {}, 0
  for i = 1, n do
    local f = select(i, ...)
    if type(f) ~= "function" then error(("bad argument #%d to 'run' (function expected, got %s)"):format(i, type(f)), 2) end
    local co = coroutine.create(f)
    run_threads[co] = true
    tasks[i] = { co = co }
    live = live + 1
  end

  local function fail(err)
    for _, task in ipairs(tasks) do
      if coroutine.status(task.co) == "suspended" then coroutine.close(task.co) end
    end
    error(err, 0)
  end

  local function resume(i, task)
    local ok, first, pollable = coroutine.resume(task.co)
    if not ok then fail(debug.traceback(task.co, first)) end
    if coroutine.status(task.co) == "dead" then
      results[i] = first
      task.done, task.pollable = true, nil
      live = live - 1
    elseif first == RUN then
      task.pollable = pollable
    else
      task.pollable = nil -- a plain yield: run again on the next turn
    end
  end

  -- Each turn polls every descriptor once, however many tasks wait on it
  -- (all the jobs of a client share one), with the union of their events.
  -- The tables are kept from turn to turn: with many tasks, a turn is frequent.
  local polled, slot = {}, {} -- fd, events pairs; fd -> its pair
  for i, task in ipairs(tasks) do resume(i, task) end
  while live > 0 do
    local soonest, npairs = nil, 0
    for _, task in ipairs(tasks) do
      task.slot = nil
      if not task.done then
        local p, t = task.pollable, 0
        if p then t = p:timeout() end -- nil: no deadline, only the descriptor
        task.t = t
        if t and (not soonest or t < soonest) then soonest = t end
        local fd = p and p:pollfd()
        if fd and fd >= 0 then
          local bits = EVENT_BITS[p:events()] or 1
          local k = slot[fd]
          if not k then
            k = npairs // 2 + 1
            slot[fd], npairs = k, npairs + 2
            polled[npairs - 1], polled[npairs] = fd, bits
          else
            polled[2 * k] = polled[2 * k] | bits
          end
          task.slot, task.bits = k, bits
        end
      end
    end
    for k = #polled, npairs + 1, -1 do polled[k] = nil end
    for k = 1, npairs, 2 do
      slot[polled[k]] = nil
      polled[k + 1] = EVENT_NAMES[polled[k + 1]]
    end
    local ready = core.poll_many(polled, soonest and math.max(0, soonest))
    for i, task in ipairs(tasks) do
      if not task.done then
        local p, t, k = task.pollable, task.t, task.slot
        local woken = k and (READY_BITS[ready[k]] or 0) & task.bits ~= 0
        if woken or not p or (t and t <= 0) then resume(i, task) end
      end
    end
  end
  return table.unpack(results, 1, n)
end

return wait
