-- Train a Keras learn block and follow it live, then print the final metrics.
--
--   EI_API_KEY=ei_… EI_PROJECT_ID=12345 [EI_LEARN_ID=…] [EI_HOST=…] lua5.4 examples/train.lua
local ei = require "ei"

local project_id = math.tointeger(tonumber(os.getenv "EI_PROJECT_ID" or ""))
if not project_id then
  io.stderr:write("set EI_PROJECT_ID (and EI_API_KEY) first\n")
  os.exit(2)
end
local client = assert(ei.new())

-- The first Keras learn block of the impulse, unless EI_LEARN_ID names one.
local function find_learn_block()
  local learn_id = math.tointeger(tonumber(os.getenv "EI_LEARN_ID" or ""))
  if learn_id then return learn_id end
  local res = assert(client:impulse(project_id))
  for _, block in ipairs(res.impulse and res.impulse.learnBlocks or {}) do
    if tostring(block.type):match("^keras") then return math.tointeger(block.id) end
  end
  error("no Keras learn block in the impulse of project " .. project_id)
end

local learn_id = find_learn_block()
local job = assert(client:train_keras(project_id, learn_id, {
  trainingCycles = 30,
  learningRate = 0.005,
  batchSize = 32,
}))
print(("Training job %d started (project %d, learn block %d)"):format(job.id, project_id, learn_id))

local epochs, last
for ev in job:updates() do
  if ev.type == "progress" then
    epochs = ev.epochs
  elseif ev.type == "metrics" then
    last = ev
    print(("epoch %3d/%s  loss %.4f  accuracy %.4f  val_loss %.4f  val_accuracy %.4f"):format(
      ev.epoch, epochs or "?", ev.loss or 0 / 0, ev.accuracy or 0 / 0, ev.val_loss or 0 / 0, ev.val_accuracy or 0 / 0))
  elseif ev.type == "connection" then
    print("connection: " .. ev.state)
  elseif ev.type == "finished" then
    print(ev.success and "Training finished" or "Training failed")
  end
end

local ok, why = job:wait()
if not ok then
  io.stderr:write("job failed: ", tostring(why), "\n")
  os.exit(1)
end
local meta = client:keras_metadata(project_id, learn_id)
if meta and last then
  print(("Final validation accuracy %.2f%%, loss %.4f"):format(100 * (last.val_accuracy or 0), last.val_loss or 0))
end
client:close()
