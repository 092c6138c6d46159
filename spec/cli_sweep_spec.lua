-- ei-train sweep, test and deploy against the Studio simulator: every combination
-- trained with exactly its parameters, never more jobs at once than asked, the live
-- view on a tmux screen, the ranking, failures; the test set's results and a
-- deployment archive on disk.
local helper = require "helper"
local json = helper.json
local pipeline = require "ei.pipeline"

local q = helper.quote
local GRID = "--grid learningRate=0.0005,0.005,0.05 --grid batchSize=16,32"

local function has(cmd)
  return os.execute(("command -v %s > /dev/null 2>&1"):format(cmd))
end

local function env_of(sim)
  return { host = sim.url, key = sim.api_key, project = tostring(sim.project_id) }
end

local function sweep(sim, args)
  return helper.ei_train(("sweep --learn %d %s"):format(sim.learn_id, args), env_of(sim))
end

-- The JSON objects of an output, one per line.
local function objects(out)
  local list = {}
  for _, line in ipairs(helper.lines_of(out)) do
    local t = json.decode(line, 1, json.null)
    assert(type(t) == "table", "not a JSON line: " .. line)
    list[#list + 1] = t
  end
  return list
end

-- The training requests the simulator recorded, as "learningRate=x batchSize=y".
local function trained_with(sim)
  local list = {}
  for _, r in ipairs(sim:requests("/jobs/train/keras/%d+$", "POST")) do
    list[#list + 1] = ("trainingCycles=%s learningRate=%s batchSize=%s"):format(
      tostring(r.body.trainingCycles), tostring(r.body.learningRate), tostring(r.body.batchSize))
  end
  table.sort(list)
  return list
end

-- The most jobs that ran at once, from their created and finished times in Studio's
-- job status (ISO times sort as text; at a tie the finish counts first).
local function most_at_once(sim, job_ids)
  local client = sim:client()
  local marks = {}
  for _, id in ipairs(job_ids) do
    local job = client:job(sim.project_id, id)
    local st = assert(job:status())
    job:close()
    assert.is_string(st.finished, "job " .. id .. " has not finished")
    marks[#marks + 1] = { st.created, 1 }
    marks[#marks + 1] = { st.finished, -1 }
  end
  client:close()
  table.sort(marks, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[2] < b[2]
  end)
  local now, most = 0, 0
  for _, m in ipairs(marks) do
    now = now + m[2]
    most = math.max(most, now)
  end
  return most
end

-- The ranking table's rows (after its header) up to the first blank line.
local function table_rows(lines)
  local rows, inside = {}, false
  for _, line in ipairs(lines) do
    if line:match("^%s+learningRate%s+batchSize%s+VAL ACCURACY") then
      inside = true
    elseif inside then
      if not line:find("%S") then break end
      rows[#rows + 1] = line
    end
  end
  return rows
end

-- The accuracy of a table row as a number (nil for a failed run).
local function accuracy_of(row)
  return tonumber(row:match("^%*?%s+%S+%s+%S+%s+(%d+%.%d+)%%"))
end

describe("ei-train sweep", function()
  local sim
  after_each(function() if sim then sim:stop() sim = nil end end)

  it("trains every combination with exactly its parameters, at most --parallel at once, events tagged (--json)", function()
    sim = helper.studio { speed = 150 }
    local out, rc = sweep(sim, "--json --parallel 2 --set trainingCycles=6 " .. GRID)
    assert.equal(0, rc, out)
    local events = objects(out)
    -- every combination was sent once, with exactly the values asked
    assert.same({
      "trainingCycles=6 learningRate=0.0005 batchSize=16", "trainingCycles=6 learningRate=0.0005 batchSize=32",
      "trainingCycles=6 learningRate=0.005 batchSize=16", "trainingCycles=6 learningRate=0.005 batchSize=32",
      "trainingCycles=6 learningRate=0.05 batchSize=16", "trainingCycles=6 learningRate=0.05 batchSize=32",
    }, trained_with(sim))
    for _, r in ipairs(sim:requests("/jobs/train/keras/%d+$", "POST")) do
      local keys = {}
      for k in pairs(r.body) do keys[#keys + 1] = k end
      table.sort(keys)
      assert.same({ "batchSize", "learningRate", "trainingCycles" }, keys)
      assert.equal(("/v1/api/%d/jobs/train/keras/%d"):format(sim.project_id, sim.learn_id), r.path)
    end
    -- each job's events carry its run, job id and grid values, as its start said
    local started, metrics_of = {}, {}
    for _, ev in ipairs(events) do
      if ev.type == "started" then
        started[ev.job] = ev
      elseif ev.type == "metrics" then
        local s = assert(started[ev.job], "metrics before the start of job " .. tostring(ev.job))
        assert.same(s.params, ev.params)
        assert.equal(s.run, ev.run)
        metrics_of[ev.job] = (metrics_of[ev.job] or 0) + 1
      end
    end
    local ids = {}
    for id in pairs(started) do ids[#ids + 1] = id end
    assert.equal(6, #ids)
    for _, id in ipairs(ids) do assert.equal(6, metrics_of[id], "epochs of job " .. id) end
    -- the summary ranks them by validation accuracy, each the last epoch's of its own job
    local summary = events[#events]
    assert.equal("summary", summary.type)
    assert.equal(6, #summary.runs)
    local last_epoch = {}
    for _, ev in ipairs(events) do
      if ev.type == "metrics" then last_epoch[ev.job] = ev end
    end
    for i, r in ipairs(summary.runs) do
      assert.equal(i, r.rank)
      assert.is_true(r.success)
      assert.same(started[r.job].params, r.params)
      assert.equal(last_epoch[r.job].val_accuracy, r.accuracy)
      assert.equal(last_epoch[r.job].val_loss, r.loss)
      if i > 1 then assert.is_true(summary.runs[i - 1].accuracy >= r.accuracy) end
    end
    assert.equal(summary.runs[1].run, summary.best)
    -- never more than two jobs at once, and two did run side by side
    assert.equal(2, most_at_once(sim, ids))
  end)

  it("with --parallel 1 runs the jobs one after the other", function()
    sim = helper.studio { speed = 300 }
    local out, rc = sweep(sim, "--json --parallel 1 --set trainingCycles=3 --grid learningRate=0.001,0.01,0.1")
    assert.equal(0, rc, out)
    local ids = {}
    for _, ev in ipairs(objects(out)) do
      if ev.type == "started" then ids[#ids + 1] = ev.job end
    end
    assert.equal(3, #ids)
    assert.equal(1, most_at_once(sim, ids))
  end)

  it("refuses a bad value of any combination before anything is sent, naming the field (exit 2)", function()
    sim = helper.studio {}
    local out, rc = sweep(sim, "--set trainingCycles=5 --grid learningRate=0.005,fast --grid batchSize=16,32")
    assert.equal(2, rc, out)
    assert.matches("invalid parameters for learningRate=fast batchSize=16: learningRate", out, 1, true)
    out, rc = sweep(sim, "--grid batchSize=16,-3.5x")
    assert.equal(2, rc, out)
    assert.matches("batchSize", out, 1, true)
    out, rc = sweep(sim, "--grid batchSize=16,,32")
    assert.equal(2, rc, out)
    assert.matches("--grid batchSize: an empty value", out, 1, true)
    out, rc = sweep(sim, "--set batchSize=8 --grid batchSize=16,32")
    assert.equal(2, rc, out)
    assert.matches("batchSize is both set and swept", out, 1, true)
    out, rc = sweep(sim, "--parallel 0 --grid batchSize=16,32")
    assert.equal(2, rc, out)
    out, rc = sweep(sim, "--set trainingCycles=5")
    assert.equal(2, rc, out)
    assert.matches("missing --grid", out, 1, true)
    assert.equal(0, #sim:requests("/jobs/train"))
  end)

  it("shows a failed run last in the table with its reason, and exits 0 when another trained", function()
    sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 2, message = "ERROR: simulated worker crash", nth = 2 } } }
    local out, rc = sweep(sim, "--parallel 1 --set trainingCycles=4 --grid learningRate=0.001,0.01,0.1 --grid batchSize=32")
    assert.equal(0, rc, out)
    local lines = helper.lines_of(out)
    local header
    for _, line in ipairs(lines) do
      if line:match("^%s+learningRate") then header = line end
    end
    assert.matches("^   learningRate  batchSize  VAL ACCURACY  VAL LOSS  TIME  JOB%s+STATUS$", header)
    local rows = {}
    for _, line in ipairs(lines) do
      if line:match("^%*?%s+0%.") then rows[#rows + 1] = line end
    end
    assert.equal(3, #rows, out)
    assert.matches("^%*%s+0%.", rows[1])
    assert.matches("%sok$", rows[1])
    assert.matches("%sok$", rows[2])
    assert.matches("^%s+0%.01%s+32%s+%-%s+%-%s+.*failed: ERROR: simulated worker crash$", rows[3])
    assert.matches("failed job %d+ learningRate=0.01 batchSize=32: ERROR: simulated worker crash", out)
    assert.matches("\nbest: learningRate=0%.[01]+ batchSize=32 %(job %d+, validation accuracy %d+%.%d+%%%)\n", out)
  end)

  it("exits 1 when every run failed", function()
    sim = helper.studio { speed = 300, scenario = { failJob = { atEpoch = 1, message = "ERROR: worker lost" } } }
    local out, rc = sweep(sim, "--set trainingCycles=3 --grid learningRate=0.001,0.01")
    assert.equal(1, rc, out)
    local _, failed = out:gsub("failed: ERROR: worker lost", "")
    assert.equal(2, failed, out)
    assert.is_nil(out:find("\nbest:", 1, true))
  end)

  it("exits 3 when no job could be started (the service is unreachable), and 2 for an unknown learn block name", function()
    sim = helper.studio {}
    local out, rc = sweep(sim, "--grid learningRate=0.001,0.01")
    assert.equal(0, rc, out)
    out, rc = helper.ei_train("sweep --learn 'No such block' --grid learningRate=0.001,0.01", env_of(sim))
    assert.equal(2, rc, out)
    assert.matches("no learn block named", out, 1, true)
    local url = sim.url
    sim:stop()
    sim = nil
    out, rc = helper.ei_train("sweep --learn 5 --grid learningRate=0.001,0.01",
      { host = url, key = "ei_0000", project = "1" })
    assert.equal(3, rc, out)
    assert.matches("failed learningRate=0.001: POST /api/1/jobs/train/keras/5: Failed to connect", out, 1, true)
  end)

  it("draws every run's validation curves with --plot, one line per run and a legend naming it", function()
    sim = helper.studio { speed = 300 }
    local svg = os.tmpname() .. ".svg"
    local out, rc = sweep(sim, ("--set trainingCycles=5 %s --plot %s"):format(GRID, q(svg)))
    assert.equal(0, rc, out)
    local text = assert(helper.read_file(svg))
    os.remove(svg)
    local _, lines = text:gsub('<polyline class="series" data%-series="val_accuracy"', "")
    assert.equal(6, lines)
    _, lines = text:gsub('<polyline class="series" data%-series="val_loss"', "")
    assert.equal(6, lines)
    local best = out:match("\nbest: ([^(]-) %(")
    assert.matches(">" .. best:gsub("%p", "%%%0") .. " %(best%)</text>", text)
    for _, lr in ipairs { "0.0005", "0.005", "0.05" } do
      for _, bs in ipairs { "16", "32" } do
        assert.matches(("learningRate=%s batchSize=%s"):format(lr, bs), text, 1, true)
      end
    end
  end)

  it("shows one line per running job on a 100-column tmux screen, then the ranked table", function()
    if not has("tmux") then pending("tmux is not installed") return end
    sim = helper.studio { speed = 25 }
    local width = 100
    local t = helper.tmux(helper.ei_train_command(sim, ("sweep --learn %d --parallel 2 --set trainingCycles=20 %s"):format(
      sim.learn_id, GRID)), width, 40)
    -- while two run: one status line, then one line per running job, nothing stale
    local live = helper.screen_when(t, "sweep of 6 runs, [%d.:]+s?: 2 running[^\n]*\nlearningRate=[^\n]*Epoch [1-9][^\n]*\nlearningRate=[^\n]*Epoch [1-9]", 90)
    local screen = helper.screen_when(t, "rc=%d+", 180)
    t.stop()
    assert.is_string(live, "no live view of two running jobs within 90 s")
    assert.is_string(screen, "the sweep did not end within 180 s")
    local live_lines = helper.lines_of(live)
    local status_lines, job_lines = 0, 0
    for i, line in ipairs(live_lines) do
      assert.is_true(#line <= width - 1, ("line %d is %d wide: %q"):format(i, #line, line))
      if line:match("^sweep of 6 runs") then status_lines = status_lines + 1 end
      if line:match("^learningRate=%S+ batchSize=%d+%s+job %d+  Epoch %d+/20 ") then job_lines = job_lines + 1 end
    end
    assert.equal(1, status_lines, live)
    assert.equal(2, job_lines, live)
    -- at the end: no live line left, six "done" lines, the table by accuracy
    local lines = helper.lines_of(screen)
    local done = 0
    for i, line in ipairs(lines) do
      assert.is_true(#line <= width, ("line %d is %d wide: %q"):format(i, #line, line))
      assert.is_nil(line:match("Epoch %d"), screen)
      assert.is_nil(line:match("^sweep of"), screen)
      if line:match("^done   job %d+ learningRate=") then done = done + 1 end
    end
    assert.equal(6, done, screen)
    local rows = table_rows(lines)
    assert.equal(6, #rows, screen)
    assert.matches("^%*", rows[1])
    for i = 2, #rows do
      assert.matches("^ ", rows[i])
      assert.is_true(accuracy_of(rows[i - 1]) >= accuracy_of(rows[i]), screen)
    end
    assert.matches("\nrc=0\n", screen)
  end)
end)

describe("ei-train sweep interrupted", function()
  it("Ctrl-C stops the sweep, names the jobs that go on in Studio and cancels none (exit 1)", function()
    if not has("tmux") then pending("tmux is not installed") return end
    local sim = helper.studio { speed = 10 }
    local t = helper.tmux(helper.ei_train_command(sim, ("sweep --learn %d --set trainingCycles=30 %s"):format(sim.learn_id, GRID)), 100)
    local live = helper.screen_when(t, "\nlearningRate=[^\n]*job (%d+)  Epoch [1-9][^\n]*\nlearningRate=[^\n]*job (%d+)  Epoch [1-9]", 90)
    t.keys("C-c")
    local screen = helper.screen_when(t, "rc=%d+", 60)
    t.stop()
    local cancels = #sim:requests("cancel")
    sim:stop()
    assert.is_string(live, "no two running jobs within 90 s")
    assert.is_string(screen, "ei-train did not end within 60 s of Ctrl-C")
    local a, b = live:match("\nlearningRate=[^\n]*job (%d+)  Epoch [1-9][^\n]*\nlearningRate=[^\n]*job (%d+)  Epoch")
    assert.matches(("ei-train: interrupted; jobs %s, %s go on in Studio\nrc=1\n"):format(a, b), screen, 1, true)
    assert.equal(0, cancels)
  end)
end)

describe("ei-train test and deploy", function()
  local sim, dir
  before_each(function()
    sim = helper.studio { speed = 300 }
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
  end)
  after_each(function()
    sim:stop()
    os.execute("rm -rf " .. q(dir))
  end)

  local function train_once()
    local client = sim:client()
    local r = assert(pipeline.train(client, sim.project_id, sim.learn_id, { trainingCycles = 6, learningRate = 0.005 }))
    client:close()
    assert.is_true(r.success)
  end

  it("test: exits 1 with the job's reason when nothing is trained", function()
    local out, rc = helper.ei_train("test", env_of(sim))
    assert.equal(1, rc, out)
    assert.matches("finished: failure (ERROR: The impulse has no trained model; train a learn block first)", out, 1, true)
  end)

  it("test: prints each variant's accuracy and confusion matrix as Studio reports them", function()
    train_once()
    local out, rc = helper.ei_train("test --variant int8,float32", env_of(sim))
    assert.equal(0, rc, out)
    assert.matches("Classifying test set with the float32 model OK\n", out, 1, true)
    local client = sim:client()
    for _, variant in ipairs { "int8", "float32" } do
      local res = assert(client:call("getClassifyJobResult", { projectId = sim.project_id, variant = variant }))
      local acc = res.accuracy
      assert.matches(("\n%s: accuracy %.2f%% (%d of 493 test samples right)\n"):format(
        variant, 100 * acc.accuracyScore, acc.totalSummary.good), out, 1, true)
      local block = out:match("\n" .. variant .. " confusion matrix [^\n]*\n(.-)\n\n") or out:match("\n" .. variant .. " confusion matrix [^\n]*\n(.*)$")
      assert.is_string(block, out)
      local lines = helper.lines_of(block .. "\n")
      assert.same({ "idle", "snake", "updown", "wave", "uncertain" }, { lines[1]:match("^%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)%s+(%S+)$") })
      for i, label in ipairs { "idle", "snake", "updown", "wave" } do
        local cells = { lines[i + 1]:match("^(%S+)" .. ("%s+(%S+)"):rep(5) .. "$") }
        assert.equal(label, cells[1])
        for j, predicted in ipairs { "idle", "snake", "updown", "wave", "uncertain" } do
          assert.equal(("%.1f"):format(acc.confusionMatrixValues[label][predicted]), cells[j + 1])
        end
      end
    end
    client:close()
  end)

  it("test --json: the job's events, then the result", function()
    train_once()
    local out, rc = helper.ei_train("test --json", env_of(sim))
    assert.equal(0, rc, out)
    local list = objects(out)
    assert.equal("finished", list[#list - 1].type)
    local result = list[#list]
    assert.is_true(result.success)
    assert.equal("int8", result.variant)
    assert.equal(493, result.good + result.bad)
  end)

  it("test: a model variant the API does not know exits 2 before anything is sent", function()
    local out, rc = helper.ei_train("test --variant int4", env_of(sim))
    assert.equal(2, rc, out)
    assert.matches("int4", out, 1, true)
    assert.equal(0, #sim:requests("/jobs/evaluate"))
    assert.equal(0, #sim:requests("classify"))
  end)

  it("deploy: an engine the API does not know exits 2 before anything is sent", function()
    train_once()
    local out, rc = helper.ei_train("deploy --type zip --engine eon --model-type int8 --output " .. q(dir .. "/m.zip"), env_of(sim))
    assert.equal(2, rc, out)
    assert.matches('engine: "eon" is not one of', out, 1, true)
    assert.equal(0, #sim:requests("/jobs/build%-ondevice%-model$"))
  end)

  it("deploy: builds, downloads the archive and prints its path, size and sha256; unzip lists the library", function()
    train_once()
    local path = dir .. "/model.zip"
    local out, rc = helper.ei_train("deploy --type zip --engine tflite-eon --model-type int8 --output " .. q(path), env_of(sim))
    assert.equal(0, rc, out)
    assert.matches("Creating archive OK", out, 1, true)
    local size = assert(io.open(path, "rb")):seek("end")
    local sum = io.popen("sha256sum " .. q(path)):read("a"):match("^(%x+)")
    local tail = ("\nfinished: success\npath    %s\nsize    %d bytes\nsha256  %s\n"):format(path, size, sum)
    assert.equal(tail, out:sub(-#tail))
    local listing = io.popen("unzip -l " .. q(path) .. " 2>&1"):read("a")
    for _, file in ipairs { "model-parameters/model_metadata.h", "edge-impulse-sdk/classifier/ei_run_classifier.h", "CMakeLists.txt" } do
      assert.matches(file, listing, 1, true)
    end
    local build = sim:requests("/jobs/build%-ondevice%-model$")
    assert.equal(1, #build)
    assert.equal("tflite-eon", build[1].body.engine)
    assert.equal("int8", build[1].body.modelType)
    assert.equal("zip", build[1].query.type)
  end)

  it("deploy: exits 1 with the reason when the build fails", function()
    sim:stop()
    sim = helper.studio { speed = 300, scenario = { failBuild = { message = "ERROR: EON Compiler crashed" } } }
    train_once()
    local out, rc = helper.ei_train("deploy --output " .. q(dir .. "/m.zip"), env_of(sim))
    assert.equal(1, rc, out)
    assert.matches("finished: failure (ERROR: EON Compiler crashed)", out, 1, true)
  end)

  it("deploy on an 80-column tmux screen: one step line redrawn in place, then the archive", function()
    if not has("tmux") then pending("tmux is not installed") return end
    train_once()
    sim:control("scenario", { speed = 5 }) -- the build takes ~2 s: long enough to see it live
    local path = dir .. "/model.zip"
    local width = 80
    local t = helper.tmux(helper.ei_train_command(sim, "deploy --output " .. q(path)), width, 20)
    local live = helper.screen_when(t, "%d:%d%d  [^\n]*[A-Za-z]", 60)
    local screen = helper.screen_when(t, "rc=%d+", 120)
    t.stop()
    assert.is_string(live, "no step line within 60 s")
    assert.is_string(screen, "deploy did not end within 120 s")
    local steps = 0
    for _, line in ipairs(helper.lines_of(live)) do
      assert.is_true(#line <= width - 1, ("%d wide: %q"):format(#line, line))
      if line:match("^%d+:%d%d  ") then steps = steps + 1 end
    end
    assert.equal(1, steps, live)
    local size = assert(io.open(path, "rb")):seek("end")
    assert.matches("^finished: success\npath    [^\n]*\nsize    " .. size .. " bytes\nsha256  %x+\nrc=0\n", screen)
  end)

  it("--help describes each command and exits 0", function()
    for _, row in ipairs { { "sweep", "--grid key=v1,v2" }, { "test", "--variant V" }, { "deploy", "--engine E" } } do
      local out, rc = helper.ei_train(row[1] .. " --help", env_of(sim))
      assert.equal(0, rc, out)
      assert.matches("usage: ei-train " .. row[1], out, 1, true)
      assert.matches(row[2], out, 1, true)
    end
  end)
end)
