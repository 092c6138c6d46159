-- Follow a training job inside a cqueues controller while another coroutine
-- keeps working: ei waits through cqueues there, so nothing blocks.
--
--   EI_API_KEY=ei_… EI_PROJECT_ID=12345 [EI_LEARN_ID=…] [EI_HOST=…] lua5.4 examples/cqueues.lua
local cqueues = require "cqueues"
local pipeline = require "ei.pipeline"

local client, project_id, env_learn_id = pipeline.from_env()
if not client then
  io.stderr:write(project_id, "\n")
  os.exit(2)
end
local cq = cqueues.new()

local done, ok, why = false, nil, nil
cq:wrap(function()
  local learn_id = env_learn_id
    or assert(pipeline.find_learn_block(client, project_id)).id
  local job = assert(client:train_keras(project_id, learn_id, { trainingCycles = 10 }))
  print(("Training job %d started (project %d, learn block %d)"):format(job.id, project_id, learn_id))
  for ev in job:updates() do
    if ev.type == "progress" then
      print(("epoch %d/%d"):format(ev.epoch, ev.epochs))
    elseif ev.type == "metrics" then
      print(("  val_accuracy %.4f  val_loss %.4f"):format(ev.val_accuracy or 0 / 0, ev.val_loss or 0 / 0))
    elseif ev.type == "finished" then
      print(ev.success and "Training finished" or "Training failed")
    end
  end
  ok, why = job:wait()
  done = true
end)

-- Another task of the same controller: a heartbeat while the job runs.
local beats = 0
cq:wrap(function()
  while not done do
    beats = beats + 1
    cqueues.sleep(0.05)
  end
  print(("heartbeat ran %d times while the job was followed"):format(beats))
end)

assert(cq:loop())
client:close()
if not ok then
  io.stderr:write("job failed: ", tostring(why), "\n")
  os.exit(1)
end
