-- The ei-train commands beside train: follow, status, logs, cancel, jobs; and what
-- every command does without credentials. Run as a user runs them, against the simulator.
local helper = require "helper"
local core = require "ei.core"
local cli = require "ei.cli"

local run = helper.ei_train

local function env_of(sim, extra)
  local env = { host = sim.url, key = sim.api_key, project = tostring(sim.project_id) }
  for k, v in pairs(extra or {}) do env[k] = v end
  return env
end

-- A training job started through the API, and the client that started it.
local function start_job(sim, cycles)
  local client = sim:client()
  local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = cycles or 3 }))
  return job, client
end

local function decode_lines(out)
  local list = {}
  for line in out:gmatch("[^\n]+") do list[#list + 1] = assert(core.decode(line), line) end
  return list
end

describe("ei-train commands", function()
  it("lists every command in --help, and each answers its own --help with exit 0", function()
    local out, rc = run("--help")
    assert.equal(0, rc)
    for _, row in ipairs(cli.COMMANDS) do
      assert.matches("\n  " .. row.name .. " +%a", out)
      local own, own_rc = run(row.name .. " --help")
      assert.equal(0, own_rc, own)
      assert.matches("^usage: ei%-train %[?" .. row.name, own)
      assert.matches("Exit status: 0", own, 1, true)
    end
  end)

  it("refuses bad usage with exit 2: unknown command, missing or bad JOB, bad --tail, extra words", function()
    for _, args in ipairs { "frobnicate", "status", "status abc --project 1", "logs 5 --project 1 --tail x",
      "cancel 5 6 --project 1", "jobs --project abc", "follow 5 --project 1 --frob" } do
      local out, rc = run(args, { key = "ei_x" })
      assert.equal(2, rc, args .. ": " .. out)
      assert.matches("^ei%-train: ", out)
    end
    local out = run("status abc --project 1", { key = "ei_x" })
    assert.matches("JOB wants an integer id, got 'abc'", out, 1, true)
    out = run("jobs", { key = "ei_x" })
    assert.matches("missing --project (or set EI_PROJECT_ID)", out, 1, true)
  end)

  it("train is the default command and the first word when given", function()
    local sim = helper.studio { speed = 300 }
    local out1, rc1 = run(("train --learn %d --set trainingCycles=2"):format(sim.learn_id), env_of(sim))
    local out2, rc2 = run(("--learn %d --set trainingCycles=2"):format(sim.learn_id), env_of(sim))
    assert.equal(0, rc1, out1)
    assert.equal(0, rc2, out2)
    local reqs = sim:requests("/jobs/train/keras/")
    assert.equal(2, #reqs)
    -- the project came from EI_PROJECT_ID
    assert.matches("^/v1/api/" .. sim.project_id .. "/", reqs[1].path)
    assert.matches("^%d+\n$", out1)
    sim:stop()
  end)

  it("follow JOB follows a job started elsewhere to its end: log lines, finished: success, exit 0", function()
    local sim = helper.studio { speed = 100 }
    local job, client = start_job(sim, 4)
    local out, rc = run(("follow %d --project %d"):format(job.id, sim.project_id), env_of(sim, { project = "" }))
    job:close()
    client:close()
    assert.equal(0, rc, out)
    assert.matches("Epoch 4/4\n", out, 1, true)
    assert.matches("\nfinished: success\n$", out)
    -- once it has ended, following it again prints its log and its outcome
    local again, rc2 = run(("follow %d"):format(job.id), env_of(sim))
    assert.equal(0, rc2, again)
    assert.equal(out, again)
    sim:stop()
  end)

  it("follow JOB --json --plot prints events and draws the curves; a failed job exits 1", function()
    local sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 3 } } }
    local job, client = start_job(sim, 5)
    local svg = os.tmpname() .. ".svg"
    local out, rc = run(("follow %d --json --plot %s"):format(job.id, helper.quote(svg)), env_of(sim))
    job:close()
    client:close()
    assert.equal(1, rc, out)
    local events = decode_lines(out)
    assert.equal("finished", events[#events].type)
    assert.is_false(events[#events].success)
    local text = assert(helper.read_file(svg))
    os.remove(svg)
    assert.matches("Training job " .. job.id, text, 1, true)
    sim:stop()
  end)

  it("status JOB says running, then finished (success) with exit 0; --json gives Studio's job object", function()
    local sim = helper.studio { speed = 300 }
    local job, client = start_job(sim, 2)
    local out, rc = run(("status %d"):format(job.id), env_of(sim))
    assert.equal(0, rc, out)
    assert.matches("^job " .. job.id .. ": %a+", out)
    assert.matches("created", out, 1, true)
    assert.is_true(job:wait(60))
    out, rc = run(("status %d"):format(job.id), env_of(sim))
    assert.equal(0, rc, out)
    assert.matches("^job " .. job.id .. ": finished %(success%)\n", out)
    out, rc = run(("status %d --json"):format(job.id), env_of(sim))
    assert.equal(0, rc, out)
    local st = decode_lines(out)[1]
    assert.equal(job.id, st.id)
    assert.is_true(st.finishedSuccessful)
    job:close()
    client:close()
    sim:stop()
  end)

  it("status JOB of a failed job says finished (failure) and exits 1; an unknown job exits 3", function()
    local sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 1 } } }
    local job, client = start_job(sim, 3)
    assert.is_false((job:wait(60)))
    local out, rc = run(("status %d"):format(job.id), env_of(sim))
    assert.equal(1, rc, out)
    assert.matches("^job " .. job.id .. ": finished %(failure%)", out)
    out, rc = run("status 999999", env_of(sim))
    assert.equal(3, rc, out)
    assert.matches("^ei%-train: ", out)
    job:close()
    client:close()
    sim:stop()
  end)

  it("logs JOB prints the stored log oldest first; --tail N only its last N lines", function()
    local sim = helper.studio { speed = 300 }
    local job, client = start_job(sim, 3)
    assert.is_true(job:wait(60))
    local all, rc = run(("logs %d"):format(job.id), env_of(sim))
    assert.equal(0, rc, all)
    local lines = helper.lines_of(all)
    assert.is_true(#lines > 10, all)
    assert.matches("Epoch 1/3", all, 1, true)
    assert.is_true(all:find("Epoch 1/3", 1, true) < all:find("Epoch 3/3", 1, true))
    local tail, rc2 = run(("logs %d --tail 3"):format(job.id), env_of(sim))
    assert.equal(0, rc2, tail)
    assert.same({ lines[#lines - 2], lines[#lines - 1], lines[#lines] }, helper.lines_of(tail))
    assert.equal("3", sim:requests("/stdout$")[2].query.limit)
    job:close()
    client:close()
    sim:stop()
  end)

  it("cancel JOB asks Studio to cancel, --force forces; the job then ends failed", function()
    local sim = helper.studio { speed = 2 }
    local job, client = start_job(sim, 30)
    local out, rc = run(("cancel %d"):format(job.id), env_of(sim))
    assert.equal(0, rc, out)
    assert.equal(("job %d: cancel requested\n"):format(job.id), out)
    local job2 = start_job(sim, 30)
    out, rc = run(("cancel %d --force"):format(job2.id), env_of(sim))
    assert.equal(0, rc, out)
    local cancels = sim:requests("/cancel$", "POST")
    assert.equal(2, #cancels)
    assert.is_nil(cancels[1].query.forceCancel)
    assert.equal("true", cancels[2].query.forceCancel)
    assert.is_false((job:wait(60)))
    job:close()
    job2:close()
    client:close()
    sim:stop()
  end)

  it("jobs lists the project's active jobs (listActiveJobs), --json one object per line", function()
    local sim = helper.studio { speed = 2 }
    local out, rc = run("jobs", env_of(sim))
    assert.equal(0, rc, out)
    assert.equal(("no active jobs in project %d\n"):format(sim.project_id), out)
    local job1, client = start_job(sim, 30)
    local job2 = start_job(sim, 30)
    out, rc = run("jobs", env_of(sim))
    assert.equal(0, rc, out)
    local lines = helper.lines_of(out)
    assert.matches("^ID +CATEGORY +STATE +CREATED$", lines[1])
    assert.equal(3, #lines, out)
    local listed = {}
    for i = 2, 3 do listed[#listed + 1] = math.tointeger(tonumber(lines[i]:match("^(%d+) "))) end
    table.sort(listed)
    assert.same({ math.min(job1.id, job2.id), math.max(job1.id, job2.id) }, listed)
    out, rc = run("jobs --json", env_of(sim))
    assert.equal(0, rc, out)
    local objects = decode_lines(out)
    assert.equal(2, #objects)
    assert.is_string(objects[1].created)
    assert.equal(3, #sim:requests("/jobs$", "GET"))
    job1:cancel(true)
    job2:cancel(true)
    job1:close()
    job2:close()
    client:close()
    sim:stop()
  end)

  it("follow JOB of a job the project does not have exits 3 at once", function()
    local sim = helper.studio { speed = 300 }
    local out, rc = run("follow 999999", env_of(sim))
    assert.equal(3, rc, out)
    assert.matches("^ei%-train: .*999999", out)
    assert.equal(0, #sim:records("ws-open"))
    assert.equal(1, #sim:records("http"))
    sim:stop()
  end)

  it("exits 3 for every job command when the service cannot be reached", function()
    for _, args in ipairs { "status 5", "logs 5", "cancel 5", "jobs", "follow 5" } do
      local out, rc = run(args, { host = "http://127.0.0.1:1", key = "ei_x", project = "1" })
      assert.equal(3, rc, args .. ": " .. out)
      assert.matches("^ei%-train: ", out)
    end
  end)
end)

describe("ei-train without credentials", function()
  it("names EI_API_KEY, exits 2, and sends nothing, whatever the command", function()
    local sim = helper.studio { speed = 300 }
    for _, args in ipairs { ("--learn %d --follow"):format(sim.learn_id), ("train --learn %d"):format(sim.learn_id),
      "follow 5", "status 5", "logs 5 --tail 2", "cancel 5 --force", "jobs" } do
      local out, rc = run(args, env_of(sim, { key = "" }))
      assert.equal(2, rc, args .. ": " .. out)
      assert.equal("ei-train: no credentials: set EI_API_KEY to an API key of the project (Studio: Dashboard > Keys); nothing was sent\n", out)
    end
    -- Nothing reached the simulator: no request, no socket.
    assert.same({}, sim:records())
    sim:stop()
  end)
end)
