--- Following a job on the command line: a progress line on a terminal, plain log
-- lines otherwise, one JSON event per line with `--json`; an SVG of the training
-- curves with `--plot`. Shared by `ei-train train --follow` and `ei-train follow`.
-- @module ei.cli.follow
local core = require "ei.core"
local ei = require "ei"
local cli = require "ei.cli"
local progress = require "ei.cli.progress"

local follow = {}

local STDOUT_FD = 1

--- The columns of the terminal on stdout, or nil when stdout is no terminal worth
-- drawing on (not a terminal, or `TERM` unset or dumb). A terminal without a size
-- (a bare pty) counts as `COLUMNS` wide, else 80.
-- @treturn integer|nil
function follow.terminal_width()
  local term = os.getenv "TERM"
  if not term or term == "" or term == "dumb" then return nil end
  local columns = core.terminal_size(STDOUT_FD)
  if columns == nil then return nil end
  if columns > 0 then return columns end
  return math.tointeger(tonumber(os.getenv "COLUMNS" or "")) or 80
end

-- Event sinks: json, bar (terminal), plain.
local function json_sink(out)
  return {
    event = function(ev) out:write(ei.json.encode(ev), "\n"); out:flush() end,
    done = function() end,
  }
end

local function plain_sink(out)
  return {
    event = function(ev) if ev.type == "log" then out:write(ev.line, "\n"); out:flush() end end,
    done = function(summary) out:write(summary, "\n"); out:flush() end,
  }
end

-- The width is read again on every redraw, so the line follows a resize.
local function bar_sink(out, width_of)
  local st = { metrics = {}, start = core.monotime() }
  local function draw()
    st.elapsed = core.monotime() - st.start
    out:write("\r", progress.line(st, width_of()), "\27[K")
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
        if st.epoch then draw() end
      end
    end,
    done = function(summary)
      if st.epoch then draw() end
      out:write(st.epoch and "\n" or "", summary, "\n")
      out:flush()
    end,
  }
end

--- Where a followed job's events go: `event(ev)` for each, `done(summary)` at
-- the end. JSON lines with `opts.json`, a progress line with `opts.width_of`,
-- otherwise the log lines.
-- @tparam table opts `json`, `width_of`
-- @param out a file
-- @treturn table `{ event =, done = }`
function follow.sink(opts, out)
  if opts.json then return json_sink(out) end
  if opts.width_of then return bar_sink(out, opts.width_of) end
  return plain_sink(out)
end

--- The function giving the terminal's columns on every call when the command
-- draws on a terminal (stdout is the process's and a terminal, no `--json`), else nil.
-- @tparam table opts the parsed options (`json`)
-- @tparam table ctx the run's context (`terminal`)
-- @treturn function|nil
function follow.width_of(opts, ctx)
  if opts.json or not ctx.terminal or not follow.terminal_width() then return nil end
  return function() return follow.terminal_width() or 80 end -- read on every redraw: the line follows a resize
end

--- Follow a job to its end, writing events to `ctx.stdout`.
-- @tparam ei.Job job
-- @tparam table opts `json` (boolean), `width_of` (a function giving the
--  terminal's columns: draw a progress line), `epochs` (a table that collects the
--  metrics events, for `--plot`)
-- @tparam table ctx `stdout`, `stderr`
-- @treturn integer the exit code
function follow.run(job, opts, ctx)
  local sink = follow.sink(opts, ctx.stdout)
  local last_line, error_line
  while true do
    local ev, err, code = job:receive()
    if not ev then
      if err then
        if opts.width_of and not opts.json then ctx.stdout:write("\n") end
        return cli.fail(ctx, err, code)
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
local function on_interrupt(err, job, cancel, ctx)
  if not tostring(err):find("interrupted!", 1, true) then error(err, 0) end
  local stderr = ctx.stderr
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

--- The metric names `--plot-metrics` asks for: nil for the default, "all", or a list.
-- @tparam[opt] string text
-- @return nil, "all" or a list of names
function follow.plot_metrics(text)
  if text == nil or text == "all" then return text end
  local list = {}
  for name in text:gmatch("[^,%s]+") do list[#list + 1] = name end
  return list
end

--- Follow a job as the command line does: display, Ctrl-C, and `--plot`.
-- @tparam ei.Job job
-- @tparam table opts the parsed options (`json`, `plot`, `plot-metrics`, `cancel-on-interrupt`)
-- @tparam table ctx `stdout`, `stderr`, `terminal` (whether stdout is the process's)
-- @treturn integer the exit code
function follow.job(job, opts, ctx)
  local epochs = opts.plot and {} or nil
  local width_of = follow.width_of(opts, ctx)
  local followed, result = pcall(follow.run, job, { json = opts.json, width_of = width_of, epochs = epochs }, ctx)
  local rc = followed and result or on_interrupt(result, job, opts["cancel-on-interrupt"], ctx)
  if epochs then
    local svg = require("ei.plot").svg(epochs, { job = job.id, metrics = follow.plot_metrics(opts["plot-metrics"]) })
    rc = cli.write_plot(ctx, rc, opts.plot, svg)
  end
  return rc
end

--- The options `train --follow` and `follow` share, for their option tables.
follow.OPTIONS = { json = "flag", plot = "value", ["plot-metrics"] = "value", ["cancel-on-interrupt"] = "flag" }

--- Their help lines.
follow.HELP = [[
  --json             print one JSON object per event, one per line
  --plot FILE.svg    draw the training curves per epoch into FILE.svg
  --plot-metrics M   which metrics --plot draws: a comma-separated list
                     (loss,accuracy,val_loss,...), or all of those the job
                     reported; default loss,accuracy (each with its val_ twin)
  --cancel-on-interrupt
                     Ctrl-C cancels the job in Studio (otherwise the job goes
                     on there and only following stops)]]

return follow
