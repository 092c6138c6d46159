--- The `ei-train` command line: start a Keras training job and follow it.
--
-- `ei-train --project P --learn L [--set key=value]… [--params FILE.json|FILE.lua]
-- [--follow] [--json] [--plot FILE.svg]`. Credentials and host come from `EI_API_KEY` and `EI_HOST`,
-- as for `ei.new`. Exit codes: 0 trained (or started, without `--follow`),
-- 1 the job failed, 2 bad usage or invalid parameters, 3 the service could not be
-- reached or talked to.
-- @module ei.cli
-- @usage os.exit(require("ei.cli").main(arg))
local core = require "ei.core"
local ei = require "ei"

local cli = {}

--- Exit codes of the command line.
cli.EXIT = { ok = 0, failed = 1, usage = 2, service = 3 }

-- Error codes of the library mapped to exit codes; anything else is a service failure.
local EXIT_OF_CODE = {
  EINVAL = cli.EXIT.usage,
  EAUTH = cli.EXIT.service, ECONNECT = cli.EXIT.service, ETIMEDOUT = cli.EXIT.service,
  EHTTP = cli.EXIT.service, EAPI = cli.EXIT.service, EPROTO = cli.EXIT.service,
}

cli.USAGE = [[
usage: ei-train --project P --learn L [--set key=value]... [--params FILE.json|FILE.lua]
                [--follow] [--json] [--plot FILE.svg] [--cancel-on-interrupt]

Start training a Keras learn block of an Edge Impulse Studio project.

  --project P        the project id (integer)
  --learn L          the learn block: its id, or its name in the impulse
  --set key=value    set one training parameter (repeatable); nested keys with dots
                     (augmentationPolicySpectrogram.enabled=true), array items by
                     number (visualLayers.1.neurons=20). Values: true/false are
                     booleans, decimal numbers are numbers (integers stay integers),
                     null is JSON null, anything else a string; a field the schema
                     declares as a string keeps the text as given ("123" stays "123").
  --params FILE      parameters from a JSON file, or a Lua file returning a table;
                     --set applies on top
  --follow           follow the job live until it finishes
  --json             print one JSON object per event, one per line
  --plot FILE.svg    with --follow: draw loss and accuracy per epoch into FILE.svg
  --cancel-on-interrupt
                     with --follow: Ctrl-C cancels the job in Studio (otherwise
                     the job goes on there and only following stops)
  -h, --help         show this help

Parameters are checked against the API's SetKerasParameterRequest schema before
anything is sent. EI_API_KEY holds the API key; EI_HOST the Studio host.

Exit status: 0 trained (or started, without --follow), 1 the job failed,
2 bad usage or invalid parameters, 3 could not reach or talk to the service.
]]

-- A usage error: the message and the exit code for bad usage.
local function usage_error(msg)
  return { msg = msg, exit = cli.EXIT.usage, usage = true }
end

-- Options that take a value, and flags.
local VALUED = { project = true, learn = true, set = true, params = true, plot = true }
local FLAGS = { follow = true, json = true, help = true, ["cancel-on-interrupt"] = true }

--- Parse the command line arguments.
-- @tparam table args the script's `arg` (1..n)
-- @treturn table options: `project`, `learn`, `sets` (array of `{key, text}`),
--  `params`, `follow`, `json`, `help`
-- @return nil, error table `{ msg =, exit = }` on bad usage
function cli.parse_args(args)
  local opts = { sets = {} }
  local i = 1
  while args[i] ~= nil do
    local a = args[i]
    local name, value = a:match("^%-%-([%w-]+)=(.*)$")
    if not name then name = a:match("^%-%-([%w-]+)$") end
    if a == "-h" then name = "help" end
    if not name or not (VALUED[name] or FLAGS[name]) then
      return nil, usage_error(("unknown option '%s'"):format(a))
    end
    if FLAGS[name] then
      if value then return nil, usage_error(("option --%s takes no value"):format(name)) end
      opts[name] = true
    else
      if not value then
        i = i + 1
        value = args[i]
        if value == nil then return nil, usage_error(("option --%s needs a value"):format(name)) end
      end
      if name == "set" then
        local key, text = value:match("^([^=]+)=(.*)$")
        if not key then return nil, usage_error(("--set wants key=value, got '%s'"):format(value)) end
        opts.sets[#opts.sets + 1] = { key = key, text = text }
      elseif name == "params" and opts.params then
        return nil, usage_error("--params given twice")
      else
        opts[name] = value
      end
    end
    i = i + 1
  end
  if opts.help then return opts end
  if not opts.project then return nil, usage_error("missing --project") end
  if not opts.project:match("^%d+$") or not math.tointeger(tonumber(opts.project)) then
    return nil, usage_error(("--project wants an integer id, got '%s'"):format(opts.project))
  end
  opts.project = math.tointeger(tonumber(opts.project))
  if not opts.learn or opts.learn == "" then return nil, usage_error("missing --learn") end
  return opts
end

--- Parse the text of a `--set` value.
-- `true`/`false` give booleans, decimal numbers give numbers (an integer stays an
-- integer), `null` gives `ei.null`, and anything else stays the string as given.
-- @tparam string text
-- @return the value
function cli.parse_value(text)
  if text == "true" then return true end
  if text == "false" then return false end
  if text == "null" then return ei.null end
  if (text:match("^[-+]?%d") or text:match("^[-+]?%.%d")) and not text:find("[xX]") then
    local n = tonumber(text)
    if n then
      if text:match("^[-+]?%d+$") then return math.tointeger(n) or n end
      return n
    end
  end
  return text
end

-- Split a dotted key into its path: names, and numbers for array items.
local function key_path(key)
  local path = {}
  for part in (key .. "."):gmatch("([^.]*)%.") do
    if part == "" then return nil end
    path[#path + 1] = part:match("^%d+$") and math.tointeger(tonumber(part)) or part
  end
  return path
end

-- The path as the validator writes it: `a.b[2].c`, `customParameters["some-param"]`.
local function path_text(path)
  local out = {}
  for i, part in ipairs(path) do
    if math.type(part) == "integer" then
      out[#out + 1] = ("[%d]"):format(part)
    elseif part:match("^[%a_][%w_]*$") then
      out[#out + 1] = (i > 1 and "." or "") .. part
    else
      out[#out + 1] = '["' .. part:gsub('[\\"]', "\\%0"):gsub("\n", "\\n"):gsub("\r", "\\r") .. '"]'
    end
  end
  return table.concat(out)
end

-- Store value at path in t, making tables on the way.
local function put(t, path, value, key)
  for i = 1, #path - 1 do
    local k = path[i]
    if t[k] == nil then t[k] = {} end
    if type(t[k]) ~= "table" or t[k] == ei.null then
      return nil, ("--set %s: %s is not an object"):format(key, path_text(table.move(path, 1, i, 1, {})))
    end
    t = t[k]
  end
  t[path[#path]] = value
  return true
end

--- Apply `--set` assignments on top of a parameter table, then validate it.
-- Values are parsed by `parse_value`; where the schema declares a string field
-- and the text parsed as something else, the text is kept as a string.
-- @tparam table params the table to change (from `--params`, or empty)
-- @tparam table sets array of `{ key =, text = }`
-- @treturn table params
-- @return nil, message (naming the field path)
function cli.apply_sets(params, sets)
  local by_path = {}
  for _, s in ipairs(sets) do
    local path = key_path(s.key)
    if not path then return nil, ("--set %s: empty part in the key"):format(s.key) end
    local ok, err = put(params, path, cli.parse_value(s.text), s.key)
    if not ok then return nil, err end
    by_path[path_text(path)] = { path = path, text = s.text, key = s.key }
  end
  -- The schema has the last word on type: a field it declares as a string gets the text.
  for _ = 1, #sets + 1 do
    local ok, err = ei.validate("SetKerasParameterRequest", params)
    if ok then return params end
    local at = err:match("^(.-): expected string, got %a+$")
    local s = at and by_path[at]
    if not s or s.fixed then return nil, err end
    s.fixed = true
    put(params, s.path, s.text, s.key)
  end
  return nil, "invalid parameters"
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

--- Load a parameter file: JSON, or Lua returning a table.
-- @tparam string path ending in `.json` or `.lua`
-- @treturn table
-- @return nil, message
function cli.load_params(path)
  if path:match("%.lua$") then
    local chunk, err = loadfile(path, "t")
    if not chunk then return nil, err end
    local ok, t = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(path, tostring(t)) end
    if type(t) ~= "table" then return nil, ("%s: the file must return a table"):format(path) end
    return t
  end
  local text, err = read_file(path)
  if not text then return nil, err end
  local t, derr = core.decode(text)
  if t == nil then return nil, ("%s: %s"):format(path, tostring(derr or "invalid JSON")) end
  if type(t) ~= "table" then return nil, ("%s: the JSON must be an object"):format(path) end
  return t
end

--- Find a learn block's id from its id or name.
-- @tparam ei.Client client
-- @tparam integer project
-- @tparam string learn an integer id, or a learn block's name in the impulse
-- @treturn integer the id
-- @return nil, message, code
function cli.resolve_learn(client, project, learn)
  if learn:match("^%d+$") and math.tointeger(tonumber(learn)) then return math.tointeger(tonumber(learn)) end
  local res, err, code = client:impulse(project)
  if not res then return nil, err, code end
  local blocks = type(res.impulse) == "table" and res.impulse.learnBlocks or {}
  local names = {}
  for _, b in ipairs(blocks) do
    if b.name == learn then return b.id end
    names[#names + 1] = ("%q (%s, id %s)"):format(tostring(b.name), tostring(b.type), tostring(b.id))
  end
  for _, b in ipairs(blocks) do
    if type(b.name) == "string" and b.name:lower() == learn:lower() then return b.id end
  end
  return nil, ("no learn block named %q in project %d; the impulse has: %s"):format(
    learn, project, #names > 0 and table.concat(names, ", ") or "none"), "EINVAL"
end

-- "m:ss" or "h:mm:ss".
local function clock(seconds)
  seconds = math.max(0, math.floor(seconds + 0.5))
  local h, m, s = seconds // 3600, seconds // 60 % 60, seconds % 60
  if h > 0 then return ("%d:%02d:%02d"):format(h, m, s) end
  return ("%d:%02d"):format(m, s)
end

--- Render one line of the progress bar.
-- @tparam table st `epoch`, `epochs`, `elapsed` (seconds), `metrics` (table)
-- @treturn string the line, without `\r`
function cli.progress_line(st)
  local width = 24
  local fraction = st.epochs and st.epochs > 0 and (st.epoch or 0) / st.epochs or 0
  local filled = math.floor(fraction * width + 0.5)
  local parts = {
    ("Epoch %d/%s [%s%s] %3d%%"):format(st.epoch or 0, st.epochs and tostring(st.epochs) or "?",
      ("#"):rep(filled), ("-"):rep(width - filled), math.floor(fraction * 100 + 0.5)),
    "elapsed " .. clock(st.elapsed or 0),
  }
  if fraction > 0 and fraction < 1 then
    parts[#parts + 1] = "ETA " .. clock((st.elapsed or 0) / fraction * (1 - fraction))
  end
  local m = st.metrics or {}
  for _, name in ipairs { "loss", "accuracy", "val_loss", "val_accuracy" } do
    if type(m[name]) == "number" then parts[#parts + 1] = ("%s %.4f"):format(name, m[name]) end
  end
  return table.concat(parts, "  ")
end

-- Whether stdout is a terminal worth drawing on.
local function is_terminal()
  local term = os.getenv "TERM"
  if not term or term == "" or term == "dumb" then return false end
  return os.execute("test -t 1") == true
end

-- Event sinks: json, bar (terminal), plain.
local function json_sink(out)
  return {
    event = function(ev) out:write(core.encode(ev), "\n"); out:flush() end,
    done = function() end,
  }
end

local function plain_sink(out)
  return {
    event = function(ev) if ev.type == "log" then out:write(ev.line, "\n"); out:flush() end end,
    done = function(summary) out:write(summary, "\n"); out:flush() end,
  }
end

local function bar_sink(out)
  local st = { metrics = {}, start = core.monotime() }
  local function draw()
    st.elapsed = core.monotime() - st.start
    out:write("\r", cli.progress_line(st), "\27[K")
    out:flush()
  end
  return {
    event = function(ev)
      if ev.type == "progress" then
        st.epoch, st.epochs = ev.epoch, ev.epochs
        draw()
      elseif ev.type == "metrics" then
        for k, v in pairs(ev) do if type(v) == "number" then st.metrics[k] = v end end
        draw()
      elseif ev.type == "connection" and ev.state ~= "connected" then
        out:write("\r\27[K", "connection ", ev.state, "\n")
        draw()
      end
    end,
    done = function(summary)
      if st.epoch then draw() end
      out:write(st.epoch and "\n" or "", summary, "\n")
      out:flush()
    end,
  }
end

-- Report a library failure and give its exit code.
local function fail(err, code, stderr)
  stderr:write("ei-train: ", tostring(err), "\n")
  return EXIT_OF_CODE[code] or cli.EXIT.service
end

--- Follow a job to its end, writing events to `out`.
-- @tparam ei.Job job
-- @tparam table opts `json` (boolean), `terminal` (boolean), `epochs` (a table
--  that collects the metrics events, for `--plot`)
-- @tparam file out
-- @tparam file stderr
-- @treturn integer the exit code
function cli.follow(job, opts, out, stderr)
  local sink = opts.json and json_sink(out) or opts.terminal and bar_sink(out) or plain_sink(out)
  local last_line, error_line
  while true do
    local ev, err, code = job:receive()
    if not ev then
      if err then
        if opts.terminal and not opts.json then out:write("\n") end
        return fail(err, code, stderr)
      end
      break
    end
    if ev.type == "log" and ev.line:find("%S") then
      last_line = ev.line
      if ev.line:find("ERROR") or ev.line:find("[Ee]rror:") then error_line = ev.line end
    end
    if ev.type == "metrics" and opts.epochs then opts.epochs[#opts.epochs + 1] = ev end
    sink.event(ev)
    if ev.type == "finished" then
      if ev.success then
        sink.done("finished: success")
        return cli.EXIT.ok
      end
      sink.done(("finished: failure (%s)"):format(error_line or last_line or "the job failed"))
      return cli.EXIT.failed
    end
  end
  sink.done("finished: failure (the job ended without a status)")
  return cli.EXIT.failed
end

-- Ctrl-C while following: the standalone interpreter raises "interrupted!".
-- Anything else is a real error and goes on up.
local function on_interrupt(err, job, cancel, stderr)
  if not tostring(err):find("interrupted!", 1, true) then error(err, 0) end
  stderr:write("\n")
  if not cancel then
    stderr:write(("ei-train: interrupted; job %d goes on in Studio\n"):format(job.id))
    return cli.EXIT.failed
  end
  local ok, cerr = job:cancel()
  if not ok then
    stderr:write(("ei-train: interrupted; could not cancel job %d: %s\n"):format(job.id, cerr))
    return cli.EXIT.service
  end
  stderr:write(("ei-train: interrupted; job %d canceled\n"):format(job.id))
  return cli.EXIT.failed
end

--- Run the command line.
-- @tparam table args the script's `arg`
-- @tparam[opt] table io_ `{ stdout =, stderr = }` (default: the process's)
-- @treturn integer the exit code
-- @usage os.exit(require("ei.cli").main(arg))
function cli.main(args, io_)
  io_ = io_ or {}
  local stdout, stderr = io_.stdout or io.stdout, io_.stderr or io.stderr
  local opts, perr = cli.parse_args(args or {})
  if not opts then
    stderr:write("ei-train: ", perr.msg, "\n", cli.USAGE)
    return perr.exit
  end
  if opts.help then
    stdout:write(cli.USAGE)
    return cli.EXIT.ok
  end

  local params = {}
  if opts.params then
    local t, err = cli.load_params(opts.params)
    if not t then
      stderr:write("ei-train: --params ", err, "\n")
      return cli.EXIT.usage
    end
    params = t
  end
  local checked, verr = cli.apply_sets(params, opts.sets)
  if not checked then
    stderr:write("ei-train: invalid parameters: ", verr, "\n")
    return cli.EXIT.usage
  end

  local client, err, code = ei.new()
  if not client then return fail(err, code, stderr) end
  local learn_id
  learn_id, err, code = cli.resolve_learn(client, opts.project, opts.learn)
  if not learn_id then
    client:close()
    return fail(err, code, stderr)
  end
  local job
  job, err, code = client:train_keras(opts.project, learn_id, checked)
  if not job then
    client:close()
    return fail(err, code, stderr)
  end
  if opts.json then
    stdout:write(core.encode { type = "started", job = job.id, project = opts.project, learn = learn_id }, "\n")
  elseif not opts.follow then
    stdout:write(job.id, "\n")
  end
  stdout:flush()
  local rc = cli.EXIT.ok
  if opts.follow then
    local epochs = opts.plot and {} or nil
    local followed, result = pcall(cli.follow, job,
      { json = opts.json, terminal = not opts.json and is_terminal(), epochs = epochs }, stdout, stderr)
    rc = followed and result or on_interrupt(result, job, opts["cancel-on-interrupt"], stderr)
    if epochs then
      local f, ferr = io.open(opts.plot, "w")
      if f then
        f:write(require("ei.plot").svg(epochs))
        f:close()
      else
        stderr:write("ei-train: --plot: ", ferr, "\n")
        if rc == cli.EXIT.ok then rc = cli.EXIT.usage end
      end
    end
  end
  job:close()
  client:close()
  return rc
end

return cli
