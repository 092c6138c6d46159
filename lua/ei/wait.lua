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

--- Block the whole program in poll(2) until the pollable is ready.
-- The right waiter for plain scripts; the default outside any scheduler.
-- @tparam table pollable an object with pollfd, events and timeout methods
function wait.block(pollable)
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

  for i, task in ipairs(tasks) do resume(i, task) end
  while live > 0 do
    local pairs_, owners, soonest = {}, {}, nil
    for i, task in ipairs(tasks) do
      if not task.done then
        local p = task.pollable
        local t = p and p:timeout() or 0
        if t and (not soonest or t < soonest) then soonest = t end
        if p then
          local fd = p:pollfd()
          if fd and fd >= 0 then
            pairs_[#pairs_ + 1], pairs_[#pairs_ + 2] = fd, p:events()
            owners[#owners + 1] = i
          end
        end
      end
    end
    local ready = core.poll_many(pairs_, soonest and math.max(0, soonest))
    local wake = {}
    for k, i in ipairs(owners) do if ready[k] ~= "" then wake[i] = true end end
    for i, task in ipairs(tasks) do
      if not task.done then
        local p = task.pollable
        local t = p and p:timeout()
        if wake[i] or not p or (t and t <= 0) then resume(i, task) end
      end
    end
  end
  return table.unpack(results, 1, n)
end

return wait
