-- Sweep learning rate and batch size: train each setting in turn, print a
-- table of the results and the best setting.
--
--   EI_API_KEY=ei_… EI_PROJECT_ID=12345 [EI_LEARN_ID=…] [EI_HOST=…] lua5.4 examples/sweep.lua
local pipeline = require "ei.pipeline"

local client, project_id, env_learn_id = pipeline.from_env()
if not client then
  io.stderr:write(project_id, "\n")
  os.exit(2)
end

local learn_id = env_learn_id or assert(pipeline.find_learn_block(client, project_id)).id

local LEARNING_RATES = { 0.0005, 0.005, 0.05 }
local BATCH_SIZES = { 16, 32 }
local TRAINING_CYCLES = 10 -- with fewer, the smaller batches lead only because they converge faster

local results, best = {}, nil
for _, lr in ipairs(LEARNING_RATES) do
  for _, bs in ipairs(BATCH_SIZES) do
    io.write(("training learningRate=%g batchSize=%d … "):format(lr, bs))
    io.flush()
    local r = assert(pipeline.train(client, project_id, learn_id,
      { trainingCycles = TRAINING_CYCLES, learningRate = lr, batchSize = bs }))
    r.learningRate, r.batchSize = lr, bs
    results[#results + 1] = r
    print(r.success and ("accuracy %.4f"):format(r.accuracy or 0) or ("failed: " .. tostring(r.reason)))
    if r.success and r.accuracy and (not best or r.accuracy > best.accuracy) then best = r end
  end
end

print()
print(("%-12s  %-9s  %-8s  %-8s  %s"):format("learningRate", "batchSize", "accuracy", "loss", "job"))
for _, r in ipairs(results) do
  print(("%-12g  %-9d  %-8s  %-8s  %d"):format(r.learningRate, r.batchSize,
    r.accuracy and ("%.4f"):format(r.accuracy) or "-", r.loss and ("%.4f"):format(r.loss) or "-", r.job))
end
client:close()

if not best then
  io.stderr:write("no setting trained successfully\n")
  os.exit(1)
end
print(("best: learningRate=%g batchSize=%d (accuracy %.4f)"):format(best.learningRate, best.batchSize, best.accuracy))
