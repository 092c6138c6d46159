--- The `ei-train` commands after training: `test` classifies the test set,
-- `deploy` builds the impulse for a device and downloads the archive. Their jobs
-- are followed live as training is.
-- @module ei.cli.deploy
local core = require "ei.core"
local json = require("ei").json
local cli = require "ei.cli"
local follow = require "ei.cli.follow"
local pipeline = require "ei.pipeline"
local progress = require "ei.cli.progress"

local deploy = {}

local COMMON_HELP = [[
  --project P        the project id (integer; default EI_PROJECT_ID)
  --json             print the job's events, then the result, one JSON object per line
  -h, --help         show this help
]]

-- On a terminal: one line redrawn in place with the elapsed time and the job's
-- latest log line (these jobs report steps, not epochs), cut to the width.
local function step_sink(out, width_of)
  local start, latest, shown, connected = core.monotime(), "starting", false, false
  local function draw()
    local line = progress.clock(core.monotime() - start) .. "  " .. latest
    out:write("\r", progress.fit(line, width_of()), "\27[K")
    out:flush()
    shown = true
  end
  return {
    event = function(ev)
      if ev.type == "log" and ev.line:find("%S") then
        latest = ev.line:gsub("^%s+", ""):gsub("%s+$", ""):gsub("%c", " ")
        draw()
      elseif ev.type == "connection" and ev.state == "connected" then
        connected = true
      elseif ev.type == "connection" and connected then -- a change once the socket was up
        out:write("\r\27[K", "connection ", ev.state, "\n")
        if shown then draw() end
      end
    end,
    done = function(summary)
      out:write(shown and "\r\27[K" or "", summary, "\n")
      out:flush()
    end,
  }
end

-- Run `act(client, project, sink)` with a client and the sink the job's events go
-- to; close the client afterwards.
local function with_job_display(opts, ctx, act)
  return cli.with_client(opts, ctx, function(client, project)
    local width_of = follow.width_of(opts, ctx)
    return act(client, project, width_of and step_sink(ctx.stdout, width_of) or follow.sink({ json = opts.json }, ctx.stdout))
  end)
end

-- The end of a step: the sink's last line, then the exit code; `show(result)`
-- prints a successful result.
local function finish(ctx, sink, opts, result, err, code, show)
  if not result then return cli.fail(ctx, err, code) end
  if not result.success then
    sink.done(("finished: failure (%s)"):format(tostring(result.reason or "the job failed")))
    if opts.json then ctx.stdout:write(json.encode(result), "\n") end
    return cli.EXIT.failed
  end
  sink.done("finished: success")
  if opts.json then
    ctx.stdout:write(json.encode(result), "\n")
  else
    show(result)
  end
  ctx.stdout:flush()
  return cli.EXIT.ok
end

local function split_list(text)
  local list = {}
  for v in (text or ""):gmatch("[^,%s]+") do list[#list + 1] = v end
  return list
end

--- The confusion matrix of a test result as lines: rows are the true labels,
-- columns the predicted ones, in percent of each true label's samples.
-- @tparam table v one variant of `pipeline.test`'s result (`labels`, `confusion`)
-- @treturn {string,...}
function deploy.confusion_lines(v)
  local labels, rows = v.labels, {}
  for actual in pairs(v.confusion) do rows[#rows + 1] = actual end
  local order = {}
  for i, l in ipairs(labels) do order[l] = i end
  table.sort(rows, function(a, b) return (order[a] or math.huge) < (order[b] or math.huge) or
    (order[a] == order[b] and a < b) end)
  local width = 7
  for _, l in ipairs(labels) do width = math.max(width, #l + 1) end
  for _, l in ipairs(rows) do width = math.max(width, #l + 1) end
  local head = { (" "):rep(width) }
  for _, l in ipairs(labels) do head[#head + 1] = ("%" .. width .. "s"):format(l) end
  local lines = { (table.concat(head):gsub("%s+$", "")) }
  for _, actual in ipairs(rows) do
    local cells = { ("%-" .. width .. "s"):format(actual) }
    for _, predicted in ipairs(labels) do
      local p = v.confusion[actual][predicted]
      cells[#cells + 1] = ("%" .. width .. "s"):format(type(p) == "number" and ("%.1f"):format(p) or "-")
    end
    lines[#lines + 1] = table.concat(cells)
  end
  return lines
end

local function show_test(out, result, variants)
  for _, name in ipairs(variants) do
    local v = result.variants[name]
    out:write(("%s: accuracy %s (%s of %s test samples right)\n"):format(name,
      type(v.accuracy) == "number" and ("%.2f%%"):format(100 * v.accuracy) or "-",
      tostring(v.good or "-"), v.good and v.bad and tostring(v.good + v.bad) or "-"))
  end
  for _, name in ipairs(variants) do
    out:write(("\n%s confusion matrix (%% of each true label; rows: true, columns: predicted)\n"):format(name))
    for _, line in ipairs(deploy.confusion_lines(result.variants[name])) do out:write(line, "\n") end
  end
end

deploy.test = {
  summary = "classify the test set with the trained model: accuracy and confusion matrix",
  usage = "ei-train test [--project P] [--variant int8,float32] [--json]",
  options = { project = "value", variant = "value", json = "flag" },
  help = [[
  --variant V        the model variants to test, comma-separated (default int8;
                     int8, float32, ...)
]] .. COMMON_HELP .. [[

The test job is followed live. Then per variant its accuracy on the test set and
the confusion matrix. Exit status 1 when the job failed (e.g. no trained model).
]],
  run = function(opts, ctx)
    local variants = split_list(opts.variant or "int8")
    if #variants == 0 then
      ctx.stderr:write("ei-train: --variant wants a comma-separated list, e.g. int8,float32\n")
      return cli.EXIT.usage
    end
    return with_job_display(opts, ctx, function(client, project, sink)
      local result, err, code = pipeline.test(client, project, { variants = variants, on_event = sink.event })
      return finish(ctx, sink, opts, result, err, code, function(r) show_test(ctx.stdout, r, variants) end)
    end)
  end,
}

deploy.deploy = {
  summary = "build the impulse for a device and download the archive",
  usage = "ei-train deploy [--project P] [--type zip] [--engine E] [--model-type T]\n"
    .. "                       [--output FILE] [--json]",
  options = { project = "value", type = "value", engine = "value", ["model-type"] = "value", output = "value", json = "flag" },
  help = [[
  --type T           the deployment type (default zip: a C++ library)
  --engine E         the inference engine: tflite-eon (default), tflite,
                     tflite-eon-ram-optimized, ...
  --model-type T     int8 or float32 (default: the learn block's setting)
  --output FILE      where to write the archive (default
                     deployment-<type>-v<version>.zip)
]] .. COMMON_HELP .. [[

The build job is followed live; then the archive's path, size and sha256 are
printed. An engine or model type the API does not know exits 2 before anything
is sent. Exit status 1 when the build failed.
]],
  run = function(opts, ctx)
    return with_job_display(opts, ctx, function(client, project, sink)
      local result, err, code = pipeline.deploy(client, project, {
        type = opts.type, engine = opts.engine, model_type = opts["model-type"], output = opts.output,
        on_event = sink.event,
      })
      return finish(ctx, sink, opts, result, err, code, function(r)
        ctx.stdout:write(("path    %s\nsize    %d bytes\nsha256  %s\n"):format(r.path, r.size, r.sha256))
      end)
    end)
  end,
}

return deploy
