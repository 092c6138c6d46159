-- The Lua side of the C host in host.c: it starts a Keras training job and
-- follows it, starts a second job and cancels it, and never waits for any of
-- it. Every call below returns at once: REST calls run as pending operations
-- (client:pending) and the job is read with receive(0); the host's own loop
-- polls pollfd() for events() at most timeout() seconds and calls step().
--
--   EI_HOST=… EI_API_KEY=ei_… EI_PROJECT_ID=… EI_LEARN_ID=… ei-embed-host
--
-- The chunk returns a function that takes `emit(line)` (the host's way of
-- printing a line) and returns the app: pollfd, events, timeout, step.
local ei = require "ei"

local function id_from(name)
  local id = math.tointeger(tonumber(os.getenv(name) or ""))
  if not id then error(("set %s to an integer id"):format(name), 0) end
  return id
end

return function(emit)
  local project_id, learn_id = id_from "EI_PROJECT_ID", id_from "EI_LEARN_ID"
  local client = assert(ei.new { host = os.getenv "EI_HOST", api_key = os.getenv "EI_API_KEY", status_interval = 1 })
  local params = { trainingCycles = 30 }

  local followed, other, canceled -- the jobs, and whether the cancel was answered
  local start = client:pending(client.train_keras, client, project_id, learn_id, params)
  local start_other, cancel
  local result -- "succeeded" | "failed" once the followed job finished

  local app = {}

  function app.pollfd() return client:pollfd() end
  function app.events() return "r" end
  function app.timeout()
    local t = client:timeout()
    if followed and not result then
      local jt = followed:timeout()
      if jt and (not t or jt < t) then t = jt end
    end
    return t
  end

  -- Results of a pending call: its values, or an error for the host.
  local function outcome(op, what)
    local v, err, code = op:result()
    if not v then error(("%s: %s (%s)"):format(what, err, code), 0) end
    return v
  end

  local function read_events()
    while true do
      local ev, err, code = followed:receive(0)
      if not ev then
        if code and code ~= "ETIMEDOUT" then error(("job %d: %s (%s)"):format(followed.id, err, code), 0) end
        return
      end
      if ev.type == "log" then
        emit("log: " .. ev.line)
      elseif ev.type == "finished" then
        result = ev.success and "succeeded" or "failed"
      end
    end
  end

  --- One turn of work, never waiting. Returns "running", or the followed
  -- job's result once it finished and the second job's cancel was answered.
  function app.step()
    client:step()
    if not followed and start:done() then
      followed = outcome(start, "starting the job")
      emit("job: " .. followed.id)
      -- Started after the first, so that the first job a project sees is a followed one.
      start_other = client:pending(client.train_keras, client, project_id, learn_id, params)
    end
    if start_other and not other and start_other:done() then
      other = outcome(start_other, "starting the second job")
      cancel = client:pending(other.cancel, other)
    end
    if cancel and not canceled and cancel:done() then
      outcome(cancel, "canceling the second job")
      canceled = true
      emit(("canceled: %d"):format(other.id))
    end
    if followed and not result then
      followed:step()
      read_events()
    end
    if result and canceled then
      emit("finished: " .. (result == "succeeded" and "true" or "false"))
      followed:close()
      other:close()
      client:close()
      return result
    end
    return "running"
  end

  return app
end
