-- Test support: start the Studio simulator on a free loopback port and stop it.
local json = require "dkjson"
local core = require "ei.core"

local helper = {}

local ROOT = (debug.getinfo(1, "S").source:match("^@(.*)/spec/helper%.lua$")) or "."
helper.root = ROOT

-- The interpreter for child Lua processes and where they find the module of this
-- checkout: EI_LUA and EI_SPEC_BUILD (a directory under the checkout) let tools/sanitize
-- run them on its sanitized host and build-asan/.
helper.lua = os.getenv("EI_LUA") or "lua5.4"
helper.lua_path = ROOT .. "/lua/?.lua;" .. ROOT .. "/lua/?/init.lua;;"
helper.lua_cpath = ROOT .. "/" .. (os.getenv("EI_SPEC_BUILD") or "build") .. "/?.so;;"

--- Quote a value for the shell.
function helper.quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function tmpname(suffix)
  local name = os.tmpname()
  os.remove(name)
  return name .. suffix
end

local function write_file(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

local function read_file(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end
helper.read_file = read_file
helper.write_file = write_file

function helper.sleep(seconds)
  core.poll(-1, "r", seconds)
end

--- Wait until f() returns a true value or `seconds` pass; returns f's value.
function helper.eventually(f, seconds)
  local deadline = core.monotime() + (seconds or 10)
  repeat
    local v = f()
    if v then return v end
    helper.sleep(0.01)
  until core.monotime() > deadline
  return nil
end

local Sim = {}
Sim.__index = Sim

--- Start a simulator. opts: scenario (table), speed (number), api_key.
-- The simulator reads its stdin from us and exits when we close it, so a
-- crashed test run never leaves one behind.
function helper.studio(opts)
  opts = opts or {}
  local out, err, record = tmpname(".out"), tmpname(".err"), tmpname(".jsonl")
  local args = { ROOT .. "/spec/studio/studio-sim", "--port", "0", "--record", record,
    "--speed", tostring(opts.speed or 1000) }
  if opts.scenario then
    local scenario = tmpname(".json")
    write_file(scenario, json.encode(opts.scenario))
    args[#args + 1], args[#args + 2] = "--scenario", scenario
  end
  if opts.api_key then args[#args + 1], args[#args + 2] = "--api-key", opts.api_key end
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = helper.quote(a) end
  local cmd = ("exec %s > %s 2> %s"):format(table.concat(quoted, " "), out, err)
  local stdin = assert(io.popen(cmd, "w"))
  local line = helper.eventually(function()
    local text = read_file(out)
    return text and text:match("^([^\n]*)\n")
  end, 20)
  if not line then
    stdin:close()
    error("the simulator did not start: " .. (read_file(err) or ""))
  end
  local ready = assert(json.decode(line))
  return setmetatable({
    stdin = stdin, out = out, err = err, record = record,
    url = ready.url, api_key = ready.api_key, project_id = ready.project_id,
    learn_id = ready.learn_id, dsp_id = ready.dsp_id, ready = ready,
  }, Sim)
end

--- Everything the simulator recorded so far, one table per line.
function Sim:records(kind)
  local list = {}
  for line in (read_file(self.record) or ""):gmatch("[^\n]+") do
    local r = json.decode(line, 1, json.null)
    if r and (not kind or r.kind == kind) then list[#list + 1] = r end
  end
  return list
end

--- The REST requests recorded whose path matches the pattern.
function Sim:requests(pattern, method)
  local list = {}
  for _, r in ipairs(self:records("http")) do
    if r.path:match(pattern) and (not method or r.method == method) then list[#list + 1] = r end
  end
  return list
end

--- POST to the simulator's control endpoint.
function Sim:control(path, body)
  local cmd = ("curl -s -X POST -H 'Content-Type: application/json' --data-binary @- '%s/__sim/%s'"):format(self.url, path)
  local p = assert(io.popen(cmd .. " > /dev/null", "w"))
  p:write(json.encode(body or {}))
  p:close()
end

--- The simulator's counters (GET /__sim/stats): requests, dataFrames, junkFrames,
-- unknownEvents, wsConnections, jobs (each with its frames and lines) …
function Sim:stats()
  local p = assert(io.popen(("curl -s '%s/__sim/stats'"):format(self.url)))
  local text = p:read("a")
  p:close()
  return assert(json.decode(text), "no stats from the simulator: " .. text)
end

function Sim:stop()
  if self.stdin then
    self.stdin:close()
    self.stdin = nil
  end
  for _, f in ipairs { self.out, self.err, self.record } do os.remove(f) end
end

--- Inside a describe block: a simulator and a client of it for the block's tests,
-- started in setup and stopped in teardown. Returns a table whose `sim` and
-- `client` are set once setup has run.
function helper.shared_studio(sim_opts, client_opts)
  local busted = require "busted"
  local shared = {}
  busted.setup(function()
    shared.sim = helper.studio(sim_opts)
    shared.client = shared.sim:client(client_opts)
  end)
  busted.teardown(function()
    shared.client:close()
    shared.sim:stop()
  end)
  return shared
end

--- A client of the module under test, talking to this simulator.
function Sim:client(opts)
  local ei = require "ei"
  opts = opts or {}
  opts.host = opts.host or self.url
  if not (opts.api_key or opts.jwt or opts.jwt_cookie or opts.bearer or opts.oauth2) then
    opts.api_key = self.api_key
  end
  return assert(ei.new(opts))
end

--- Run a Node script that listens on 127.0.0.1 and prints its port; it
-- exits when its stdin (held by us) closes. Returns { port, stop }.
function helper.node_server(script)
  local out = tmpname(".port")
  local stdin = assert(io.popen(("exec node -e %q > %s"):format(script, out), "w"))
  local port = helper.eventually(function() return tonumber((read_file(out) or ""):match("%d+")) end, 10)
  if not port then stdin:close() error("the Node server did not start") end
  return { port = port, stop = function() stdin:close(); os.remove(out) end }
end

--- The complete lines of a text, without their line ends.
function helper.lines_of(text)
  local list = {}
  for line in text:gmatch("([^\n]*)\n") do list[#list + 1] = (line:gsub("\r$", "")) end
  return list
end

--- The lines of the `log` events in a list of events.
function helper.logged(events)
  local lines = {}
  for _, ev in ipairs(events) do
    if ev.type == "log" then lines[#lines + 1] = ev.line end
  end
  return lines
end

--- Follow a job event by event to its end or `row.bound` seconds, applying
-- `row.midway.apply(sim)` after `row.midway.at` log lines. Returns
-- `{log = lines, states = connection states, finished = events, err, code}`.
function helper.follow_faults(job, sim, row)
  local core = require "ei.core"
  local seen = { log = {}, states = {}, finished = {} }
  local deadline = core.monotime() + row.bound
  while true do
    local ev, err, code = job:receive(math.max(0, deadline - core.monotime()))
    if not ev then
      seen.err, seen.code = err, code
      return seen
    end
    if ev.type == "log" then
      seen.log[#seen.log + 1] = ev.line
      if row.midway and #seen.log == row.midway.at then row.midway.apply(sim) end
    elseif ev.type == "connection" then
      seen.states[#seen.states + 1] = ev.state
    elseif ev.type == "finished" then
      seen.finished[#seen.finished + 1] = ev
    end
  end
end

--- Scan a child process's output for credentials when the suite runs under
-- the secret audit (spec/support/audit.lua); nothing otherwise.
function helper.audit(where, text)
  local audit = package.loaded["ei.audit"]
  if audit then audit.output(where, text) end
end

--- Run bin/ei-train of this checkout with the given arguments (already shell-quoted
-- where needed). env: host, key, project (EI_HOST, EI_API_KEY, EI_PROJECT_ID; empty
-- when not given), wrap (a function rewriting the shell command).
-- Returns the combined output and the exit code.
function helper.ei_train(args, env)
  env = env or {}
  local q = helper.quote
  local cmd = ("cd %s && env EI_HOST=%s EI_API_KEY=%s EI_PROJECT_ID=%s LUA_PATH=%s LUA_CPATH=%s %s bin/ei-train %s 2>&1; echo rc=$?"):format(
    q(ROOT), q(env.host or ""), q(env.key or ""), q(env.project or ""),
    q(helper.lua_path), q(helper.lua_cpath), q(helper.lua), args)
  if env.wrap then cmd = env.wrap(cmd) end
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  helper.audit("ei-train", out)
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return out:gsub("rc=%d+%s*$", ""), rc
end

--- The shell command that runs bin/ei-train of this checkout against a simulator.
function helper.ei_train_command(sim, args)
  local q = helper.quote
  return ("cd %s && env EI_HOST=%s EI_API_KEY=%s EI_PROJECT_ID=%d LUA_PATH=%s LUA_CPATH=%s %s bin/ei-train %s"):format(
    q(helper.root), q(sim.url), q(sim.api_key), sim.project_id, q(helper.lua_path), q(helper.lua_cpath), q(helper.lua), args)
end

--- A tmux server of its own, with one window of the given size (height default 30)
-- running `cmd`, then `echo rc=$?`. Returns `{ screen(), resize(w), keys(k), stop() }`;
-- each screen goes through the secret audit.
function helper.tmux(cmd, width, height)
  height = height or 30
  local name = "ei-spec-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9))
  local t = { socket = name }
  local function run(args)
    local p = assert(io.popen(("tmux -L %s -f /dev/null %s 2>&1"):format(name, args)))
    local out = p:read("a")
    p:close()
    return out
  end
  run(("new-session -d -s s -x %d -y %d %s"):format(width, height, helper.quote(cmd .. "; echo rc=$?; sleep 120")))
  function t.screen()
    local screen = run("capture-pane -p -t s")
    helper.audit("ei-train", screen)
    return screen
  end
  function t.resize(w) run(("resize-window -t s -x %d -y %d"):format(w, height)) end
  function t.keys(keys) run("send-keys -t s " .. keys) end
  function t.stop() run("kill-server") end
  return t
end

--- The tmux screen once `pattern` shows on it (polled, at most `seconds`), or nil.
function helper.screen_when(t, pattern, seconds)
  return helper.eventually(function()
    local s = t.screen()
    return s:match(pattern) and s
  end, seconds)
end

--- The version of the newest released rockspec in rockspec/, read from its
-- `version = "x.y.z-r"` line (without the rockspec revision).
function helper.rockspec_version()
  local p = assert(io.popen(("ls %s/rockspec"):format(helper.quote(ROOT))))
  local best, best_key
  for name in p:lines() do
    if name:match("^ei%-train%-%d") then
      local text = assert(read_file(ROOT .. "/rockspec/" .. name))
      local version = assert(text:match('\nversion = "([%d.]+)%-%d+"\n'), name .. " names no version")
      local a, b, c = version:match("^(%d+)%.(%d+)%.(%d+)$")
      local key = tonumber(a) * 1e8 + tonumber(b) * 1e4 + tonumber(c)
      if not best_key or key > best_key then best, best_key = version, key end
    end
  end
  p:close()
  assert(best, "no released rockspec in rockspec/")
  return best
end

helper.json = json
return helper
