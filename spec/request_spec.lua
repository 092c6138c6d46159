-- core.operation_parts builds an operation's call (method, path and query, body) from named
-- arguments; core.operation describes an operation and core.operations lists them. Both read
-- the generated tables, so the specs check each against what the test knows on its own:
-- Studio's documented paths, and percent-encoding done here.
local core = require "ei.core"

local function request(id, args)
  local method, path, body, content_type, deprecated = core.operation_parts(id, args)
  assert(method, path)
  return { method = method, path = path, body = body, content_type = content_type, deprecated = deprecated }
end

local function refuses(id, args, message)
  local method, msg, code = core.operation_parts(id, args)
  assert.is_nil(method)
  assert.equal("EINVAL", code)
  assert.equal(message, msg)
end

describe("core.operation_parts", function()
  it("builds trainKerasJob with path parameters and a validated JSON body", function()
    local r = request("trainKerasJob", { projectId = 1, learnId = 2, body = {
      trainingCycles = 30, learningRate = 0.005, visualLayers = { { type = "dense", neurons = 20 } },
    } })
    assert.equal("POST", r.method)
    assert.equal("/api/1/jobs/train/keras/2", r.path)
    assert.equal("application/json", r.content_type)
    assert.equal('{"learningRate":0.005,"trainingCycles":30,"visualLayers":[{"neurons":20,"type":"dense"}]}', r.body)
    assert.same({}, r.deprecated)
  end)

  it("reports deprecated body fields", function()
    local r = request("trainKerasJob", { projectId = 1, learnId = 2, body = { minimumConfidenceRating = 0.5 } })
    assert.same({ "minimumConfidenceRating" }, r.deprecated)
  end)

  it("names body fields as the schema does in errors", function()
    refuses("trainKerasJob", { projectId = 1, learnId = 2, body = { visualLayers = { { type = "dense" }, { type = "dens" } } } },
      'visualLayers[2].type: "dens" is not one of dense, conv1d, conv2d, reshape, flatten, dropout, … (did you mean "dense"?)')
    refuses("trainKerasJob", { projectId = 1, learnId = 2, body = { learningrate = 1 } },
      'learningrate: unknown field (did you mean "learningRate"?)')
    refuses("trainKerasJob", { projectId = 1, learnId = 2, body = "x" }, "body: expected object, got string")
  end)

  it("refuses an unknown field by default and under \"error\", suggesting the known one", function()
    for _, mode in ipairs { nil, "error" } do
      local method, msg, code = core.operation_parts("trainKerasJob", { projectId = 1, learnId = 2, body = { trainingProcessorX = "gpu" } }, mode)
      assert.is_nil(method)
      assert.equal("EINVAL", code)
      assert.equal('trainingProcessorX: unknown field (did you mean "trainingProcessor"?)', msg)
    end
  end)

  it("passes unknown fields as plain JSON under \"send\" and \"warn\", at any depth, and lists their paths", function()
    for _, mode in ipairs { "send", "warn" } do
      local method, _, body, _, _, unknown = core.operation_parts("trainKerasJob", { projectId = 1, learnId = 2, body = {
        trainingProcessorX = "gpu", learningRate = 0.01,
        visualLayers = { { type = "dense", neurons = 8, futureFlag = { on = true, list = { 1, 2.5, "x" } } } },
        augmentationPolicySpectrogram = { enabled = true, newKnob = 3 },
      } }, mode)
      assert.equal("POST", method)
      assert.equal('{"augmentationPolicySpectrogram":{"enabled":true,"newKnob":3},"learningRate":0.01,'
        .. '"trainingProcessorX":"gpu","visualLayers":[{"futureFlag":{"list":[1,2.5,"x"],"on":true},"neurons":8,"type":"dense"}]}', body)
      assert.same({ "augmentationPolicySpectrogram.newKnob", "trainingProcessorX", "visualLayers[1].futureFlag",
        trainingProcessorX = "trainingProcessor" }, unknown)
    end
  end)

  it("still checks every known field when unknown fields pass", function()
    local function message(mode, body)
      local method, msg, code = core.operation_parts("trainKerasJob", { projectId = 1, learnId = 2, body = body }, mode)
      assert.is_nil(method)
      assert.equal("EINVAL", code)
      return msg
    end
    for _, mode in ipairs { "warn", "send" } do
      assert.equal("learningRate: expected number, got string", message(mode, { trainingProcessorX = "gpu", learningRate = "fast" }))
      assert.matches('^visualLayers%[1%]%.type: "dens" is not one of', message(mode, { extra = 1, visualLayers = { { type = "dens", extra = 2 } } }))
      assert.matches("^trainingProcessor: ", message(mode, { trainingProcessor = "tpu", x = 1 }))
      assert.equal('body: missing required field "dspId"',
        select(2, core.operation_parts("generateFeaturesJob", { projectId = 1, body = { dspI = 3 } }, mode)))
      assert.equal("x: expected a JSON value, got function", message(mode, { x = function() end }))
    end
  end)

  it("leaves unknown arguments refused in every mode", function()
    for _, mode in ipairs { "warn", "send" } do
      local method, msg = core.operation_parts("cancelJob", { projectId = 1, jobId = 2, forcecancel = true }, mode)
      assert.is_nil(method)
      assert.equal('forcecancel: unknown argument (did you mean "forceCancel"?)', msg)
    end
    assert.has_error(function() core.operation_parts("cancelJob", { projectId = 1, jobId = 2 }, "sometimes") end)
  end)

  it("requires a required body", function()
    refuses("trainKerasJob", { projectId = 1, learnId = 2 }, "body: missing required request body")
    refuses("generateFeaturesJob", { projectId = 1 }, "body: missing required request body")
  end)

  it("builds setKeras", function()
    local r = request("setKeras", { projectId = 5, learnId = 7, body = { mode = "expert", script = "x = 1" } })
    assert.equal("POST", r.method)
    assert.equal("/api/5/training/keras/7", r.path)
    assert.same({ mode = "expert", script = "x = 1" }, core.decode(r.body))
  end)

  it("builds generateFeaturesJob and checks its body", function()
    local r = request("generateFeaturesJob", { projectId = 5, body = { dspId = 3, calculateFeatureImportance = true } })
    assert.equal("POST", r.method)
    assert.equal("/api/5/jobs/generate-features", r.path)
    assert.equal('{"calculateFeatureImportance":true,"dspId":3}', r.body)
    refuses("generateFeaturesJob", { projectId = 5, body = {} }, 'body: missing required field "dspId"')
    refuses("generateFeaturesJob", { projectId = 5, body = { dspId = "3" } }, "dspId: expected integer, got string")
  end)

  it("builds getJobsLogs with query parameters in a stable order", function()
    local r = request("getJobsLogs", { projectId = 1, jobId = 12873488112, limit = 10, logLevel = "info" })
    assert.equal("GET", r.method)
    assert.equal("/api/1/jobs/12873488112/stdout?limit=10&logLevel=info", r.path)
    assert.is_nil(r.body)
    assert.is_nil(r.content_type)
    assert.equal("/api/1/jobs/2/stdout", request("getJobsLogs", { projectId = 1, jobId = 2 }).path)
    assert.equal("/api/1/jobs/2/stdout?limit=3", request("getJobsLogs", { projectId = 1, jobId = 2, limit = 3.0 }).path)
  end)

  it("validates query parameters", function()
    refuses("getJobsLogs", { projectId = 1, jobId = 2, limit = 2.5 }, "limit: expected integer, got 2.5")
    refuses("getJobsLogs", { projectId = 1, jobId = 2, limit = "10" }, "limit: expected integer, got string")
    refuses("getJobsLogs", { projectId = 1, jobId = 2, logLevel = "warning" },
      'logLevel: "warning" is not one of error, warn, info, debug (did you mean "warn"?)')
  end)

  it("builds cancelJob with forceCancel as true/false", function()
    local r = request("cancelJob", { projectId = 1, jobId = 2, forceCancel = true })
    assert.equal("POST", r.method)
    assert.equal("/api/1/jobs/2/cancel?forceCancel=true", r.path)
    assert.equal("/api/1/jobs/2/cancel?forceCancel=false", request("cancelJob", { projectId = 1, jobId = 2, forceCancel = false }).path)
    assert.equal("/api/1/jobs/2/cancel?forceCancel=true", request("cancelJob", { projectId = 1, jobId = 2, forceCancel = "true" }).path)
    assert.equal("/api/1/jobs/2/cancel", request("cancelJob", { projectId = 1, jobId = 2 }).path)
    refuses("cancelJob", { projectId = 1, jobId = 2, forceCancel = 1 }, "forceCancel: expected string, got number")
  end)

  it("checks path parameters against their schemas", function()
    refuses("cancelJob", { projectId = "1", jobId = 2 }, "projectId: expected integer, got string")
    refuses("cancelJob", { projectId = 1.5, jobId = 2 }, "projectId: expected integer, got 1.5")
    assert.equal("/api/1/jobs/2/cancel", request("cancelJob", { projectId = 1.0, jobId = 2 }).path)
    refuses("deleteAllSamplesByCategory", { projectId = 1, category = "train" },
      'category: "train" is not one of training, testing, post-processing (did you mean "training"?)')
    assert.equal("/api/1/raw-data/delete-all/post-processing",
      request("deleteAllSamplesByCategory", { projectId = 1, category = "post-processing" }).path)
  end)

  it("percent-encodes string parameters", function()
    local r = request("createSignedUploadLinkDataset", { organizationId = 3, dataset = "my data/set?&é", body = {
      fileName = "a", fileSize = 1, fileHash = "h",
    } })
    assert.equal("/api/organizations/3/dataset/my%20data%2Fset%3F%26%C3%A9/upload-link", r.path)
  end)

  it("requires required parameters", function()
    refuses("cancelJob", { projectId = 1 }, "jobId: missing required path parameter")
    refuses("anomalyTrainedFeatures", { projectId = 1, learnId = 2 }, "featureAx1: missing required query parameter")
  end)

  it("refuses unknown arguments with a suggestion", function()
    refuses("cancelJob", { projectId = 1, jobId = 2, forcecancel = true },
      'forcecancel: unknown argument (did you mean "forceCancel"?)')
    refuses("cancelJob", { projectid = 1, jobId = 2 }, 'projectid: unknown argument (did you mean "projectId"?)')
    refuses("trainKerasJob", { projectId = 1, learnId = 2, bdy = {} }, 'bdy: unknown argument (did you mean "body"?)')
    refuses("cancelJob", { projectId = 1, jobId = 2, body = {} }, "body: unknown argument")
    refuses("cancelJob", { projectId = 1, jobId = 2, zeta = 1, alpha = 2 }, "alpha: unknown argument")
    refuses("cancelJob", { 1, 2 }, "args: unexpected key 1 (arguments are named)")
  end)

  it("takes no arguments for operations without parameters", function()
    local r = request("deletePhotoCurrentUser")
    assert.equal("DELETE", r.method)
    assert.equal("/api/user/photo", r.path)
    assert.equal("/api/user/photo", request("deletePhotoCurrentUser", {}).path)
  end)

  it("returns a validated table for multipart bodies, with their content type", function()
    local photo = "\xff\xd8\xff\xe0 binary"
    local r = request("uploadPhotoCurrentUser", { body = { photo = photo } })
    assert.equal("POST", r.method)
    assert.equal("multipart/form-data", r.content_type)
    assert.same({ photo = photo }, r.body)
    refuses("uploadPhotoCurrentUser", { body = { phot = photo } }, 'phot: unknown field (did you mean "photo"?)')
    refuses("uploadPhotoCurrentUser", { body = {} }, 'body: missing required field "photo"')
  end)

  -- The Studio API's own methods and paths for the operations the module leans on
  -- (DESIGN §1), known apart from the generated tables.
  it("builds the operations of a training run as Studio documents them", function()
    for _, case in ipairs {
      { "trainKerasJob", { projectId = 1, learnId = 2, body = {} }, "POST", "/api/1/jobs/train/keras/2" },
      { "getSocketToken", { projectId = 1 }, "GET", "/api/1/socket-token" },
      { "getJobStatus", { projectId = 1, jobId = 9 }, "GET", "/api/1/jobs/9/status" },
      { "getJobsLogs", { projectId = 1, jobId = 9, limit = 5 }, "GET", "/api/1/jobs/9/stdout?limit=5" },
      { "downloadJobsLogs", { projectId = 1, jobId = 9 }, "GET", "/api/1/jobs/9/stdout/download" },
      { "cancelJob", { projectId = 1, jobId = 9, forceCancel = true }, "POST", "/api/1/jobs/9/cancel?forceCancel=true" },
    } do
      local method, path = core.operation_parts(case[1], case[2])
      assert.equal(case[3], method, case[1])
      assert.equal(case[4], path, case[1])
    end
  end)

  it("raises on misuse and on unknown operations with a suggestion", function()
    local ok, err = pcall(core.operation_parts, "trainKeras", {})
    assert.is_false(ok)
    assert.matches('unknown operation "trainKeras" %(did you mean "trainKerasJob"%?%)', err)
    assert.has_error(function() core.operation_parts("cancelJob", "x") end)
    assert.has_error(function() core.operation_parts() end)
  end)
end)

local HTTP_METHODS = { GET = true, POST = true, PUT = true, DELETE = true, PATCH = true }

-- RFC 3986 percent-encoding of all but the unreserved characters, written apart from the C core.
local function escape(value)
  return (tostring(value):gsub("[^%w%-%._~]", function(c) return ("%%%02X"):format(c:byte()) end))
end

-- An operation's path template with its parameters put in, as the test sees it.
local function fill_path(template, args)
  return (template:gsub("{([^}]+)}", function(name) return escape(args[name]) end))
end

describe("core.operation", function()
  it("describes an operation", function()
    local op = core.operation("getJobsLogs")
    assert.equal("getJobsLogs", op.operation_id)
    assert.equal("GET", op.method)
    assert.equal("/api/{projectId}/jobs/{jobId}/stdout", op.path)
    assert.same({ { name = "jobId", required = true, type = "integer" }, { name = "projectId", required = true, type = "integer" } },
      op.path_params)
    assert.same({ { name = "limit", required = false, type = "integer" },
      { name = "logLevel", required = false, type = "string", enum = { "error", "warn", "info", "debug" } } }, op.query_params)
    assert.is_nil(op.body_schema)
    assert.is_false(op.deprecated)
  end)

  it("names the body schema and content type", function()
    local op = core.operation("trainKerasJob")
    assert.equal("SetKerasParameterRequest", op.body_schema)
    assert.is_true(op.body_required)
    assert.equal("application/json", op.content_type)
    assert.equal("multipart/form-data", core.operation("uploadPhotoCurrentUser").content_type)
  end)

  it("returns nil for an unknown id", function()
    assert.is_nil(core.operation("noSuchOperation"))
  end)

  it("lists all operation ids, sorted, and each can be described", function()
    local ids = core.operations()
    assert.is_true(#ids > 400)
    for i = 2, #ids do assert.is_true(ids[i - 1] < ids[i]) end
    local seen = {}
    for _, id in ipairs(ids) do
      seen[id] = true
      local op = core.operation(id)
      assert.equal(id, op.operation_id)
      assert.matches("^/", op.path)
    end
    for _, id in ipairs { "trainKerasJob", "getJobsLogs", "cancelJob", "setKeras", "generateFeaturesJob", "getJobStatus" } do
      assert.is_true(seen[id], id)
    end
  end)

  it("describes path parameters that are exactly the template's placeholders", function()
    for _, id in ipairs(core.operations()) do
      local op = core.operation(id)
      local listed, placeholders = {}, {}
      for _, p in ipairs(op.path_params) do listed[#listed + 1] = p.name end
      for name in op.path:gmatch("{([^}]+)}") do placeholders[#placeholders + 1] = name end
      table.sort(listed)
      table.sort(placeholders)
      assert.same(placeholders, listed, id)
    end
  end)

  it("lets every operation be built from its described path parameters, each put in percent-encoded", function()
    local text = "v w/é?" -- needs escaping: the builder's encoding is checked against the test's own
    for _, id in ipairs(core.operations()) do
      local op = core.operation(id)
      local args = {}
      for _, p in ipairs(op.path_params) do
        args[p.name] = p.enum and p.enum[1] or (p.type == "integer" and 7) or text
      end
      local method, path, msg = core.operation_parts(id, args)
      if method then
        assert.truthy(HTTP_METHODS[method], method)
        assert.equal(fill_path(op.path, args), path:gsub("%?.*", ""), id)
      else
        assert.is_nil(method)
        assert.is_string(path)
        assert.matches("missing required", path)
      end
      assert.is_nil(msg and msg:find("unknown"))
    end
  end)
end)
