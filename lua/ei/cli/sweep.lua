--- The sweep command of ei-train: train every combination of a grid of training
-- parameters, at most N jobs at once over one client, show them live, then rank
-- the runs by validation accuracy and, asked to, draw their validation curves.
-- Every combination is checked against the API's SetKerasParameterRequest before
-- anything is sent.
-- @module ei.cli.sweep
local core = require "ei.core"
local ei = require "ei"
local cli = require "ei.cli"
local train = require "ei.cli.train"
local follow = require "ei.cli.follow"
local pipeline = require "ei.pipeline"
local sweep_view = require "ei.cli.sweep_view"

local sweep = {}

--- Jobs at once when `--parallel` is not given.
sweep.DEFAULT_PARALLEL = 2

--- Parse the `--grid` texts: `key=v1,v2,…` each.
-- @tparam {string,...} list
-- @treturn {table,...} `{ key =, texts = { "v1", "v2", … } }` in the order given
-- @return nil, message on a malformed or repeated key
function sweep.parse_grid(list)
  local grid, seen = {}, {}
  for _, text in ipairs(list or {}) do
    local key, values = text:match("^([^=]+)=(.*)$")
    if not key then return nil, ("--grid wants key=v1,v2,…, got '%s'"):format(text) end
    if seen[key] then return nil, ("--grid %s given twice"):format(key) end
    seen[key] = true
    local texts = {}
    for v in (values .. ","):gmatch("([^,]*),") do
      if v == "" then return nil, ("--grid %s: an empty value in '%s'"):format(key, values) end
      texts[#texts + 1] = v
    end
    grid[#grid + 1] = { key = key, texts = texts }
  end
  if #grid == 0 then return nil, "missing --grid (e.g. --grid learningRate=0.0005,0.005)" end
  return grid
end

--- Every combination of the grid, the first key varying slowest.
-- @tparam {table,...} grid from `parse_grid`
-- @treturn {table,...} each a list of `{ key =, text = }`
function sweep.combinations(grid)
  local list = { {} }
  for _, axis in ipairs(grid) do
    local next_list = {}
    for _, partial in ipairs(list) do
      for _, text in ipairs(axis.texts) do
        local combo = table.move(partial, 1, #partial, 1, {})
        combo[#combo + 1] = { key = axis.key, text = text }
        next_list[#next_list + 1] = combo
      end
    end
    list = next_list
  end
  return list
end

local function deep_copy(v)
  if type(v) ~= "table" or v == ei.null then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return t
end

-- "learningRate=0.005 batchSize=16"
local function label_of(combo)
  local parts = {}
  for i, a in ipairs(combo) do parts[i] = a.key .. "=" .. a.text end
  return table.concat(parts, " ")
end

--- The runs of a sweep with their request bodies, all checked before any is sent.
-- @tparam table base the parameters every run shares (`--params`, without `--set`)
-- @tparam {table,...} sets the `--set` assignments `{ key =, text = }`
-- @tparam {table,...} grid from `parse_grid`
-- @tparam[opt] boolean allow_unknown send fields the bundled schema does not know (`--allow-unknown`)
-- @treturn {table,...} runs `{ index =, combo =, label =, params = }`
-- @return nil, message naming the combination and the field
function sweep.plan(base, sets, grid, allow_unknown)
  local runs = {}
  for i, combo in ipairs(sweep.combinations(grid)) do
    local assignments = table.move(sets, 1, #sets, 1, {})
    table.move(combo, 1, #combo, #assignments + 1, assignments)
    local params, err = train.apply_sets(deep_copy(base), assignments, allow_unknown)
    if not params then return nil, ("invalid parameters for %s: %s"):format(label_of(combo), err) end
    runs[i] = { index = i, combo = combo, label = label_of(combo), params = params }
  end
  return runs
end

-- The validation accuracy and loss of a training: those of its last epoch. The
-- learn block's metadata (result.accuracy) is not used first: with several jobs of
-- one learn block it holds whichever model finished last.
local function validation_of(result)
  local last = result.epochs[#result.epochs] or {}
  local acc = type(last.val_accuracy) == "number" and last.val_accuracy or result.accuracy
  local loss = type(last.val_loss) == "number" and last.val_loss or result.loss
  return acc, loss
end

-- Train one run, telling the view as it goes; the run gets `result` or `error`.
local function train_run(client, project, learn_id, run, view)
  run.start = core.monotime()
  view.started(run)
  local result, err, code = pipeline.train(client, project, learn_id, run.params, {
    on_start = function(id)
      run.job = id
      view.job(run)
    end,
    on_event = function(ev) view.event(run, ev) end,
  })
  run.seconds = core.monotime() - run.start
  if result then
    run.result = result
    run.job = result.job
    run.accuracy, run.loss = validation_of(result)
  else
    run.error, run.code = err, code
  end
  view.finished(run)
end

-- Run the sweep: `parallel` workers, each taking the next run in turn, over one
-- poll loop (ei.run), so no job waits on another's events.
local function run_all(client, project, learn_id, runs, parallel, view)
  local next_index = 0
  local function worker()
    while true do
      next_index = next_index + 1
      local run = runs[next_index]
      if not run then return end
      train_run(client, project, learn_id, run, view)
    end
  end
  local workers = {}
  for i = 1, math.min(parallel, #runs) do workers[i] = worker end
  ei.run(table.unpack(workers))
end

local OPTIONS = {
  project = "value", learn = "value", set = "list", params = "value", grid = "list",
  parallel = "integer", json = "flag", plot = "value", ["allow-unknown"] = "flag",
}

-- The checked plan from the options: runs, or nil and the message of bad usage.
local function plan_of(opts)
  if not opts.learn or opts.learn == "" then return nil, "missing --learn" end
  local parallel = opts.parallel or sweep.DEFAULT_PARALLEL
  if parallel < 1 then return nil, "--parallel wants at least 1" end
  local grid, gerr = sweep.parse_grid(opts.grid)
  if not grid then return nil, gerr end
  local sets, serr = train.split_sets(opts.set)
  if not sets then return nil, serr.msg end
  for _, s in ipairs(sets) do
    for _, axis in ipairs(grid) do
      if s.key == axis.key then return nil, ("%s is both set and swept"):format(s.key) end
    end
  end
  local base = {}
  if opts.params then
    local t, err = train.load_params(opts.params)
    if not t then return nil, "--params " .. err end
    base = t
  end
  return sweep.plan(base, sets, grid, opts["allow-unknown"])
end

-- Ctrl-C during the sweep: the jobs go on in Studio; say which.
local function interrupted(err, runs, ctx)
  if not tostring(err):find("interrupted!", 1, true) then error(err, 0) end
  local going = {}
  for _, run in ipairs(runs) do
    if run.job and not run.result and not run.error then going[#going + 1] = tostring(run.job) end
  end
  ctx.stderr:write("\nei-train: interrupted", #going > 0 and ("; jobs " .. table.concat(going, ", ") .. " go on in Studio") or "", "\n")
  return cli.EXIT.failed
end

-- 0 when a run trained; else 1 when a job ran and failed; else (no job could be
-- started or followed) the exit code of the first run's error: 2 for invalid
-- parameters, 3 for the service.
local function exit_code(runs)
  local ran = false
  for _, r in ipairs(runs) do
    if r.result and r.result.success then return cli.EXIT.ok end
    ran = ran or r.result ~= nil
  end
  if ran then return cli.EXIT.failed end
  return runs[1].code == "EINVAL" and cli.EXIT.usage or cli.EXIT.service
end

local function run(opts, ctx)
  local runs, err = plan_of(opts)
  if not runs then
    ctx.stderr:write("ei-train: ", err, "\n")
    return cli.EXIT.usage
  end
  return cli.with_client(opts, ctx, function(client, project)
    local learn_id, lerr, lcode = train.resolve_learn(client, project, opts.learn)
    if not learn_id then return cli.fail(ctx, lerr, lcode) end
    local width_of = follow.width_of(opts, ctx)
    local view = sweep_view.new(opts.json and "json" or width_of and "live" or "plain", ctx.stdout, runs, width_of)
    local ok, result = pcall(run_all, client, project, learn_id, runs, opts.parallel or sweep.DEFAULT_PARALLEL, view)
    if not ok then return interrupted(result, runs, ctx) end
    view.summary()
    local rc = exit_code(runs)
    if opts.plot then
      local title = ("Sweep of %d runs, learn block %d: validation per epoch"):format(#runs, learn_id)
      rc = cli.write_plot(ctx, rc, opts.plot, require("ei.plot").compare(sweep_view.plot_runs(runs), { title = title }))
    end
    return rc
  end)
end

-- The command, for ei.cli.COMMANDS.
sweep.sweep = {
  summary = "train every combination of a grid of parameters and rank the runs",
  usage = "ei-train sweep --project P --learn L --grid key=v1,v2... [--set key=value]...\n"
    .. "                      [--params FILE] [--parallel N] [--json] [--plot FILE.svg]",
  options = OPTIONS,
  help = [[
  --project P        the project id (integer; default EI_PROJECT_ID)
  --learn L          the learn block: its id, or its name in the impulse
  --grid key=v1,v2   the values of one parameter to try (repeatable); every
                     combination of all grids is trained, the first grid
                     varying slowest. Keys and values as for --set.
  --set key=value    a parameter every run shares (repeatable; as for train)
  --params FILE      parameters every run shares, from JSON or Lua; --set and
                     --grid apply on top
  --parallel N       at most N jobs at once (default 2)
  --json             print one JSON object per line: each job's events tagged
                     with its run, job id and grid values, then a summary
  --plot FILE.svg    draw every run's validation accuracy and loss per epoch
  --allow-unknown    send fields this version's schema does not know; each is
                     named in a warning, known fields are still checked
  -h, --help         show this help

Every combination is checked against the API's SetKerasParameterRequest
schema before any job starts. On a terminal one line per running job shows its
grid values, epoch and latest metrics; otherwise one line per started and per
finished run. Then a table ranks the runs by validation accuracy (best first,
marked *), with validation loss, time taken and job id; failed runs come last
with their reason. Exit status 0 when at least one run trained, 1 when all
failed.
]],
  run = run,
}

return sweep
