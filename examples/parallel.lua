-- Train every Keras learn block of the impulse at once and print each result.
--
--   EI_API_KEY=ei_… EI_PROJECT_ID=12345 [EI_HOST=…] lua5.4 examples/parallel.lua
local pipeline = require "ei.pipeline"

local client, project_id = pipeline.from_env()
if not client then
  io.stderr:write(project_id, "\n")
  os.exit(2)
end

local res = assert(client:impulse(project_id))
local params = { trainingCycles = 10, learningRate = 0.005, batchSize = 32 }
local list, names = {}, {}
for _, block in ipairs(res.impulse and res.impulse.learnBlocks or {}) do
  if tostring(block.type):match("^keras") then
    list[#list + 1] = { project_id, math.tointeger(block.id), params }
    names[#list] = block.name or ("learn block " .. block.id)
  end
end
if #list == 0 then
  io.stderr:write("no Keras learn block in the impulse of project ", project_id, "\n")
  os.exit(1)
end

print(("Training %d learn blocks at once"):format(#list))
-- pipeline.train_all runs one coroutine per block under ei.run.
local results = pipeline.train_all(client, list)
local failed = 0
for i, r in ipairs(results) do
  print()
  print(("== %s =="):format(names[i]))
  if r.error then
    print("could not train: " .. tostring(r.error))
    failed = failed + 1
  else
    pipeline.report(r)
    if not r.success then failed = failed + 1 end
  end
end
client:close()
os.exit(failed == 0 and 0 or 1)
