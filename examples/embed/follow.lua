-- Start a Keras training job and hand it to the C host, which follows it
-- from its own poll loop (see host.c).
--
--   EI_HOST=… EI_API_KEY=ei_… EI_PROJECT_ID=… EI_LEARN_ID=… ei-embed-host
local ei = require "ei"

local function id_from(name)
  local id = math.tointeger(tonumber(os.getenv(name) or ""))
  if not id then error(("set %s to an integer id"):format(name), 0) end
  return id
end

local project_id, learn_id = id_from "EI_PROJECT_ID", id_from "EI_LEARN_ID"
local client = assert(ei.new { host = os.getenv "EI_HOST", api_key = os.getenv "EI_API_KEY" })
local job = assert(client:train_keras(project_id, learn_id, { trainingCycles = 30 }))
return job
