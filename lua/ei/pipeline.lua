--- Pipeline helpers: find a learn block, generate features, train and report,
-- then test, check the fit on a device and deploy.
-- Small building blocks over `ei.Client` for scripts that train one or many
-- learn blocks, compare the results and ship the best.
-- @module ei.pipeline
-- @usage
-- local ei = require "ei"
-- local pipeline = require "ei.pipeline"
-- local client = assert(ei.new())
-- local block = assert(pipeline.find_learn_block(client, project_id))
-- local result = assert(pipeline.train(client, project_id, block.id, { trainingCycles = 30 }))
-- pipeline.report(result)
-- local t = assert(pipeline.test(client, project_id))
-- local fit = assert(pipeline.fit(client, project_id, block.id, { ram = 64 * 1024, rom = 256 * 1024 }))
-- local d = assert(pipeline.deploy(client, project_id, { output = "model.zip" }))
local ei = require "ei"

local pipeline = {}

local function check_client(client, fname)
  if type(client) ~= "table" or type(client.call) ~= "function" then
    error(("bad argument #1 to '%s' (ei.Client expected)"):format(fname), 3)
  end
end

local function check_id(v, n, fname)
  if math.type(v) ~= "integer" then
    error(("bad argument #%d to '%s' (integer expected, got %s)"):format(n, fname, math.type(v) or type(v)), 3)
  end
end

--- The client and project that the environment names, as scripts take them.
-- `EI_PROJECT_ID` (required) and `EI_LEARN_ID` (optional) give the ids;
-- `EI_API_KEY` and `EI_HOST` reach `ei.new` as usual.
-- @tparam[opt] table opts options for `ei.new` (e.g. `wait`)
-- @treturn ei.Client client
-- @treturn integer project_id
-- @treturn integer|nil learn_id, when `EI_LEARN_ID` is set
-- @return nil, message when `EI_PROJECT_ID` is missing (bad options raise, as in `ei.new`)
-- @usage local client, pid, lid = assert(pipeline.from_env())
function pipeline.from_env(opts)
  local function id(name) return math.tointeger(tonumber(os.getenv(name) or "")) end
  local project_id = id "EI_PROJECT_ID"
  if not project_id then return nil, "set EI_PROJECT_ID (and EI_API_KEY) first" end
  return ei.new(opts), project_id, id "EI_LEARN_ID"
end

--- Find a learn block of the project's impulse.
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam[opt] string name_or_type the block's name (e.g. "Classifier") or
--  type (e.g. "keras"); default: the first block whose type starts with `keras`
-- @treturn table the learn block as the impulse lists it (`id`, `name`, `type`,
--  `title`, …) with `dsp`, the ids of the DSP blocks it reads from
-- @return nil, message, code (`EINVAL` when no block matches)
-- @usage local block = assert(pipeline.find_learn_block(client, pid, "Classifier 2"))
function pipeline.find_learn_block(client, project_id, name_or_type)
  check_client(client, "find_learn_block")
  check_id(project_id, 2, "find_learn_block")
  if name_or_type ~= nil and type(name_or_type) ~= "string" then
    error("bad argument #3 to 'find_learn_block' (string expected)", 2)
  end
  local res, err, code = client:impulse(project_id)
  if not res then return nil, err, code end
  local impulse = type(res.impulse) == "table" and res.impulse or {}
  local blocks = type(impulse.learnBlocks) == "table" and impulse.learnBlocks or {}
  local found
  if name_or_type then
    for _, b in ipairs(blocks) do
      if b.name == name_or_type then found = b break end
    end
    if not found then
      for _, b in ipairs(blocks) do
        if b.type == name_or_type then found = b break end
      end
    end
  else
    for _, b in ipairs(blocks) do
      if type(b.type) == "string" and b.type:match("^keras") then found = b break end
    end
  end
  if not found then
    return nil, ("no learn block %s in the impulse of project %d"):format(
      name_or_type and ("%q"):format(name_or_type) or "of a keras type", project_id), "EINVAL"
  end
  local block = {}
  for k, v in pairs(found) do block[k] = v end
  block.id = math.tointeger(block.id) or block.id
  local dsp = {}
  for i, id in ipairs(type(found.dsp) == "table" and found.dsp or {}) do dsp[i] = math.tointeger(id) or id end
  block.dsp = dsp
  return block
end

--- Generate the features of a DSP block and wait until the job ends.
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam integer dsp_id
-- @treturn boolean true when the job succeeded
-- @return false, reason when the job ran and failed
-- @return nil, message, code when it could not be started or followed
-- @usage assert(pipeline.generate_features(client, pid, block.dsp[1]))
function pipeline.generate_features(client, project_id, dsp_id)
  check_client(client, "generate_features")
  check_id(project_id, 2, "generate_features")
  check_id(dsp_id, 3, "generate_features")
  local job, err, code = client:generate_features(project_id, dsp_id)
  if not job then return nil, err, code end
  local ok, why, wcode = job:wait()
  job:close()
  return ok, why, wcode
end

-- The validation metrics of the metadata to report: float32 when there, else the first.
local function validation_metrics(meta)
  local list = type(meta) == "table" and meta.modelValidationMetrics
  if type(list) ~= "table" then return nil end
  for _, m in ipairs(list) do
    if m.type == "float32" then return m end
  end
  return list[1]
end

-- Follow a job to its end, handing each event to on_event, and close it.
-- true | false, reason (the last ERROR line, else what job:wait says) | nil, err, code
local function follow(job, on_event)
  local error_line
  while true do
    local ev, err, code = job:receive()
    if not ev then
      if err then
        job:close()
        return nil, err, code
      end
      break
    end
    if ev.type == "log" and (ev.line:find("ERROR", 1, true) or ev.line:find("[Ee]rror:")) then error_line = ev.line end
    if on_event then on_event(ev) end
    if ev.type == "finished" then break end
  end
  local ok, why, code = job:wait()
  job:close()
  if ok == nil then return nil, why, code end
  if ok then return true end
  return false, error_line or why
end

--- Train a Keras learn block, follow it live and fetch its metadata.
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam integer learn_id
-- @tparam[opt] table params a `SetKerasParameterRequest` table
-- @tparam[opt] table opts `on_event` (function(ev), called with every event),
--  `on_start` (function(job_id), called once the job is started, before any event)
-- @treturn table `{ job = id, success = boolean, reason = string|nil,
--  epochs = { metrics events, in order }, accuracy = number|nil,
--  loss = number|nil, metadata = getKerasMetadata response|nil,
--  project_id =, learn_id =, params = }`; `accuracy` and `loss` are the
--  validation ones of the trained model
-- @return nil, message, code when the job could not be started or followed
-- @usage local r = assert(pipeline.train(client, pid, lid, { trainingCycles = 10 }))
-- print(r.success, r.accuracy)
function pipeline.train(client, project_id, learn_id, params, opts)
  check_client(client, "train")
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #5 to 'train' (table expected)", 2) end
  local on_event = opts and opts.on_event
  local job, err, code = client:train_keras(project_id, learn_id, params)
  if not job then return nil, err, code end
  if opts and opts.on_start then opts.on_start(job.id) end
  local result = {
    job = job.id, project_id = project_id, learn_id = learn_id, params = params,
    success = false, epochs = {},
  }
  local ok, why, fcode = follow(job, function(ev)
    if on_event then on_event(ev) end
    if ev.type == "metrics" then result.epochs[#result.epochs + 1] = ev end
  end)
  if ok == nil then return nil, why, fcode end
  result.success = ok
  if not ok then result.reason = why end
  local last = result.epochs[#result.epochs]
  if result.success then
    local meta = client:keras_metadata(project_id, learn_id)
    result.metadata = meta
    local m = validation_metrics(meta)
    if m then result.accuracy, result.loss = m.accuracy, m.loss end
  end
  if last then
    result.accuracy = result.accuracy or last.val_accuracy or last.accuracy
    result.loss = result.loss or last.val_loss or last.loss
  end
  return result
end

--- Train several learn blocks concurrently.
-- Each training runs in its own coroutine under `ei.run`; the jobs are
-- followed side by side over one poll loop.
-- @tparam ei.Client client
-- @tparam {table,...} list entries `{ project_id, learn_id, params }` (or
--  with the keys `project_id`, `learn_id`, `params`)
-- @treturn {table,...} one result per entry, in order: the table
--  `pipeline.train` returns, or `{ success = false, error = message, code = code }`
--  when the job could not be started or followed
-- @usage local results = pipeline.train_all(client, { { pid, 5, p }, { pid, 7, p } })
function pipeline.train_all(client, list)
  check_client(client, "train_all")
  if type(list) ~= "table" then error("bad argument #2 to 'train_all' (table expected)", 2) end
  local fns = {}
  for i, e in ipairs(list) do
    if type(e) ~= "table" then error(("bad argument #2 to 'train_all' (entry %d is not a table)"):format(i), 2) end
    local pid, lid, params = e.project_id or e[1], e.learn_id or e[2], e.params or e[3]
    check_id(pid, 2, "train_all")
    check_id(lid, 2, "train_all")
    fns[i] = function()
      local r, err, code = pipeline.train(client, pid, lid, params)
      if not r then
        return { project_id = pid, learn_id = lid, params = params, success = false, error = err, code = code, epochs = {} }
      end
      return r
    end
  end
  if #fns == 0 then return {} end
  return { ei.run(table.unpack(fns)) }
end

local function fmt(x, pattern)
  if type(x) ~= "number" then return "-" end
  return (pattern or "%.4f"):format(x)
end

--- Print a result of `pipeline.train`: the per-epoch metrics, the final
-- accuracy and loss and, when the metadata has one, the confusion matrix.
-- @tparam table result
-- @param[opt] out a file (default `io.stdout`) or a function(string) taking each line
-- @usage pipeline.report(result)
function pipeline.report(result, out)
  if type(result) ~= "table" then error("bad argument #1 to 'report' (table expected)", 2) end
  local emit
  if out == nil then out = io.stdout end
  if type(out) == "function" then
    emit = out
  elseif io.type(out) == "file" or (type(out) == "table" and type(out.write) == "function") then
    emit = function(line) out:write(line, "\n") end
  else
    error("bad argument #2 to 'report' (file or function expected)", 2)
  end
  emit(("job %s (learn block %s): %s"):format(tostring(result.job or "-"), tostring(result.learn_id or "-"),
    result.success and "succeeded" or ("failed: " .. tostring(result.reason or result.error or "unknown"))))
  if result.epochs and #result.epochs > 0 then
    emit(("%6s  %8s  %8s  %8s  %8s"):format("epoch", "loss", "accuracy", "val_loss", "val_acc"))
    for _, ev in ipairs(result.epochs) do
      emit(("%6s  %8s  %8s  %8s  %8s"):format(tostring(ev.epoch), fmt(ev.loss), fmt(ev.accuracy),
        fmt(ev.val_loss), fmt(ev.val_accuracy)))
    end
  end
  if result.accuracy or result.loss then
    emit(("accuracy %s  loss %s"):format(
      type(result.accuracy) == "number" and ("%.2f%%"):format(100 * result.accuracy) or "-", fmt(result.loss)))
  end
  local m = validation_metrics(result.metadata)
  local matrix = m and m.confusionMatrix
  if type(matrix) == "table" and #matrix > 0 then
    local names = type(result.metadata.classNames) == "table" and result.metadata.classNames or {}
    local width = 8
    for i = 1, #matrix do
      local n = tostring(names[i] or i)
      if #n + 1 > width then width = #n + 1 end
    end
    emit("confusion matrix (%, rows: true class, columns: predicted)")
    local head = { (" "):rep(width) }
    for i = 1, #matrix do head[#head + 1] = ("%" .. width .. "s"):format(tostring(names[i] or i)) end
    emit(table.concat(head))
    for i, row in ipairs(matrix) do
      local cells = { ("%-" .. width .. "s"):format(tostring(names[i] or i)) }
      for j = 1, #matrix do cells[#cells + 1] = ("%" .. width .. "s"):format(fmt(row[j], "%.2f")) end
      emit(table.concat(cells))
    end
  end
end

-- The steps after training: test, fit, deploy.

local function check_opts(opts, n, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #%d to '%s' (table expected)"):format(n, fname), 3)
  end
  return opts or {}
end

-- What a step returns when its job did not succeed: `result` with its reason
-- when the job ran and failed, else nil, message, code.
local function finished_badly(result, ok, why, code)
  if ok == nil then return nil, why, code end
  result.reason = why
  return result
end

-- Start a job with operation `op`: the ei.Job, the response | nil, err, code.
local function start_job(client, project_id, op, args)
  args.projectId = project_id
  local res, err, code = client:call(op, args)
  if not res then return nil, err, code end
  if math.type(res.id) ~= "integer" then return nil, op .. ": no job id in the response", "EPROTO" end
  return client:job(project_id, res.id), res
end

-- The result of one model variant from a getClassifyJobResult response.
local function test_result(res, variant)
  local acc = type(res.accuracy) == "table" and res.accuracy or {}
  local total = type(acc.totalSummary) == "table" and acc.totalSummary or {}
  local good, bad = tonumber(total.good), tonumber(total.bad)
  local accuracy = tonumber(acc.accuracyScore)
  if not accuracy and good and bad and good + bad > 0 then accuracy = good / (good + bad) end
  return {
    variant = variant, accuracy = accuracy, good = good, bad = bad,
    labels = type(acc.allLabels) == "table" and acc.allLabels or {},
    confusion = type(acc.confusionMatrixValues) == "table" and acc.confusionMatrixValues or {},
  }
end

--- Classify the test set (`startClassifyJob`), follow the job live and fetch
-- the results of each model variant (`getClassifyJobResult`).
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam[opt] table opts `variants` (model variants, default `{ "int8" }`),
--  `on_event` (function(ev), called with every event of the job)
-- @treturn table `{ success = true, job = id, variant = first variant, accuracy = 0..1,
--  good =, bad = (samples), labels = { "idle", …, "uncertain" },
--  confusion = { [actual] = { [predicted] = percent } },
--  variants = { [variant] = { variant, accuracy, good, bad, labels, confusion } } }`;
--  when the job ran and failed: `{ success = false, job = id, variant =, reason = }`
-- @return nil, message, code when the job could not be started or followed, or
--  its results fetched
-- @usage local t = assert(pipeline.test(client, pid, { variants = { "int8", "float32" } }))
-- print(t.accuracy, t.variants.float32.accuracy)
function pipeline.test(client, project_id, opts)
  check_client(client, "test")
  check_id(project_id, 2, "test")
  opts = check_opts(opts, 3, "test")
  local variants = opts.variants or { "int8" }
  if type(variants) ~= "table" or #variants == 0 then error("bad argument #3 to 'test' (variants must be a non-empty list)", 2) end
  local job, err, code = start_job(client, project_id, "startClassifyJob", { body = { modelVariants = variants } })
  if not job then return nil, err, code end
  local result = { job = job.id, variant = variants[1], success = false }
  local ok, why, fcode = follow(job, opts.on_event)
  if not ok then return finished_badly(result, ok, why, fcode) end
  result.variants = {}
  for _, variant in ipairs(variants) do
    local res, rerr, rcode = client:call("getClassifyJobResult", { projectId = project_id, variant = variant })
    if not res then return nil, rerr, rcode end
    result.variants[variant] = test_result(res, variant)
  end
  for k, v in pairs(result.variants[variants[1]]) do result[k] = v end
  result.success = true
  return result
end

-- Engine names as getKerasMetadata keys them, from theirs or the deployment's.
local ENGINE_KEYS = {
  eon = "eon", tflite = "tflite", eon_ram_optimized = "eon_ram_optimized",
  ["tflite-eon"] = "eon", ["tflite-eon-ram-optimized"] = "eon_ram_optimized",
}
local LIMITS = { "ram", "rom", "latency_ms" }

-- The figures of one device of a variant's onDevicePerformance list: the one named,
-- else the project's (isDefault), else the first.
local function pick_device(list, name)
  for _, d in ipairs(list) do
    if (name and d.mcu == name) or (not name and d.isDefault) then return d end
  end
  if not name then return list[1] end
  return nil
end

local function names_of(list, key)
  local out = {}
  for i, v in ipairs(list) do out[i] = tostring(v[key]) end
  return table.concat(out, ", ")
end

-- The ids of the DSP blocks a learn block reads from, as the impulse lists them.
local function dsp_ids_of(client, project_id, learn_id)
  local res, err, code = client:impulse(project_id)
  if not res then return nil, err, code end
  for _, b in ipairs(type(res.impulse) == "table" and res.impulse.learnBlocks or {}) do
    if math.tointeger(b.id) == learn_id then return type(b.dsp) == "table" and b.dsp or {} end
  end
  return nil, ("no learn block %d in the impulse of project %d"):format(learn_id, project_id), "EINVAL"
end

-- RAM and latency of the DSP blocks on a device (getPerformanceAllVariants):
-- their peak RAM and summed latency; nil when none reports the device.
local function dsp_figures(client, project_id, dsp_ids, mcu)
  local dsp
  for _, id in ipairs(dsp_ids) do
    local res, err, code = client:call("getPerformanceAllVariants", { projectId = project_id, dspId = math.tointeger(id) or id })
    if not res then return nil, err, code end
    for _, p in ipairs(type(res.performance) == "table" and res.performance or {}) do
      if p.mcu == mcu and type(p.ram) == "number" and type(p.latency) == "number" then
        dsp = dsp or { ram = 0, latency_ms = 0 }
        dsp.ram = math.max(dsp.ram, p.ram)
        dsp.latency_ms = dsp.latency_ms + p.latency
      end
    end
  end
  return dsp or false
end

-- The device and the model's { ram, rom, latency_ms } on it, from getKerasMetadata
-- | nil, message, "EINVAL" when the variant, device or engine has no figures.
local function model_figures(meta, learn_id, variant, engine, device_name)
  local metrics
  for _, m in ipairs(type(meta.modelValidationMetrics) == "table" and meta.modelValidationMetrics or {}) do
    if m.type == variant then metrics = m end
  end
  if not metrics then
    return nil, ("learn block %d has no trained %s model (train it first)"):format(learn_id, variant), "EINVAL"
  end
  local list = type(metrics.onDevicePerformance) == "table" and metrics.onDevicePerformance or {}
  local device = pick_device(list, device_name)
  if not device then
    return nil, ("no performance figures for device %q (known: %s)"):format(tostring(device_name), names_of(list, "mcu")), "EINVAL"
  end
  local figures = device.hasPerformance ~= false and device[engine]
  if type(figures) ~= "table" or type(figures.ramRequired) ~= "number" or type(figures.romRequired) ~= "number"
    or type(device.latency) ~= "number" then
    return nil, ("no %s figures of the %s model on %s%s"):format(engine, variant, tostring(device.mcu),
      device.profilingError and (": " .. tostring(device.profilingError)) or ""), "EINVAL"
  end
  return device, { ram = figures.ramRequired, rom = figures.romRequired, latency_ms = device.latency }
end

--- On-device RAM, ROM and latency of a trained learn block (`getKerasMetadata`)
-- plus its DSP blocks (`getPerformanceAllVariants`), checked against a budget.
-- The totals are the model's ROM, the larger RAM of model and DSP (they run one
-- after the other) and the sum of their latencies.
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam integer learn_id
-- @tparam[opt] table opts `variant` ("int8" default, or "float32"), `engine`
--  ("eon" default, "tflite", "eon_ram_optimized"; the deployment names
--  "tflite-eon", "tflite-eon-ram-optimized" too), `device` (an `mcu` of the
--  metadata, default the project's latency device), `dsp` (false: leave the DSP
--  blocks out), and the budget: `ram`, `rom` (bytes), `latency_ms`
-- @treturn table `{ variant, engine, device, device_name, ram, rom, latency_ms,
--  model = { ram, rom, latency_ms }, dsp = { ram, latency_ms } | nil,
--  fits = boolean, over = { "ram", … } }` (`over` in the order ram, rom, latency_ms)
-- @return nil, message, code (`EINVAL` when the block has no trained model of
--  that variant or the device is unknown)
-- @usage local fit = assert(pipeline.fit(client, pid, lid, { ram = 32768, rom = 131072, latency_ms = 20 }))
-- if not fit.fits then print("over budget: " .. table.concat(fit.over, ", ")) end
function pipeline.fit(client, project_id, learn_id, opts)
  check_client(client, "fit")
  check_id(project_id, 2, "fit")
  check_id(learn_id, 3, "fit")
  opts = check_opts(opts, 4, "fit")
  local variant = opts.variant or "int8"
  local engine = ENGINE_KEYS[opts.engine or "eon"]
  if not engine then error(("bad argument #4 to 'fit' (unknown engine %q)"):format(tostring(opts.engine)), 2) end
  for _, k in ipairs(LIMITS) do
    if opts[k] ~= nil and type(opts[k]) ~= "number" then error(("bad argument #4 to 'fit' (%s must be a number)"):format(k), 2) end
  end
  local meta, err, code = client:keras_metadata(project_id, learn_id)
  if not meta then return nil, err, code end
  local device, model, merr = model_figures(meta, learn_id, variant, engine, opts.device)
  if not device then return nil, model, merr end
  local result = {
    variant = variant, engine = opts.engine or "eon", device = device.mcu, device_name = device.name,
    model = model, ram = model.ram, rom = model.rom, latency_ms = model.latency_ms,
  }
  if opts.dsp ~= false then
    local dsp_ids, ierr, icode = dsp_ids_of(client, project_id, learn_id)
    if not dsp_ids then return nil, ierr, icode end
    local dsp, derr, dcode = dsp_figures(client, project_id, dsp_ids, device.mcu)
    if dsp == nil then return nil, derr, dcode end
    if dsp then
      result.dsp = dsp
      result.ram = math.max(model.ram, dsp.ram)
      result.latency_ms = model.latency_ms + dsp.latency_ms
    end
  end
  result.over = {}
  for _, k in ipairs(LIMITS) do
    if opts[k] and result[k] > opts[k] then result.over[#result.over + 1] = k end
  end
  result.fits = #result.over == 0
  return result
end

-- Write `data` to `path` through a temporary file beside it, so a reader never
-- sees half an archive.
-- Download a built version into `path`, streamed to disk: size, sha256 | nil, err, code.
local function download(client, project_id, version, path)
  local saved, err, code = client:call("downloadHistoricDeployment",
    { projectId = project_id, deploymentVersion = version }, { output = path })
  if not saved then return nil, err, code end
  return saved.size, saved.sha256
end

--- Build the impulse for a device (`buildOnDeviceModelJob`), follow the job live
-- and download the archive it made (`downloadHistoricDeployment`) into a file.
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam[opt] table opts `type` (the deployment type, default "zip": a C++
--  library), `engine` (default "tflite-eon"), `model_type` ("int8", "float32";
--  default the learn block's setting), `parameters` (the target's custom
--  parameters, strings), `output` (the file; default
--  "deployment-<type>-v<version>.zip"), `on_event` (function(ev))
-- @treturn table `{ success = true, job = id, version = n, type =, engine =, model_type =,
--  path = "model.zip", size = bytes, sha256 = "hex" }`; when the job ran and
--  failed: `{ success = false, job = id, version = n, reason = }`
-- @return nil, message, code when the build could not be started or followed,
--  or the archive downloaded or written
-- @usage local d = assert(pipeline.deploy(client, pid, { engine = "tflite-eon", model_type = "int8", output = "model.zip" }))
-- print(d.path, d.size, d.sha256)
function pipeline.deploy(client, project_id, opts)
  check_client(client, "deploy")
  check_id(project_id, 2, "deploy")
  opts = check_opts(opts, 3, "deploy")
  for _, k in ipairs { "type", "engine", "model_type", "output" } do
    if opts[k] ~= nil and type(opts[k]) ~= "string" then error(("bad argument #3 to 'deploy' (%s must be a string)"):format(k), 2) end
  end
  local deploy_type, engine = opts.type or "zip", opts.engine or "tflite-eon"
  local job, res_or_err, code = start_job(client, project_id, "buildOnDeviceModelJob", {
    type = deploy_type, body = { engine = engine, modelType = opts.model_type, parameters = opts.parameters },
  })
  if not job then return nil, res_or_err, code end
  local version = math.tointeger(res_or_err.deploymentVersion)
  if not version then
    job:close()
    return nil, "buildOnDeviceModelJob: no deploymentVersion in the response", "EPROTO"
  end
  local result = { job = job.id, version = version, type = deploy_type, engine = engine, model_type = opts.model_type, success = false }
  local ok, why, fcode = follow(job, opts.on_event)
  if not ok then return finished_badly(result, ok, why, fcode) end
  local path = opts.output or ("deployment-%s-v%d.zip"):format(deploy_type, version)
  local size, sha_or_err, dcode = download(client, project_id, version, path)
  if not size then return nil, sha_or_err, dcode end
  result.path, result.size, result.sha256, result.success = path, size, sha_or_err, true
  return result
end

return pipeline
