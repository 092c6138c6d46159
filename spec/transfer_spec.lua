-- client:call moving bytes: multipart uploads from disk and responses streamed to a file.
local helper = require "helper"
local ei = require "ei"

local function sha256_of(path)
  local p = assert(io.popen("sha256sum " .. helper.quote(path)))
  local sum = p:read("a"):match("^(%x+)")
  p:close()
  return sum
end

local function write_random(path, bytes)
  local src = assert(io.open("/dev/urandom", "rb"))
  local out = assert(io.open(path, "wb"))
  out:write(src:read(bytes))
  src:close()
  out:close()
end

local function new_dir()
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir " .. helper.quote(dir)))
  return dir
end

local function entries(dir)
  local list = {}
  local p = assert(io.popen("ls -A " .. helper.quote(dir)))
  for name in p:lines() do list[#list + 1] = name end
  p:close()
  table.sort(list)
  return list
end

local function cleanup(sim, client, dir)
  client:close()
  sim:stop()
  os.execute("rm -rf " .. helper.quote(dir))
end

-- A finished job of the simulator whose stored log is `lines` lines long.
local function long_job(sim, client, lines)
  sim:control("scenario", { fastStream = { lines = lines } })
  local res = assert(client:call("trainKerasJob", { projectId = sim.project_id, learnId = sim.learn_id, body = {} }))
  assert(helper.eventually(function()
    local st = client:call("getJobStatus", { projectId = sim.project_id, jobId = res.id })
    return st and st.job.finished
  end, 60), "the long job did not finish")
  sim:control("scenario", { fastStream = false })
  return res.id
end

describe("a multipart upload", function()
  local sim, client, dir
  setup(function()
    sim = helper.studio()
    client = sim:client { on_warning = function() end }
    dir = new_dir()
  end)
  teardown(function() cleanup(sim, client, dir) end)

  local function upload(body, opts)
    return client:call("uploadPretrainedModel", { projectId = sim.project_id, body = body }, opts)
  end

  it("streams a multi-MB file from disk and it arrives intact, with the form fields and repeated parts", function()
    local model = dir .. "/model.tflite"
    write_random(model, 6 * 1024 * 1024 + 123)
    local progress = {}
    local res = assert(upload({
      modelFile = ei.file(model), modelFileName = "model.tflite", modelFileType = "tflite",
      overrideInputShape = { 1, 96, 96, 3 }, device = "cortex-m4f-80mhz",
    }, { progress = function(done, total) progress[#progress + 1] = { done, total } end }))
    assert.equal("integer", math.type(res.id))
    local sent = sim:requests("/pretrained%-model/upload$", "POST")
    local body = sent[#sent].body
    assert.equal(200, sent[#sent].status)
    assert.matches("^multipart/form%-data; boundary=", sent[#sent].headers["content-type"])
    assert.same({ filename = "model.tflite", contentType = "application/octet-stream", size = 6 * 1024 * 1024 + 123,
      sha256 = sha256_of(model) }, body.modelFile)
    assert.equal("model.tflite", body.modelFileName)
    assert.equal("tflite", body.modelFileType)
    assert.equal("cortex-m4f-80mhz", body.device)
    assert.same({ "1", "96", "96", "3" }, body.overrideInputShape)
    -- progress counts the bytes sent, never backwards, up to the whole body
    assert.is_true(#progress >= 2)
    for i = 2, #progress do assert.is_true(progress[i][1] > progress[i - 1][1]) end
    local last = progress[#progress]
    assert.equal(last[2], last[1])
    assert.is_true(last[1] > 6 * 1024 * 1024)
    -- the job the upload started ran on what arrived
    local job = client:job(sim.project_id, res.id)
    local lines = {}
    for ev in job:updates() do if ev.type == "log" then lines[#lines + 1] = ev.line end end
    assert.matches("sha256 " .. sha256_of(model), table.concat(lines, "\n"), 1, true)
    job:close()
  end)

  it("names a missing file in nil, message, EINVAL and sends nothing", function()
    local before = #sim:requests("/pretrained%-model/upload$")
    local missing = dir .. "/no-such-model.tflite"
    local res, err, code = upload { modelFile = ei.file(missing), modelFileName = "m", modelFileType = "onnx" }
    assert.is_nil(res)
    assert.equal("EINVAL", code)
    assert.matches("modelFile: cannot read file '" .. missing .. "': No such file or directory", err, 1, true)
    assert.equal(before, #sim:requests("/pretrained%-model/upload$"))
  end)

  it("checks the body against the schema first: a file only where it wants binary data", function()
    local res, err, code = upload { modelFile = ei.file("/etc/hostname"), modelFileName = ei.file("/etc/hostname"), modelFileType = "onnx" }
    assert.is_nil(res)
    assert.equal("EINVAL", code)
    assert.equal("modelFileName: expected string, got table", err)
    _, err = upload { modelFile = ei.file("/etc/hostname"), modelFileName = "m", modelFileType = "tf" }
    assert.matches('^modelFileType: "tf" is not one of tflite, onnx, saved_model', err)
    _, err = client:call("trainKerasJob", { projectId = sim.project_id, learnId = sim.learn_id,
      body = { trainingProcessor = ei.file("/etc/hostname") } })
    assert.matches("^trainingProcessor: expected string, got table", err)
  end)

  it("sends a string in a binary field as a plain form field, which the simulator refuses as Studio wants a file", function()
    local res, err, code = upload { modelFile = "not a file", modelFileName = "m", modelFileType = "onnx" }
    assert.is_nil(res)
    assert.equal("EAPI", code)
    assert.matches("modelFile: must be a file part", err, 1, true)
  end)

  it("sends a file under the name and content type given", function()
    assert(upload { modelFile = ei.file("/etc/hostname", "saved.zip", "application/zip"), modelFileName = "saved.zip",
      modelFileType = "saved_model" })
    local sent = sim:requests("/pretrained%-model/upload$", "POST")
    local file = sent[#sent].body.modelFile
    assert.equal("saved.zip", file.filename)
    assert.equal("application/zip", file.contentType)
    assert.equal(sha256_of("/etc/hostname"), file.sha256)
  end)
end)

-- Run a download in a child process, so that its peak memory is its own: it fetches
-- the log twice, to a file and then into memory, and reports VmHWM growth (kB) and
-- the Lua heap's peak (kB) during each.
local MEASURE = [[
local ei = require "ei"
local url, key, pid, job, output = ...
local function hwm()
  for line in io.lines("/proc/self/status") do
    local kb = line:match("^VmHWM:%s*(%d+)")
    if kb then return tonumber(kb) end
  end
end
local client = assert(ei.new { host = url, api_key = key, timeout = 120 })
local args = { projectId = math.tointeger(pid), jobId = math.tointeger(job) }
collectgarbage()
local lua_peak = collectgarbage("count")
local function sample() lua_peak = math.max(lua_peak, collectgarbage("count")) end
assert(client:call("getJobStatus", args)) -- libcurl loaded, a connection made
local before = hwm()
local res = assert(client:call("downloadJobsLogs", args, { output = output, progress = sample }))
sample()
local streamed, streamed_lua = hwm() - before, lua_peak
collectgarbage()
before, lua_peak = hwm(), collectgarbage("count")
local text = assert(client:call("downloadJobsLogs", args))
sample()
print(("%d %s %d %d %d %d"):format(res.size, res.sha256, streamed, math.floor(streamed_lua), hwm() - before, #text))
]]

describe("a response written to a file", function()
  local sim, client, dir, job_id, expected
  setup(function()
    sim = helper.studio()
    client = sim:client { backoff = 0.01 }
    dir = new_dir()
    job_id = long_job(sim, client, 200000)
    expected = assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job_id }))
    helper.write_file(dir .. "/expected.log", expected)
    assert.is_true(#expected > 5 * 1024 * 1024)
  end)
  teardown(function() cleanup(sim, client, dir) end)

  local function download(name, job)
    return client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job or job_id }, { output = dir .. "/" .. name })
  end

  it("holds the simulator's bytes, with their size and sha256, and reports progress up to the size", function()
    local progress = {}
    local res = assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job_id },
      { output = dir .. "/job.log", progress = function(done, total) progress[#progress + 1] = { done, total } end }))
    assert.equal(dir .. "/job.log", res.path)
    assert.equal(#expected, res.size)
    assert.equal(sha256_of(dir .. "/expected.log"), res.sha256)
    assert.equal(expected, helper.read_file(res.path))
    assert.matches("^text/plain", res.content_type)
    assert.same({ "expected.log", "job.log" }, entries(dir))
    assert.is_true(#progress >= 2)
    for i = 2, #progress do assert.is_true(progress[i][1] > progress[i - 1][1]) end
    assert.same({ #expected, #expected }, progress[#progress])
  end)

  it("makes an empty file for an empty answer, and hashes answers of every length", function()
    local res = assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job_id, limit = 0 },
      { output = dir .. "/empty.log" }))
    assert.equal(0, res.size)
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", res.sha256)
    assert.equal("", helper.read_file(dir .. "/empty.log"))
    for _, limit in ipairs { 1, 2, 3, 17, 1000 } do
      res = assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job_id, limit = limit },
        { output = dir .. "/empty.log" }))
      assert.equal(sha256_of(dir .. "/empty.log"), res.sha256)
      assert.equal(#helper.read_file(dir .. "/empty.log"), res.size)
    end
    os.remove(dir .. "/empty.log")
  end)

  it("never holds the response in memory: peak memory grows far less than the file, unlike an in-memory call", function()
    local script = dir .. "/measure.lua"
    helper.write_file(script, MEASURE)
    local cmd = ("LUA_PATH=%s LUA_CPATH=%s %s %s %s %s %d %d %s 2>&1"):format(helper.quote(helper.lua_path),
      helper.quote(helper.lua_cpath), helper.quote(helper.lua), helper.quote(script), helper.quote(sim.url),
      helper.quote(sim.api_key), sim.project_id, job_id, helper.quote(dir .. "/measured.log"))
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    local size, sha, streamed_kb, streamed_lua_kb, in_memory_kb, text_len = out:match("^(%d+) (%x+) (%-?%d+) (%d+) (%-?%d+) (%d+)")
    assert(size, out)
    size = tonumber(size)
    assert.equal(#expected, size)
    assert.equal(sha256_of(dir .. "/expected.log"), sha)
    assert.equal(#expected, tonumber(text_len))
    -- the file is 5.8 MB: streaming it grows the process by under a quarter of that
    -- and the Lua heap stays under 1 MB, while holding it in memory costs it all
    assert.is_true(tonumber(streamed_kb) * 1024 < size / 4, out)
    assert.is_true(tonumber(streamed_lua_kb) < 1024, out)
    assert.is_true(tonumber(in_memory_kb) * 1024 > size, out)
    os.remove(dir .. "/measured.log")
    os.remove(script)
  end)

  it("restarts the file when an interrupted transfer is retried", function()
    local before = #sim:requests("/stdout/download$")
    sim:control("scenario", { truncate = { { match = "downloadJobsLogs", bytes = 3000000, count = 1 } } })
    local res = assert(download("retried.log"))
    assert.equal(before + 2, #sim:requests("/stdout/download$"))
    assert.equal(#expected, res.size)
    assert.equal(sha256_of(dir .. "/expected.log"), res.sha256)
    assert.equal(sha256_of(dir .. "/expected.log"), sha256_of(dir .. "/retried.log"))
    assert.same({ "expected.log", "job.log", "retried.log" }, entries(dir))
  end)

  it("leaves no file after a 404, and an existing file untouched", function()
    local res, err, code = download("missing.log", 1)
    assert.is_nil(res)
    assert.equal("EAPI", code)
    assert.matches("Job 1 not found %(HTTP 404%)", err)
    helper.write_file(dir .. "/kept.log", "an earlier download\n")
    assert.is_nil(download("kept.log", 1))
    assert.equal("an earlier download\n", helper.read_file(dir .. "/kept.log"))
    assert.same({ "expected.log", "job.log", "kept.log", "retried.log" }, entries(dir))
  end)

  it("leaves no file when every attempt is cut off", function()
    sim:control("scenario", { truncate = { { match = "downloadJobsLogs", count = 10 } } })
    local res, err, code = download("cut.log")
    sim:control("scenario", { truncate = {} })
    assert.is_nil(res)
    assert.equal("ECONNECT", code)
    assert.matches("downloadJobsLogs", err .. " downloadJobsLogs")
    assert.is_nil(helper.read_file(dir .. "/cut.log"))
    assert.same({ "expected.log", "job.log", "kept.log", "retried.log" }, entries(dir))
  end)

  it("names an output it cannot create in nil, message, EINVAL", function()
    local res, err, code = download("no/such/dir/x.log")
    assert.is_nil(res)
    assert.equal("EINVAL", code)
    assert.matches("cannot write '" .. dir .. "/no/such/dir/x.log': No such file or directory", err, 1, true)
  end)

  it("never replaces a device, a pipe or a directory with the answer", function()
    assert(os.execute("mkfifo " .. helper.quote(dir .. "/fifo") .. " && mkdir " .. helper.quote(dir .. "/sub")))
    local _, err, code = client:call("getJobStatus", { projectId = sim.project_id, jobId = job_id }, { output = "/dev/null" })
    assert.equal("EINVAL", code)
    assert.matches("cannot write '/dev/null': it exists and is not a regular file", err, 1, true)
    _, err = download("fifo")
    assert.matches("it exists and is not a regular file", err, 1, true)
    _, err = download("sub")
    assert.matches("Is a directory", err, 1, true)
    local f = assert(io.open("/dev/null", "w")) -- still the device
    assert(f:write("x"))
    f:close()
    assert.is_nil(helper.read_file("/dev/null"):find("x"))
    os.remove(dir .. "/fifo")
    os.remove(dir .. "/sub")
  end)

  it("refuses an answer of HTTP 200 with success:false instead of saving it", function()
    local errors = helper.studio { scenario = { errorsAs200 = true } }
    local c = errors:client()
    local res, err, code = c:call("getJobStatus", { projectId = errors.project_id, jobId = 1 }, { output = dir .. "/status.json" })
    assert.is_nil(res)
    assert.equal("EAPI", code)
    assert.matches("Job 1 not found", err)
    assert.is_nil(helper.read_file(dir .. "/status.json"))
    res = assert(client:call("getJobStatus", { projectId = sim.project_id, jobId = job_id }, { output = dir .. "/status.json" }))
    assert.equal(job_id, helper.json.decode(helper.read_file(res.path)).job.id)
    os.remove(res.path)
    c:close()
    errors:stop()
  end)
end)
