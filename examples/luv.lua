-- Follow a training job from a coroutine on the luv event loop while a luv
-- timer keeps ticking: the client waits through ei.wait.luv.
--
--   EI_API_KEY=ei_… EI_PROJECT_ID=12345 [EI_LEARN_ID=…] [EI_HOST=…] lua5.4 examples/luv.lua
local uv = require "luv"
local ei = require "ei"
local pipeline = require "ei.pipeline"

local client, project_id, env_learn_id = pipeline.from_env({ wait = ei.wait.luv })
if not client then
  io.stderr:write(project_id, "\n")
  os.exit(2)
end

local ticks = 0
local timer = uv.new_timer()
timer:start(50, 50, function() ticks = ticks + 1 end)

local ok, why
coroutine.wrap(function()
  local learn_id = env_learn_id
    or assert(pipeline.find_learn_block(client, project_id)).id
  local job = assert(client:train_keras(project_id, learn_id, { trainingCycles = 10 }))
  print(("Training job %d started (project %d, learn block %d)"):format(job.id, project_id, learn_id))
  for ev in job:updates() do
    if ev.type == "metrics" then
      print(("epoch %d  val_accuracy %.4f  val_loss %.4f"):format(ev.epoch, ev.val_accuracy or 0 / 0, ev.val_loss or 0 / 0))
    elseif ev.type == "finished" then
      print(ev.success and "Training finished" or "Training failed")
    end
  end
  ok, why = job:wait()
  timer:stop()
  timer:close()
end)()

uv.run()
print(("timer ticked %d times while the job was followed"):format(ticks))
client:close()
uv.run() -- let libuv close the poll handle of the client's descriptor
if not ok then
  io.stderr:write("job failed: ", tostring(why), "\n")
  os.exit(1)
end
