--- The `ei-train` commands that act on jobs: `follow`, `status`, `logs`, `cancel`, `jobs`.
-- @module ei.cli.jobs
local ei = require "ei"
local cli = require "ei.cli"
local follow = require "ei.cli.follow"

local jobs = {}

local PROJECT_HELP = "  --project P        the project id (integer; default EI_PROJECT_ID)\n"
local HELP_HELP = "  -h, --help         show this help\n"

local with_client = cli.with_client

-- Run `act(job)` on the job of `opts.job`.
local function with_job(opts, ctx, act)
  return with_client(opts, ctx, function(client, project)
    local job = client:job(project, opts.job)
    local rc = act(job)
    job:close()
    return rc
  end)
end

local function options(extra)
  local t = { project = "value" }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

jobs.follow = {
  summary = "follow a job live until it ends, as train --follow does",
  usage = "ei-train follow JOB [--project P] [--json] [--plot FILE.svg] [--plot-metrics M]",
  args = { "JOB" },
  options = options(follow.OPTIONS),
  help = PROJECT_HELP .. follow.HELP .. "\n" .. HELP_HELP .. [[

On a terminal a progress line shows the epoch, elapsed time, ETA and the latest
metrics; otherwise the log lines are printed, then a 'finished:' line. A job that
already ended prints its log and its outcome.
]],
  run = function(opts, ctx)
    return with_job(opts, ctx, function(job)
      -- One status request first: an unknown job or an unreachable service is said
      -- at once, where following would wait for the service to come back.
      local st, err, code = job:status()
      if not st then return cli.fail(ctx, err, code) end
      return follow.job(job, opts, ctx)
    end)
  end,
}

-- "running", "queued", "finished (success)" or "finished (failure)".
local function state_of(job)
  if job.finished then return job.finishedSuccessful and "finished (success)" or "finished (failure)" end
  return job.started and "running" or "queued"
end

local STATUS_FIELDS = { "category", "created", "started", "finished" }

jobs.status = {
  summary = "show a job's status",
  usage = "ei-train status JOB [--project P] [--json]",
  args = { "JOB" },
  options = options { json = "flag" },
  help = PROJECT_HELP .. "  --json             print Studio's job object as JSON\n" .. HELP_HELP .. [[

Exit status 1 when the job finished and failed.
]],
  run = function(opts, ctx)
    return with_job(opts, ctx, function(job)
      local st, err, code = job:status()
      if not st then return cli.fail(ctx, err, code) end
      if opts.json then
        ctx.stdout:write(ei.json.encode(st), "\n")
      else
        ctx.stdout:write(("job %d: %s\n"):format(job.id, state_of(st)))
        for _, k in ipairs(STATUS_FIELDS) do
          if st[k] ~= nil then ctx.stdout:write(("  %-9s %s\n"):format(k, tostring(st[k]))) end
        end
      end
      return (st.finished and not st.finishedSuccessful) and cli.EXIT.failed or cli.EXIT.ok
    end)
  end,
}

jobs.logs = {
  summary = "print a job's stored log, oldest line first",
  usage = "ei-train logs JOB [--project P] [--tail N]",
  args = { "JOB" },
  options = options { tail = "integer" },
  help = PROJECT_HELP .. "  --tail N           only the last N lines (Studio keeps the last 1000)\n" .. HELP_HELP,
  run = function(opts, ctx)
    return with_job(opts, ctx, function(job)
      local lines, err, code = job:logs(opts.tail)
      if not lines then return cli.fail(ctx, err, code) end
      for _, line in ipairs(lines) do ctx.stdout:write(line, "\n") end
      return cli.EXIT.ok
    end)
  end,
}

jobs.cancel = {
  summary = "cancel a job",
  usage = "ei-train cancel JOB [--project P] [--force]",
  args = { "JOB" },
  options = options { force = "flag" },
  help = PROJECT_HELP .. "  --force            cancel even if the job does not answer\n" .. HELP_HELP,
  run = function(opts, ctx)
    return with_job(opts, ctx, function(job)
      local ok, err, code = job:cancel(opts.force)
      if not ok then return cli.fail(ctx, err, code) end
      ctx.stdout:write(("job %d: cancel requested\n"):format(job.id))
      return cli.EXIT.ok
    end)
  end,
}

-- One table row per active job.
local function job_rows(list)
  local rows = { { "ID", "CATEGORY", "STATE", "CREATED" } }
  for _, j in ipairs(list) do
    rows[#rows + 1] = { tostring(j.id), tostring(j.category or ""), state_of(j), tostring(j.created or "") }
  end
  return cli.align(rows)
end

jobs.jobs = {
  summary = "list the project's active jobs",
  usage = "ei-train jobs [--project P] [--json]",
  options = options { json = "flag" },
  help = PROJECT_HELP .. "  --json             print one JSON object per job, one per line\n" .. HELP_HELP,
  run = function(opts, ctx)
    return with_client(opts, ctx, function(client, project)
      local res, err, code = client:call("listActiveJobs", { projectId = project })
      if not res then return cli.fail(ctx, err, code) end
      local list = type(res.jobs) == "table" and res.jobs or {}
      if opts.json then
        for _, j in ipairs(list) do ctx.stdout:write(ei.json.encode(j), "\n") end
      elseif #list == 0 then
        ctx.stdout:write(("no active jobs in project %d\n"):format(project))
      else
        for _, line in ipairs(job_rows(list)) do ctx.stdout:write(line, "\n") end
      end
      return cli.EXIT.ok
    end)
  end,
}

return jobs
