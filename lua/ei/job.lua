--- A Studio job: its REST side (status, logs, cancel) and its live updates.
-- Jobs come from `client:train_keras`, `client:generate_features` and
-- `client:job`.
-- @classmod ei.Job
local Job = {}
Job.__index = Job

--- Wrap a job of a project.
-- @local
function Job.new(client, project_id, job_id)
  return setmetatable({ client = client, project_id = project_id, id = job_id }, Job)
end

local function check_open(self, fname)
  if self.closed then error(("attempt to call '%s' on a closed job"):format(fname), 3) end
end

--- The job's status as Studio reports it (`getJobStatus`).
-- @treturn table the `job` table: id, created, started, finished, finishedSuccessful, …
-- @return nil, message, code
function Job:status()
  check_open(self, "status")
  local res, err, code = self.client:call("getJobStatus", { projectId = self.project_id, jobId = self.id })
  if not res then return nil, err, code end
  if type(res.job) ~= "table" then return self.client:fail("getJobStatus: no job in the response", "EPROTO") end
  return res.job
end

--- The job's most recent log lines, oldest first (`getJobsLogs`).
-- @tparam[opt] integer limit how many lines at most
-- @treturn {string,...} the lines, without their newlines
-- @return nil, message, code
function Job:logs(limit)
  check_open(self, "logs")
  if limit ~= nil and math.type(limit) ~= "integer" then error("bad argument #1 to 'logs' (integer expected)", 2) end
  local res, err, code = self.client:call("getJobsLogs", { projectId = self.project_id, jobId = self.id, limit = limit })
  if not res then return nil, err, code end
  local lines, stdout = {}, res.stdout or {}
  for i = #stdout, 1, -1 do
    local data = stdout[i].data
    if type(data) == "string" then lines[#lines + 1] = (data:gsub("\r?\n$", "")) end
  end
  return lines
end

--- Ask Studio to cancel the job (`cancelJob`).
-- @tparam[opt] boolean force cancel even if the job does not answer
-- @treturn boolean true
-- @return nil, message, code
function Job:cancel(force)
  check_open(self, "cancel")
  local res, err, code = self.client:call("cancelJob", {
    projectId = self.project_id, jobId = self.id, forceCancel = force and "true" or nil,
  })
  if not res then return nil, err, code end
  return true
end

--- Stop following the job and release what it holds. Idempotent.
function Job:close()
  if self.closed then return end
  self.closed = true
  if self.stream then self.stream:close() end
end
Job.__close = Job.close
Job.__gc = Job.close

function Job:__tostring()
  return ("ei.Job %d (project %d%s)"):format(self.id, self.project_id, self.closed and ", closed" or "")
end

return Job
