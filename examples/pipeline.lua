-- From training to a deployable model: generate features, train, test both model
-- variants on the test set, check each against a device budget, and deploy the most
-- accurate variant that fits as a C++ library ZIP.
--
--   EI_API_KEY=ei_… EI_PROJECT_ID=12345 [EI_LEARN_ID=…] [EI_HOST=…] [EI_OUTPUT=model.zip] \
--     lua5.4 examples/pipeline.lua
local ei = require "ei"
local pipeline = require "ei.pipeline"

-- The device budget: what the firmware leaves for the impulse.
local BUDGET = { ram = 8 * 1024, rom = 24 * 1024, latency_ms = 50 }
local PARAMS = {
  trainingCycles = 30, learningRate = 0.005, batchSize = 32,
  visualLayers = { { type = "dense", neurons = 64 }, { type = "dense", neurons = 32 } },
}
local VARIANTS = { "int8", "float32" }

local client, project_id, env_learn_id = pipeline.from_env()
if not client then
  io.stderr:write(project_id, "\n")
  os.exit(2)
end

local function check(v, err)
  if v then return v end
  io.stderr:write("pipeline: ", tostring(err), "\n")
  os.exit(3)
end

local function kb(bytes) return ("%.1f KB"):format(bytes / 1024) end

local function step(title) io.write(title, " … ") io.flush() end

-- 1. The learn block (EI_LEARN_ID, else the first Keras one) and the features it reads.
local function learn_block()
  if not env_learn_id then return check(pipeline.find_learn_block(client, project_id)) end
  for _, b in ipairs(check(client:impulse(project_id)).impulse.learnBlocks or {}) do
    if math.tointeger(b.id) == env_learn_id then return { id = env_learn_id, name = b.name, dsp = b.dsp or {} } end
  end
  return check(nil, ("no learn block %d in the impulse of project %d"):format(env_learn_id, project_id))
end
local block = learn_block()
print(("Project %d, learn block %d (%s)"):format(project_id, block.id, block.name or "?"))
for _, dsp_id in ipairs(block.dsp) do
  step(("Generating features of DSP block %d"):format(math.tointeger(dsp_id) or dsp_id))
  local ok, why = pipeline.generate_features(client, project_id, math.tointeger(dsp_id) or dsp_id)
  if not ok then print("failed: " .. tostring(why)) os.exit(1) end
  print("done")
end

-- 2. Train, following the job live.
print(("Training %d epochs"):format(PARAMS.trainingCycles))
local trained = check(pipeline.train(client, project_id, block.id, PARAMS, { on_event = function(ev)
  if ev.type == "metrics" and (ev.epoch % 10 == 0 or ev.epoch == 1) then
    print(("  epoch %3d  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f"):format(
      ev.epoch, ev.loss or 0 / 0, ev.accuracy or 0 / 0, ev.val_loss or 0 / 0, ev.val_accuracy or 0 / 0))
  end
end }))
if not trained.success then
  print("Training failed: " .. tostring(trained.reason))
  os.exit(1)
end
print(("Validation accuracy %.2f%%"):format(100 * trained.accuracy))

-- 3. Test both variants on the test set (one classify job), and 4. their fit on the
-- device, side by side under ei.run.
print()
step("Testing " .. table.concat(VARIANTS, " and ") .. " on the test set")
local tested, fit_int8, fit_float32 = ei.run(
  function() return check(pipeline.test(client, project_id, { variants = VARIANTS })) end,
  function() return check(pipeline.fit(client, project_id, block.id, { variant = "int8", ram = BUDGET.ram, rom = BUDGET.rom, latency_ms = BUDGET.latency_ms })) end,
  function() return check(pipeline.fit(client, project_id, block.id, { variant = "float32", ram = BUDGET.ram, rom = BUDGET.rom, latency_ms = BUDGET.latency_ms })) end)
if not tested.success then
  print("failed: " .. tostring(tested.reason))
  os.exit(1)
end
print("done")
local fits = { int8 = fit_int8, float32 = fit_float32 }

print()
print(("%-8s  %8s  %5s  %4s"):format("variant", "accuracy", "good", "bad"))
for _, v in ipairs(VARIANTS) do
  local t = tested.variants[v]
  print(("%-8s  %7.2f%%  %5d  %4d"):format(v, 100 * t.accuracy, t.good, t.bad))
end

local function confusion(t)
  local width = 10
  print()
  print(("Confusion matrix of %s (%% of each actual label; rows: actual, columns: predicted)"):format(t.variant))
  local head = { ("%-" .. width .. "s"):format("") }
  for _, label in ipairs(t.labels) do head[#head + 1] = ("%" .. width .. "s"):format(label) end
  print(table.concat(head))
  for _, actual in ipairs(t.labels) do
    local row = t.confusion[actual]
    if row then
      local cells = { ("%-" .. width .. "s"):format(actual) }
      for _, predicted in ipairs(t.labels) do cells[#cells + 1] = ("%" .. width .. ".1f"):format(row[predicted] or 0) end
      print(table.concat(cells))
    end
  end
end
confusion(tested.variants.int8)

print()
print(("On-device estimate, %s, EON Compiler, DSP included (budget: RAM %s, ROM %s, latency %d ms)"):format(
  fit_int8.device_name or fit_int8.device, kb(BUDGET.ram), kb(BUDGET.rom), BUDGET.latency_ms))
print(("%-8s  %9s  %9s  %8s  %s"):format("variant", "RAM", "ROM", "latency", "fits"))
for _, v in ipairs(VARIANTS) do
  local f = fits[v]
  print(("%-8s  %9s  %9s  %5d ms  %s"):format(v, kb(f.ram), kb(f.rom), f.latency_ms,
    f.fits and "yes" or ("no, over: " .. table.concat(f.over, ", "))))
end

-- 5. Deploy the most accurate variant that fits.
local best
for _, v in ipairs(VARIANTS) do
  if fits[v].fits and (not best or tested.variants[v].accuracy > tested.variants[best].accuracy) then best = v end
end
if not best then
  print("No variant fits the budget: nothing to deploy")
  client:close()
  os.exit(1)
end
print()
local output = os.getenv("EI_OUTPUT") or ("model-%s.zip"):format(best)
step(("Deploying %s as a C++ library (EON Compiler)"):format(best))
local lines = 0
local d = check(pipeline.deploy(client, project_id, { type = "zip", engine = "tflite-eon", model_type = best, output = output,
  on_event = function(ev) if ev.type == "log" then lines = lines + 1 end end }))
client:close()
if not d.success then
  print("failed: " .. tostring(d.reason))
  os.exit(1)
end
print(("done (job %d, %d log lines)"):format(d.job, lines))
print(("Deployment version %d saved to %s"):format(d.version, d.path))
print(("  %d bytes, sha256 %s"):format(d.size, d.sha256))
