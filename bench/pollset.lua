-- The cost of the readiness backend, run once per build (bench/run does not run it):
-- a steadyStream job (RATE lines a second, each stamped with the microsecond the
-- simulator sent it) followed by a host loop that polls pollfd() at most timeout()
-- seconds, steps and takes events with receive(0) (as examples/embed does), and by
-- the block waiter (job:updates()); then the price of one client:timeout() call
-- while the websocket is open.
--
--   LUA_CPATH='build/?.so;;' lua5.4 bench/pollset.lua [RATE LINES]
--   LUA_CPATH='build-portable/?.so;;' lua5.4 bench/pollset.lua [RATE LINES]
--
-- Prints per way: lines, p50/p99/max delay from send to receipt, loop turns (host
-- loop) per second, and CPU (user + system of this process) per second of following.
package.path = "lua/?.lua;lua/?/init.lua;spec/?.lua;" .. package.path
local helper = require "helper"
local ei = require "ei"
local core = require "ei.core"

local rate, lines = tonumber(arg[1] or 100), tonumber(arg[2] or 500)

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(p / 100 * #sorted))] or 0 / 0
end

-- Follow `job` with `take(job, on_event)`; returns the delays (µs), turns, seconds, CPU seconds.
local function measure(job, take)
  local delays, turns = {}, 0
  local t0, c0 = core.monotime(), os.clock()
  turns = take(job, function(ev)
    local sent = ev.type == "log" and ev.line:match(" at (%d+)$")
    if sent then delays[#delays + 1] = core.monotime() * 1e6 - tonumber(sent) end
  end)
  local took, cpu = core.monotime() - t0, os.clock() - c0
  table.sort(delays)
  return delays, turns, took, cpu
end

local function host_loop(job, on_event)
  local turns = 0
  while true do
    job:step()
    while true do
      local ev, err = job:receive(0)
      if ev then on_event(ev) elseif err then break else return turns end
    end
    turns = turns + 1
    core.poll(job:pollfd(), job:events(), job:timeout() or 1)
  end
end

local function block(job, on_event)
  for ev in job:updates() do on_event(ev) end
  return 0
end

local function timeout_cost(client)
  local n = 20000
  local t0 = core.monotime()
  for _ = 1, n do client:timeout() end
  return (core.monotime() - t0) / n * 1e9
end

local sim = helper.studio { speed = 1000, scenario = { steadyStream = { rate = rate, lines = lines } } }
local ok, err = pcall(function()
  for _, way in ipairs { { "host loop", host_loop }, { "block", block } } do
    local client = assert(ei.new { host = sim.url, api_key = sim.api_key })
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 1 }))
    local delays, turns, took, cpu = measure(job, way[2])
    print(("%-9s %d lines, delay p50 %.2f ms p99 %.2f ms max %.2f ms, %.0f turns/s, CPU %.1f ms/s"):format(
      way[1], #delays, percentile(delays, 50) / 1e3, percentile(delays, 99) / 1e3, (delays[#delays] or 0) / 1e3,
      turns / took, cpu / took * 1e3))
    job:close()
    client:close()
  end
  -- timeout() with the websocket open: follow a job to its first line, then call it.
  local client = assert(ei.new { host = sim.url, api_key = sim.api_key })
  local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 1 }))
  assert(job:receive(10))
  print(("timeout() %.0f ns a call with the websocket open"):format(timeout_cost(client)))
  client:close()
end)
sim:stop()
assert(ok, err)
