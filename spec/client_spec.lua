-- The client against the Studio simulator: credentials, errors, retries.
local helper = require "helper"
local ei = require "ei"
local core = require "ei.core"

-- A local HTTP server answering every request with a fixed response.
local function raw_server(status, content_type, body)
  local server = helper.node_server(([[
    const http = require('http');
    const s = http.createServer((q, r) => { r.writeHead(%d, {'content-type': %q}); r.end(%q); });
    s.listen(0, '127.0.0.1', () => { console.log(s.address().port); });
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
  ]]):format(status, content_type, body))
  server.url = "http://127.0.0.1:" .. server.port
  return server
end

describe("a client", function()
  local sim
  setup(function() sim = helper.studio() end)
  teardown(function() sim:stop() end)

  it("authenticates with an API key in x-api-key", function()
    local client = sim:client()
    local res = assert(client:impulse(sim.project_id))
    assert.is_table(res.impulse)
    local req = sim:requests("/impulse$")[1]
    assert.equal("<redacted>", req.headers["x-api-key"])
    client:close()
  end)

  -- The headers of the newest recorded request for the impulse (values redacted).
  local function last_impulse_headers()
    local list = sim:requests("/impulse$")
    return list[#list].headers
  end

  it("authenticates with a JWT in x-jwt-token", function()
    local client = sim:client { jwt = sim.ready.jwt }
    assert(client:impulse(sim.project_id))
    local headers = last_impulse_headers()
    assert.equal("<redacted>", headers["x-jwt-token"])
    assert.is_nil(headers.cookie)
    assert.is_nil(headers["x-api-key"])
    client:close()
  end)

  it("authenticates with a JWT cookie", function()
    local client = sim:client { jwt_cookie = sim.ready.jwt }
    assert(client:impulse(sim.project_id))
    local headers = last_impulse_headers()
    assert.equal("<redacted>", headers.cookie)
    assert.is_nil(headers["x-jwt-token"])
    assert.is_nil(headers["x-api-key"])
    client:close()
  end)

  it("fetches an OAuth2 token with client credentials and sends it as a bearer", function()
    local client = sim:client { oauth2 = { client_id = sim.ready.oauth_client_id, client_secret = sim.ready.oauth_client_secret } }
    assert(client:impulse(sim.project_id))
    assert(client:impulse(sim.project_id))
    assert.equal(1, #sim:requests("^/v1/oauth/token$", "POST"))
    client:close()
    -- both calls carried the token as a bearer (recorded redacted) and were accepted
    local calls = sim:requests("/impulse$")
    for i = #calls - 1, #calls do
      assert.equal("<redacted>", calls[i].headers.authorization)
      assert.is_nil(calls[i].headers["x-api-key"])
      assert.equal(200, calls[i].status)
    end
  end)

  it("refuses a wrong API key with EAUTH and never shows the key", function()
    local key = "ei_wrong_key_0123456789abcdef"
    local client = sim:client { api_key = key }
    local res, err, code = client:impulse(sim.project_id)
    assert.is_nil(res)
    assert.equal("EAUTH", code)
    assert.matches("401", err)
    assert.is_nil(err:find(key, 1, true))
    client:close()
  end)

  it("reports a Studio error for an unknown job as EAPI with its text", function()
    local client = sim:client()
    local job = client:job(sim.project_id, 999)
    local st, err, code = job:status()
    assert.is_nil(st)
    assert.equal("EAPI", code)
    assert.matches("not found", err)
    client:close()
  end)

  it("keeps job ids as Lua integers", function()
    local client = sim:client()
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 2 }))
    assert.equal("integer", math.type(job.id))
    assert.is_true(job.id >= 12873488112)
    local st = assert(job:status())
    assert.equal("integer", math.type(st.id))
    assert.equal(job.id, st.id)
    client:close()
  end)

  it("returns EINVAL naming the field before sending an invalid body", function()
    local client = sim:client()
    local before = #sim:requests("/jobs/train/keras/")
    local job, err, code = client:train_keras(sim.project_id, sim.learn_id, { learningrate = 0.1 })
    assert.is_nil(job)
    assert.equal("EINVAL", code)
    assert.matches('learningrate: unknown field (did you mean "learningRate"?)', err, 1, true)
    assert.equal(before, #sim:requests("/jobs/train/keras/"))
    client:close()
  end)

  it("sends exactly the fields the table holds, nested and null ones included", function()
    local client = sim:client()
    local params = {
      mode = "visual", trainingCycles = 3, learningRate = 0.005, batchSize = 32, autoClassWeights = false,
      visualLayers = { { type = "dense", neurons = 20 }, { type = "dropout", dropoutRate = 0.25 } },
      augmentationPolicySpectrogram = { enabled = true, freqMasking = "low" },
      customParameters = { ["some-param"] = "1", other = ei.null },
    }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, params))
    local sent = sim:requests("/jobs/train/keras/")
    local body = sent[#sent].body
    local json = helper.json
    assert.same({
      mode = "visual", trainingCycles = 3, learningRate = 0.005, batchSize = 32, autoClassWeights = false,
      visualLayers = { { type = "dense", neurons = 20 }, { type = "dropout", dropoutRate = 0.25 } },
      augmentationPolicySpectrogram = { enabled = true, freqMasking = "low" },
      customParameters = { ["some-param"] = "1", other = json.null },
    }, body)
    assert.equal("integer", math.type(body.trainingCycles))
    assert(job:wait(30))
    client:close()
  end)

  it("sends an empty visualLayers as an empty array", function()
    local client = sim:client()
    assert(client:set_keras_config(sim.project_id, sim.learn_id, { visualLayers = {} }))
    local sent = sim:requests("/training/keras/", "POST")
    assert.matches('"visualLayers":%[%]', sent[#sent].raw)
    client:close()
  end)

  it("sends a deprecated field and warns about it once", function()
    local warnings = {}
    local client = sim:client { on_warning = function(msg) warnings[#warnings + 1] = msg end }
    for _ = 1, 2 do
      assert(client:set_keras_config(sim.project_id, sim.learn_id, { minimumConfidenceRating = 0.6 }))
    end
    assert.equal(1, #warnings)
    assert.matches("minimumConfidenceRating", warnings[1])
    local sent = sim:requests("/training/keras/", "POST")
    assert.equal(0.6, sent[#sent].body.minimumConfidenceRating)
    client:close()
  end)

  it("refuses a field newer than the bundled schema by default, with did-you-mean, sending nothing", function()
    local client = sim:client()
    local before = #sim:requests("/jobs/train/keras/")
    local job, err, code = client:train_keras(sim.project_id, sim.learn_id, { trainingProcessorX = "gpu" })
    assert.is_nil(job)
    assert.equal("EINVAL", code)
    assert.equal('trainingProcessorX: unknown field (did you mean "trainingProcessor"?)', err)
    assert.equal(before, #sim:requests("/jobs/train/keras/"))
    client:close()
  end)

  it("sends an unknown field under unknown_fields = \"send\"; the simulator accepts it as Studio does", function()
    local warnings = {}
    local client = sim:client { unknown_fields = "send", on_warning = function(msg) warnings[#warnings + 1] = msg end }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id,
      { trainingProcessorX = "gpu", trainingCycles = 2, visualLayers = { { type = "dense", neurons = 4, sparsity = 0.5 } } }))
    local sent = sim:requests("/jobs/train/keras/", "POST")
    local body = sent[#sent].body
    assert.equal("gpu", body.trainingProcessorX)
    assert.equal(0.5, body.visualLayers[1].sparsity)
    assert.equal(200, sent[#sent].status)
    assert.same({}, warnings)
    assert.is_true(job:wait(30))
    job:close()
    client:close()
  end)

  it("warns once per field path under \"warn\" (per call) and sends the field", function()
    local warnings = {}
    local client = sim:client { on_warning = function(msg) warnings[#warnings + 1] = msg end }
    for _ = 1, 2 do
      assert(client:set_keras_config(sim.project_id, sim.learn_id,
        { trainingProcessorX = "gpu", augmentationPolicySpectrogram = { enabled = true, warpX = 1 } }, { unknown_fields = "warn" }))
    end
    table.sort(warnings)
    assert.same({
      "setKeras: field 'augmentationPolicySpectrogram.warpX' is not in the bundled schema; it is sent as given",
      "setKeras: field 'trainingProcessorX' is not in the bundled schema (did you mean \"trainingProcessor\"?); it is sent as given",
    }, warnings)
    local sent = sim:requests("/training/keras/", "POST")
    assert.equal("gpu", sent[#sent].body.trainingProcessorX)
    assert.equal(1, sent[#sent].body.augmentationPolicySpectrogram.warpX)
    client:close()
  end)

  it("refuses a wrong known field in every unknown_fields mode, and a per-call \"error\" overrides the client", function()
    for _, mode in ipairs { "error", "warn", "send" } do
      local client = sim:client { unknown_fields = mode, on_warning = function() end }
      local job, err, code = client:train_keras(sim.project_id, sim.learn_id, { trainingProcessorX = "gpu", learningRate = "fast" })
      assert.is_nil(job)
      assert.equal("EINVAL", code)
      assert.equal("learningRate: expected number, got string", err)
      local _, err2 = client:call("setKeras", { projectId = sim.project_id, learnId = sim.learn_id, body = { trainingProcessorX = "gpu" } },
        { unknown_fields = "error" })
      assert.matches("unknown field", err2)
      client:close()
    end
  end)

  it("raises on a wrong unknown_fields value or an unknown call option", function()
    assert.has_error(function() ei.new { unknown_fields = "maybe" } end,
      'ei.new: option \'unknown_fields\' must be "error", "warn" or "send", not "maybe"')
    local client = sim:client()
    assert.has_error(function() client:call("getImpulse", { projectId = 1 }, { unknown = "send" }) end,
      "bad argument #3 to 'call' (unknown option 'unknown')")
    assert.has_error(function() client:train_keras(1, 2, {}, { unknown_fields = "loud" }) end)
    assert.has_error(function() client:call("getImpulse", { projectId = 1 }, { output = 5 }) end,
      "bad argument #3 to 'call' (option 'output' must be a string)")
    client:close()
  end)

  it("calls operations by operationId with path, query and body parameters", function()
    local client = sim:client()
    local pid = sim.project_id
    local info = assert(client:call("getProjectInfo", { projectId = pid }))
    assert.is_table(info.project)
    local job = assert(client:train_keras(pid, sim.learn_id, { trainingCycles = 2 }))
    assert(job:wait(30))
    local logs = assert(client:call("getJobsLogs", { projectId = pid, jobId = job.id, limit = 3 }))
    assert.equal(3, #logs.stdout)
    local q = sim:requests("/stdout$")
    assert.equal("3", tostring(q[#q].query.limit))
    local keras = assert(client:call("getKeras", { projectId = pid, learnId = sim.learn_id }))
    assert.equal(2, keras.trainingCycles)
    local feat = assert(client:call("generateFeaturesJob", { projectId = pid, body = { dspId = sim.dsp_id } }))
    assert.equal("integer", math.type(feat.id))
    local active = assert(client:call("listActiveJobs", { projectId = pid }))
    assert.is_table(active.jobs)
    local res, err, code = client:call("cancelJob", { projectId = pid, jobId = job.id, forceCancel = "true" })
    assert.is_nil(res) -- the job already finished: Studio answers 200 with success:false
    assert.equal("EAPI", code)
    local c = sim:requests("/cancel$")
    assert.equal("true", c[#c].query.forceCancel)
    assert.has_error(function() client:call("getJobStatuss", {}) end)
    local _, err2, code2 = client:call("getJobStatus", { projectId = pid, jobid = 1 })
    assert.equal("EINVAL", code2)
    assert.matches("jobId", err2)
    client:close()
  end)

  it("generates features for a DSP block and follows that job", function()
    local client = sim:client()
    local job = assert(client:generate_features(sim.project_id, sim.dsp_id))
    assert.is_true(job:wait(30))
    local sent = sim:requests("/jobs/generate%-features$")
    assert.same({ dspId = sim.dsp_id }, sent[#sent].body)
    client:close()
  end)

  it("raises on misuse: wrong argument types and a closed client", function()
    local client = sim:client()
    assert.has_error(function() client:train_keras("1", sim.learn_id, {}) end)
    assert.has_error(function() ei.new { timeout = "soon" } end)
    assert.has_error(function() ei.new { apikey = "x" } end)
    client:close()
    client:close()
    assert.has_error(function() client:impulse(sim.project_id) end)
  end)

  it("tells the Lua client from its C transport by name, and the transport has the request method http adds", function()
    local client = sim:client()
    assert.matches("^ei%.Client %(", tostring(client))
    local transport = core.client()
    assert.equal("ei.core.Client", getmetatable(transport).__name)
    assert.matches("^ei%.core%.Client %(0?x?%x+%)$", tostring(transport))
    assert.is_function(transport.request)
    transport:close()
    assert.matches("^ei%.core%.Client %(closed, ", tostring(transport))
    assert.error_matches(function() transport:request { url = sim.url } end, "closed client")
    client:close()
  end)

  it("refuses plain http to a host that is not loopback", function()
    local client = ei.new { host = "http://studio.example.com", api_key = "ei_x" }
    local res, err, code = client:impulse(1)
    assert.is_nil(res)
    assert.equal("EINVAL", code)
    assert.matches("plain http", err)
    client:close()
  end)

  it("reports a refused connection as ECONNECT after its retries", function()
    local client = ei.new { host = "http://127.0.0.1:1", api_key = "ei_x", retries = 1, backoff = 0.01 }
    local res, err, code = client:impulse(1)
    assert.is_nil(res)
    assert.equal("ECONNECT", code)
    assert.matches("127.0.0.1", err)
    client:close()
  end)
end)

describe("a client starting many jobs at once", function()
  it("keeps at most 16 requests in flight and starts them all", function()
    local sim = helper.studio { speed = 300, scenario = { slow = { { match = "trainKerasJob", delayMs = 200 } } } }
    local client = sim:client()
    local tasks = {}
    for i = 1, 100 do
      tasks[i] = function() return (assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 1 }))).id end
    end
    local ids = { ei.run(table.unpack(tasks)) }
    assert.equal(100, #ids)
    local p = assert(io.popen(("curl -s %s/__sim/stats"):format(sim.url)))
    local stats = helper.json.decode(p:read("a"))
    p:close()
    -- One connection per request in flight, reused for the next (101 without the cap).
    -- A slow host may see an idle connection closed and opened again: a margin.
    assert.is_true(stats.tcpConnections <= 32, stats.tcpConnections)
    assert.equal(100, #sim:requests("/jobs/train/keras/"))
    client:close()
    sim:stop()
  end)
end)

describe("a client meeting a flaky server", function()
  it("retries 503 answers and succeeds", function()
    local sim = helper.studio { scenario = { http503 = 2 } }
    local client = sim:client { backoff = 0.01 }
    assert(client:impulse(sim.project_id))
    local statuses = {}
    for _, r in ipairs(sim:requests("/impulse$")) do statuses[#statuses + 1] = r.status end
    assert.same({ 503, 503, 200 }, statuses)
    client:close()
    sim:stop()
  end)

  it("gives up after its retries with the last status", function()
    local sim = helper.studio { scenario = { http503 = 10 } }
    local client = sim:client { backoff = 0.01, retries = 2 }
    local res, err, code = client:impulse(sim.project_id)
    assert.is_nil(res)
    -- the 503 carries Studio's {"success":false,"error":…}: an API error with its text
    assert.equal("EAPI", code)
    assert.matches("503", err)
    assert.matches("Service temporarily unavailable", err)
    assert.equal(3, #sim:requests("/impulse$"))
    client:close()
    sim:stop()
  end)

  it("honours Retry-After on 429", function()
    local sim = helper.studio { scenario = { http429 = { count = 1, retryAfter = 1 } } }
    local client = sim:client { backoff = 0.01 }
    local t0 = core.monotime()
    assert(client:impulse(sim.project_id))
    assert.is_true(core.monotime() - t0 >= 0.95)
    assert.equal(2, #sim:requests("/impulse$"))
    client:close()
    sim:stop()
  end)

  it("never retries other 4xx answers", function()
    local sim = helper.studio()
    local client = sim:client { backoff = 0.01 }
    local before = #sim:requests("/jobs/")
    assert.is_nil(client:job(sim.project_id, 4242):status())
    assert.equal(before + 1, #sim:requests("/jobs/"))
    client:close()
    sim:stop()
  end)

  it("times out a stalled response with ETIMEDOUT", function()
    local sim = helper.studio { scenario = { stall = { { match = "getImpulse", count = 10 } } } }
    local client = sim:client { timeout = 0.3, retries = 1, backoff = 0.01 }
    local t0 = core.monotime()
    local res, _, code = client:impulse(sim.project_id)
    assert.is_nil(res)
    assert.equal("ETIMEDOUT", code)
    -- both attempts reached the simulator and were held there
    local held = sim:requests("/impulse$")
    assert.equal(2, #held)
    for _, r in ipairs(held) do assert.is_true(r.stalled) end
    -- two 0.3 s attempts; the default timeout (30 s) would not have ended one yet
    assert.is_true(core.monotime() - t0 < 20)
    client:close()
    sim:stop()
  end)

  -- status, content type, body, expected code, expected text in the message
  for _, case in ipairs {
    { "reports a non-JSON error page as EHTTP", 404, "text/html", "<h1>not here</h1>", "EHTTP", "HTTP 404" },
    { "reports malformed JSON as EPROTO", 200, "application/json", '{"success": tru', "EPROTO", "malformed JSON" },
    { "reports HTTP 200 with success:false as EAPI", 200, "application/json",
      '{"success":false,"error":"Learn block not found"}', "EAPI", "Learn block not found" },
  } do
    local name, status, content_type, body, want_code, want_text = table.unpack(case)
    it(name, function()
      local server = raw_server(status, content_type, body)
      local client = ei.new { host = server.url, api_key = "ei_x", retries = 0 }
      local res, err, code = client:impulse(1)
      assert.is_nil(res)
      assert.equal(want_code, code)
      assert.matches(want_text, err, 1, true)
      client:close()
      server.stop()
    end)
  end
end)

-- The suite's secret audit (spec/support/audit.lua) wraps on_warning, so the default
-- warning path runs here in a child process of its own, its stderr captured.
describe("a client's default warnings", function()
  it("go to stderr once per field, prefixed 'ei: warning:', and the job still starts", function()
    local sim = helper.studio { speed = 300 }
    local script, err_file = os.tmpname(), os.tmpname()
    helper.write_file(script, ([[
      local ei = require "ei"
      local client = assert(ei.new { host = %q, api_key = %q, unknown_fields = "warn" })
      for _ = 1, 2 do
        local job = assert(client:train_keras(%d, %d, { trainingCycles = 1, minimumConfidenceRating = 0.5, learningRat = 0.01 }))
        io.write("started ", job.id, "\n")
      end
      client:close()
    ]]):format(sim.url, sim.api_key, sim.project_id, sim.learn_id))
    local p = assert(io.popen(("LUA_PATH=%s LUA_CPATH=%s %s %s 2> %s"):format(helper.quote(helper.lua_path),
      helper.quote(helper.lua_cpath), helper.quote(helper.lua), helper.quote(script), helper.quote(err_file))))
    local out = p:read("a")
    p:close()
    local err = helper.read_file(err_file)
    os.remove(script)
    os.remove(err_file)
    helper.audit("child stderr", err)
    assert.equal(2, #sim:requests("/jobs/train/keras/", "POST"))
    sim:stop()
    assert.equal(2, select(2, out:gsub("started %d+\n", "")), out)
    assert.equal("ei: warning: trainKerasJob: field 'minimumConfidenceRating' is deprecated (it is still sent)\n"
      .. "ei: warning: trainKerasJob: field 'learningRat' is not in the bundled schema (did you mean \"learningRate\"?); it is sent as given\n",
      err)
  end)
end)

describe("a job's REST calls", function()
  it("cancel(true) asks Studio for a forced cancel and the job ends failed; cancel() asks plainly", function()
    local sim = helper.studio { speed = 5 }
    local client = sim:client { status_interval = 0.5, backoff = 0.01 }
    local forced = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    local plain = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 30 }))
    assert.is_true(forced:cancel(true))
    assert.is_true(plain:cancel())
    assert.same({ false, "canceled" }, { forced:wait(60) })
    assert.same({ false, "canceled" }, { plain:wait(60) })
    local cancels = sim:requests("/cancel$", "POST")
    assert.equal(2, #cancels)
    assert.equal(("/v1/api/%d/jobs/%d/cancel"):format(sim.project_id, forced.id), cancels[1].path)
    assert.same({ forceCancel = "true" }, cancels[1].query)
    assert.equal(("/v1/api/%d/jobs/%d/cancel"):format(sim.project_id, plain.id), cancels[2].path)
    assert.same({}, cancels[2].query)
    local stored = helper.lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = forced.id })))
    assert.equal("Job was cancelled by user (forced)", stored[#stored])
    client:close()
    sim:stop()
  end)

  describe("on a finished job", function()
    local sim, client, job, stored
    setup(function()
      sim = helper.studio { speed = 300 }
      client = sim:client()
      job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 3 }))
      assert.is_true(job:wait(60))
      stored = helper.lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job.id })))
    end)
    teardown(function()
      client:close()
      sim:stop()
    end)

    it("logs() gives the stored log oldest first, logs(n) its last n lines", function()
      assert.is_true(#stored > 5)
      assert.same(stored, assert(job:logs()))
      assert.same({ table.unpack(stored, #stored - 2) }, assert(job:logs(3)))
      local asked = sim:requests("/stdout$", "GET")
      assert.same({ limit = "3" }, asked[#asked].query)
    end)

    it("logs() of a job Studio does not know returns EAPI with Studio's text", function()
      local lines, err, code = client:job(sim.project_id, 4242):logs()
      assert.is_nil(lines)
      assert.equal("EAPI", code)
      assert.matches("4242", err)
    end)
  end)
end)

describe("a client's helpers", function()
  local shared = helper.shared_studio { speed = 300 }
  local sim, client
  before_each(function() sim, client = shared.sim, shared.client end)

  it("keras_config reads back what set_keras_config wrote", function()
    local before = assert(client:keras_config(sim.project_id, sim.learn_id))
    assert.equal("keras", before.type)
    assert.is_number(before.trainingCycles)
    assert(client:set_keras_config(sim.project_id, sim.learn_id, { trainingCycles = before.trainingCycles + 7, learningRate = 0.0125 }))
    local after = assert(client:keras_config(sim.project_id, sim.learn_id))
    assert.equal(before.trainingCycles + 7, after.trainingCycles)
    assert.equal(0.0125, after.learningRate)
    local gets = sim:requests(("/training/keras/%d$"):format(sim.learn_id), "GET")
    assert.equal(2, #gets)
  end)

  it("generate_features sends the extra body fields it is given, and checks them", function()
    local job = assert(client:generate_features(sim.project_id, sim.dsp_id,
      { calculateFeatureImportance = true, skipFeatureExplorer = true }))
    assert.is_true(job:wait(60))
    local sent = sim:requests("/jobs/generate%-features$", "POST")
    assert.same({ dspId = sim.dsp_id, calculateFeatureImportance = true, skipFeatureExplorer = true }, sent[#sent].body)
    -- a misspelt field is refused before sending, unless the call says to send it
    local none, err, code = client:generate_features(sim.project_id, sim.dsp_id, { skipFeatureExplorr = true })
    assert.is_nil(none)
    assert.equal("EINVAL", code)
    assert.matches('skipFeatureExplorr: unknown field (did you mean "skipFeatureExplorer"?)', err, 1, true)
    assert.equal(1, #sim:requests("/jobs/generate%-features$", "POST"))
    local sent_anyway = assert(client:generate_features(sim.project_id, sim.dsp_id, { newerField = 1 }, { unknown_fields = "send" }))
    assert.is_true(sent_anyway:wait(60))
    sent = sim:requests("/jobs/generate%-features$", "POST")
    assert.same({ dspId = sim.dsp_id, newerField = 1 }, sent[#sent].body)
  end)
end)

describe("an OAuth2 client", function()
  it("fetches a new token before the old one expires and keeps following the job", function()
    -- Tokens live 31 s; the client renews 30 s before the end, so after about a second.
    local sim = helper.studio { speed = 20, scenario = { oauthTokenTtl = 31 } }
    local client = sim:client { status_interval = 0.3, backoff = 0.01,
      oauth2 = { client_id = sim.ready.oauth_client_id, client_secret = sim.ready.oauth_client_secret } }
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 10 }))
    local lines = {}
    for ev in job:updates() do
      if ev.type == "log" then lines[#lines + 1] = ev.line end
    end
    assert.is_true(job:wait(30))
    local tokens = sim:requests("^/v1/oauth/token$", "POST")
    assert.is_true(#tokens >= 2, #tokens .. " token requests")
    -- calls made after the second token still succeeded: none was refused
    for _, r in ipairs(sim:records("http")) do assert.is_true(r.status ~= 401, r.path) end
    assert.is_true(sim:requests("/status$")[#sim:requests("/status$")].t > tokens[2].t)
    local stored = helper.lines_of(assert(client:call("downloadJobsLogs", { projectId = sim.project_id, jobId = job.id })))
    assert.same(stored, lines)
    client:close()
    sim:stop()
  end)
end)
