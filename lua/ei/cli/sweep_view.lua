--- What `ei-train sweep` shows: a live block of one line per running job on a
-- terminal, plain lines otherwise, JSON lines with `--json`; then the runs ranked
-- by validation accuracy.
-- @module ei.cli.sweep_view
local core = require "ei.core"
local JSON = require("ei").json
local cli = require "ei.cli"
local progress = require "ei.cli.progress"

local view = {}

-- "12.3s" under a minute, else "m:ss" or "h:mm:ss".
local function clock(seconds)
  seconds = math.max(0, seconds or 0)
  if seconds < 59.95 then return ("%.1fs"):format(seconds) end
  return progress.clock(seconds)
end

local function percent(x) return type(x) == "number" and ("%.2f%%"):format(100 * x) or "-" end
local function decimal(x) return type(x) == "number" and ("%.4f"):format(x) or "-" end

local function succeeded(run) return run.result ~= nil and run.result.success end

-- Why a run failed: the job's reason, or why it could not be started or followed.
local function reason_of(run)
  if run.result then return tostring(run.result.reason or "the job failed") end
  return tostring(run.error or "not run")
end

--- The runs ranked: those that trained by validation accuracy (best first; on a
-- tie the lower validation loss), then those that failed, in the order they ran.
-- @tparam {table,...} runs
-- @treturn {table,...} the same runs, ranked
function view.ranked(runs)
  local list = table.move(runs, 1, #runs, 1, {})
  local function key(r)
    if not succeeded(r) then return 2, 0, 0 end
    if type(r.accuracy) ~= "number" then return 1, 0, 0 end
    return 0, -r.accuracy, type(r.loss) == "number" and r.loss or math.huge
  end
  table.sort(list, function(a, b)
    local a1, a2, a3 = key(a)
    local b1, b2, b3 = key(b)
    if a1 ~= b1 then return a1 < b1 end
    if a2 ~= b2 then return a2 < b2 end
    if a3 ~= b3 then return a3 < b3 end
    return a.index < b.index
  end)
  return list
end

--- The best run: the first ranked one, when it trained.
-- @tparam {table,...} runs
-- @treturn table|nil
function view.best(runs)
  local first = view.ranked(runs)[1]
  return first and succeeded(first) and first or nil
end

--- The table of the ranked runs, one string per line.
-- @tparam {table,...} runs
-- @treturn {string,...}
function view.table_lines(runs)
  local best = view.best(runs)
  local head = { "" }
  for _, a in ipairs(runs[1].combo) do head[#head + 1] = a.key end
  for _, h in ipairs { "VAL ACCURACY", "VAL LOSS", "TIME", "JOB", "STATUS" } do head[#head + 1] = h end
  local rows = { head }
  for _, r in ipairs(view.ranked(runs)) do
    local row = { r == best and "*" or "" }
    for _, a in ipairs(r.combo) do row[#row + 1] = a.text end
    local ok = succeeded(r)
    row[#row + 1] = ok and percent(r.accuracy) or "-"
    row[#row + 1] = ok and decimal(r.loss) or "-"
    row[#row + 1] = clock(r.seconds)
    row[#row + 1] = r.job and tostring(r.job) or "-"
    row[#row + 1] = ok and "ok" or ("failed: " .. reason_of(r))
    rows[#rows + 1] = row
  end
  local lines = cli.align(rows)
  if best then
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("best: %s (job %s, validation accuracy %s)"):format(best.label, tostring(best.job), percent(best.accuracy))
  end
  return lines
end

--- The runs as `ei.plot.compare` takes them: those with epochs, labelled by their
-- grid values, the best one marked.
-- @tparam {table,...} runs
-- @treturn {table,...} `{ label =, epochs =, best = }`
function view.plot_runs(runs)
  local best, list = view.best(runs), {}
  for _, r in ipairs(runs) do
    local epochs = r.result and r.result.epochs
    if epochs and #epochs > 0 then
      list[#list + 1] = { label = r.label .. (succeeded(r) and "" or " (failed)"), epochs = epochs, best = r == best }
    end
  end
  return list
end

-- The value of a dotted key in the request body, as sent.
local function value_at(params, key)
  local t = params
  for part in key:gmatch("[^.]+") do
    if type(t) ~= "table" then return nil end
    t = t[part:match("^%d+$") and math.tointeger(tonumber(part)) or part]
  end
  return t
end

-- The grid values of a run, as sent: { learningRate = 0.005, batchSize = 16 }.
local function grid_values(run)
  local t = {}
  for _, a in ipairs(run.combo) do t[a.key] = value_at(run.params, a.key) end
  return t
end

-- The line said when a run ends.
local function outcome_line(run)
  local job = run.job and ("job " .. run.job .. " ") or ""
  if succeeded(run) then
    return ("done   %s%s: val acc %s, val loss %s, %s"):format(job, run.label,
      percent(run.accuracy), decimal(run.loss), clock(run.seconds))
  end
  return ("failed %s%s: %s, %s"):format(job, run.label, reason_of(run), clock(run.seconds))
end

local fit = progress.fit

-- Track a run's progress from its events (for the live block).
local function note(run, ev)
  if ev.type == "progress" then
    run.epoch, run.of_epochs = ev.epoch, ev.epochs
  elseif ev.type == "metrics" then
    run.metrics = run.metrics or {}
    for k, v in pairs(ev) do if type(v) == "number" then run.metrics[k] = v end end
  end
end

-- The metrics a running job's line shows: the validation ones once there are any.
local function shown_metrics(m)
  if not m or (m.val_loss == nil and m.val_accuracy == nil) then return m end
  return { val_loss = m.val_loss, val_accuracy = m.val_accuracy }
end

local MIN_PROGRESS = 18 -- "Epoch 13/30  43%" and a little room

-- The grid values alone: "0.005 16".
local function values_of(run)
  local list = {}
  for i, a in ipairs(run.combo) do list[i] = a.text end
  return table.concat(list, " ")
end

-- The line of a running job: its grid values and job id, then as much of the
-- progress line as fits. Where the width is short the job id goes first, then the
-- keys (the values stay, in grid order); `pad` holds the widths to align to.
local function running_line(run, width, pad)
  local job = "job " .. (run.job and tostring(run.job) or "-")
  local prefixes = {
    ("%-" .. pad.label .. "s  %s  "):format(run.label, job),
    ("%-" .. pad.label .. "s  "):format(run.label),
    ("%-" .. pad.values .. "s  "):format(values_of(run)),
  }
  local prefix = prefixes[#prefixes]
  for _, p in ipairs(prefixes) do
    if #p <= width - 1 - MIN_PROGRESS then prefix = p break end
  end
  if not run.epoch then return fit(prefix .. "starting", width) end
  local st = { epoch = run.epoch, epochs = run.of_epochs, metrics = shown_metrics(run.metrics),
    elapsed = core.monotime() - run.start }
  return fit(prefix .. progress.line(st, width - #prefix), width)
end

local function counts_line(runs, started_at, width)
  local n = { running = 0, queued = 0, done = 0, failed = 0 }
  for _, r in ipairs(runs) do
    if not r.start then n.queued = n.queued + 1
    elseif not r.seconds then n.running = n.running + 1
    elseif succeeded(r) then n.done = n.done + 1
    else n.failed = n.failed + 1 end
  end
  return fit(("sweep of %d runs, %s: %d running, %d queued, %d done, %d failed"):format(
    #runs, clock(core.monotime() - started_at), n.running, n.queued, n.done, n.failed), width)
end

local STDOUT_FD = 1

-- The rows of the terminal on stdout, or nil when it does not say.
local function screen_rows()
  local _, rows = core.terminal_size(STDOUT_FD)
  return rows and rows > 0 and rows or nil
end

-- On a terminal: lines that stay (finished runs) above a block redrawn in place,
-- each of its lines cut to the width so none wraps.
local function live(out, runs, width_of)
  local drawn, started_at, pad = 0, core.monotime(), { label = 0, values = 0 }
  for _, r in ipairs(runs) do
    pad.label, pad.values = math.max(pad.label, #r.label), math.max(pad.values, #values_of(r))
  end
  local function redraw(lasting, with_block)
    local width = width_of()
    local buf = { drawn > 0 and ("\r\27[%dA\27[J"):format(drawn) or "\r\27[J" }
    -- lines that stay may wrap: only the block's lines are counted to move back up
    for _, line in ipairs(lasting or {}) do buf[#buf + 1] = line .. "\n" end
    drawn = 0
    if with_block ~= false then
      local lines = { counts_line(runs, started_at, width) }
      for _, r in ipairs(runs) do
        if r.start and not r.seconds then lines[#lines + 1] = running_line(r, width, pad) end
      end
      -- a block taller than the screen could not be moved back up to: say the rest
      local room = screen_rows() and math.max(screen_rows() - 2, 2)
      if room and #lines > room then
        local more = #lines - room + 1
        for i = #lines, room, -1 do lines[i] = nil end
        lines[room] = fit(("… and %d more running"):format(more), width)
      end
      for _, line in ipairs(lines) do buf[#buf + 1] = line .. "\n" end
      drawn = #lines
    end
    out:write(table.concat(buf))
    out:flush()
  end
  return {
    started = function() redraw() end,
    job = function() redraw() end,
    event = function(run, ev)
      note(run, ev)
      if ev.type == "progress" or ev.type == "metrics" then redraw() end
    end,
    finished = function(run) redraw { outcome_line(run) } end,
    summary = function()
      redraw({ "" }, false)
      for _, line in ipairs(view.table_lines(runs)) do out:write(line, "\n") end
      out:flush()
    end,
  }
end

-- Not a terminal: one line when a run starts and one when it ends.
local function plain(out, runs)
  local function say(line) out:write(line, "\n"); out:flush() end
  return {
    started = function() end,
    job = function(run) say(("start  job %d %s"):format(run.job, run.label)) end,
    event = function() end,
    finished = function(run) say(outcome_line(run)) end,
    summary = function()
      say("")
      for _, line in ipairs(view.table_lines(runs)) do say(line) end
    end,
  }
end

-- --json: every event tagged with its run, job and grid values; then a summary.
local function json(out, runs)
  local function emit(t) out:write(JSON.encode(t), "\n"); out:flush() end
  local function tagged(run, ev)
    local t = {}
    for k, v in pairs(ev) do t[k] = v end
    t.run, t.job, t.params = run.index, run.job, grid_values(run)
    return t
  end
  return {
    started = function() end,
    job = function(run) emit(tagged(run, { type = "started" })) end,
    event = function(run, ev) emit(tagged(run, ev)) end,
    finished = function(run)
      if run.error then emit(tagged(run, { type = "error", message = tostring(run.error), code = run.code })) end
    end,
    summary = function()
      local list, best = {}, view.best(runs)
      for rank, r in ipairs(view.ranked(runs)) do
        list[rank] = {
          rank = rank, run = r.index, job = r.job, params = grid_values(r), success = succeeded(r),
          accuracy = succeeded(r) and r.accuracy or nil, loss = succeeded(r) and r.loss or nil,
          seconds = r.seconds, reason = not succeeded(r) and reason_of(r) or nil,
        }
      end
      emit { type = "summary", runs = list, best = best and best.index or nil }
    end,
  }
end

local KINDS = { live = live, plain = plain, json = json }

--- A view of a sweep.
-- @tparam string kind "live" (a terminal), "plain" or "json"
-- @param out where to write (a file)
-- @tparam {table,...} runs the sweep's runs
-- @tparam[opt] function width_of the terminal's columns, for "live"
-- @treturn table `started(run)`, `job(run)` (its job id is known), `event(run, ev)`,
--  `finished(run)`, `summary()`
function view.new(kind, out, runs, width_of)
  return KINDS[kind](out, runs, width_of)
end

return view
