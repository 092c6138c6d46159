--- Pipeline helpers: find a learn block, generate features, train and report.
-- Small building blocks over `ei.Client` for scripts that train one or many
-- learn blocks and compare the results.
-- @module ei.pipeline
-- @usage
-- local ei = require "ei"
-- local pipeline = require "ei.pipeline"
-- local client = assert(ei.new())
-- local block = assert(pipeline.find_learn_block(client, project_id))
-- local result = assert(pipeline.train(client, project_id, block.id, { trainingCycles = 30 }))
-- pipeline.report(result)
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
-- @return nil, message when `EI_PROJECT_ID` is missing or the client cannot be made
-- @usage local client, pid, lid = assert(pipeline.from_env())
function pipeline.from_env(opts)
  local function id(name) return math.tointeger(tonumber(os.getenv(name) or "")) end
  local project_id = id "EI_PROJECT_ID"
  if not project_id then return nil, "set EI_PROJECT_ID (and EI_API_KEY) first" end
  local client, err = ei.new(opts)
  if not client then return nil, err end
  return client, project_id, id "EI_LEARN_ID"
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

--- Train a Keras learn block, follow it live and fetch its metadata.
-- @tparam ei.Client client
-- @tparam integer project_id
-- @tparam integer learn_id
-- @tparam[opt] table params a `SetKerasParameterRequest` table
-- @tparam[opt] table opts `on_event` (function(ev), called with every event)
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
  local result = {
    job = job.id, project_id = project_id, learn_id = learn_id, params = params,
    success = false, epochs = {},
  }
  while true do
    local ev, rerr, rcode = job:receive()
    if not ev then
      if rerr then
        job:close()
        return nil, rerr, rcode
      end
      break
    end
    if on_event then on_event(ev) end
    if ev.type == "metrics" then
      result.epochs[#result.epochs + 1] = ev
    elseif ev.type == "finished" then
      break
    end
  end
  local ok, why = job:wait()
  job:close()
  result.success = ok == true
  if not result.success then result.reason = why or "the job failed" end
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

return pipeline
