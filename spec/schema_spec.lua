-- Validation and schema-guided encoding against the generated Studio API tables.
local core = require "ei.core"
local null = core.null

local REQ = "SetKerasParameterRequest"

local function accepts(schema, value)
  local ok, deprecated = core.validate(schema, value)
  assert.is_true(ok, deprecated)
  assert.is_table(deprecated)
  assert.is_string(core.encode(value, schema))
  return deprecated
end

local function rejects(schema, value, message)
  local ok, msg, code = core.validate(schema, value)
  assert.is_nil(ok)
  assert.equal("EINVAL", code)
  assert.equal(message, msg)
  local text, emsg, ecode = core.encode(value, schema)
  assert.is_nil(text)
  assert.equal(message, emsg)
  assert.equal("EINVAL", ecode)
end

-- Every field of SetKerasParameterRequest (2026-09-06): a value that passes and one
-- that fails with its exact message.
local KERAS_FIELDS = {
  { "mode", "expert", "visua", 'mode: "visua" is not one of expert, visual (did you mean "visual"?)' },
  { "minimumConfidenceRating", 0.6, "0.6", "minimumConfidenceRating: expected number, got string" },
  { "selectedModelType", "akida", "int9",
    'selectedModelType: "int9" is not one of int8, float32, akida, requiresRetrain (did you mean "int8"?)' },
  { "script", "import tensorflow", 12, "script: expected string, got number" },
  { "visualLayers", { { type = "dense", neurons = 8 } }, "dense", "visualLayers: expected array, got string" },
  { "trainingCycles", 30, 3.5, "trainingCycles: expected integer, got 3.5" },
  { "learningRate", 0.005, true, "learningRate: expected number, got boolean" },
  { "batchSize", 32, "32", "batchSize: expected number, got string" },
  { "trainTestSplit", 0.2, {}, "trainTestSplit: expected number, got table" },
  { "autoClassWeights", true, 1, "autoClassWeights: expected boolean, got number" },
  { "useLearnedOptimizer", false, "false", "useLearnedOptimizer: expected boolean, got string" },
  { "augmentationPolicyImage", "all", "some", 'augmentationPolicyImage: "some" is not one of none, all' },
  { "augmentationPolicySpectrogram", { enabled = true, warping = true }, { warping = true },
    'augmentationPolicySpectrogram: missing required field "enabled"' },
  { "profileInt8", true, null, "profileInt8: expected boolean, got null" },
  { "skipEmbeddingsAndMemory", false, 0, "skipEmbeddingsAndMemory: expected boolean, got number" },
  { "akidaEdgeLearningConfig", { enabled = true, additionalClasses = 2, neuronsPerClass = 4 },
    { enabled = true, additionalClasses = "2" }, "akidaEdgeLearningConfig.additionalClasses: expected number, got string" },
  { "customValidationMetadataKey", "patient", false, "customValidationMetadataKey: expected string, got boolean" },
  { "showAdvancedTrainingSettings", true, "yes", "showAdvancedTrainingSettings: expected boolean, got string" },
  { "showAugmentationTrainingSettings", false, {}, "showAugmentationTrainingSettings: expected boolean, got table" },
  { "customParameters", { ["some-param"] = "1", other = null }, { epochs = 5 },
    "customParameters.epochs: expected string, got number" },
  { "anomalyCapacity", "medium", "huge", 'anomalyCapacity: "huge" is not one of low, medium, high' },
  { "lastShownModelVariant", "float32", "float16",
    'lastShownModelVariant: "float16" is not one of int8, float32, akida (did you mean "float32"?)' },
  { "blockParameters", { backbone = "resnet", numLayers = 2 }, { numLayers = "2" },
    "blockParameters.numLayers: expected integer, got string" },
  { "trainingProcessor", "gpu", "tpu", 'trainingProcessor: "tpu" is not one of cpu, gpu (did you mean "cpu"?)' },
  { "assertGpuUsagePercentage", 50.5, "50%", "assertGpuUsagePercentage: expected number, got string" },
}

local LAYER_FIELDS = {
  { "type", "conv2d", "conv3d",
    '"conv3d" is not one of dense, conv1d, conv2d, reshape, flatten, dropout, … (did you mean "conv1d"?)' },
  { "neurons", 16, 16.5, "expected integer, got 16.5" },
  { "kernelSize", 3, "3", "expected integer, got string" },
  { "dropoutRate", 0.25, "0.25", "expected number, got string" },
  { "columns", 13, true, "expected integer, got boolean" },
  { "stack", 2, 0 / 0, "expected integer, got nan" },
  { "enabled", true, "true", "expected boolean, got string" },
  { "organizationModelId", 12873488112, 1.5, "expected integer, got 1.5" },
}

local LAYER_TYPES = {
  "dense", "conv1d", "conv2d", "reshape", "flatten", "dropout", "batchNormalization",
  "transfer_mobilenetv2_a35", "transfer_mobilenetv2_a1", "transfer_mobilenetv2_a05",
  "transfer_mobilenetv2_160_a1", "transfer_mobilenetv2_160_a75", "transfer_mobilenetv2_160_a5",
  "transfer_mobilenetv2_160_a35", "transfer_mobilenetv1_a25_d100", "transfer_mobilenetv1_a2_d100",
  "transfer_mobilenetv1_a1_d100", "transfer_kws_mobilenetv1_a1_d100", "transfer_kws_mobilenetv2_a35_d100",
  "transfer_kws_syntiant_ndp10x", "transfer_kws_conv2d_tiny", "object_ssd_mobilenet_v2_fpnlite_320x320",
  "fomo_mobilenet_v2_a01", "fomo_mobilenet_v2_a35", "transfer_organization",
  "transfer_akidanet_imagenet_160_a100", "transfer_akidanet_imagenet_160_a50",
  "transfer_akidanet_imagenet_160_a25", "transfer_akidanet_imagenet_224_a100",
  "transfer_akidanet_imagenet_224_a50", "transfer_akidanet_imagenet_224_a25", "fomo_akidanet_a50",
  "fomo_ad_gmm", "fomo_ad_patchcore",
}

local ENUMS = {
  KerasModelTypeEnum = { "int8", "float32", "akida", "requiresRetrain" },
  KerasModelVariantEnum = { "int8", "float32", "akida" },
  AugmentationPolicyImageEnum = { "none", "all" },
  AnomalyCapacity = { "low", "medium", "high" },
  ExperimentalImpulseSpecificGpuTrainingProcessor = { "cpu", "gpu" },
  KerasVisualLayerType = LAYER_TYPES,
}

describe("SetKerasParameterRequest", function()
  for _, f in ipairs(KERAS_FIELDS) do
    local name, good, bad, message = f[1], f[2], f[3], f[4]
    it("accepts a valid " .. name, function()
      accepts(REQ, { [name] = good })
    end)
    it("refuses a bad " .. name .. " naming the field", function()
      rejects(REQ, { [name] = bad }, message)
    end)
  end

  it("has a row above for every field of the newest document", function()
    local file = io.open("../shared/spec/edge-impulse-studio-openapi.2026-09-06.SetKerasParameterRequest.fragment.yml")
    if not file then
      pending("the OpenAPI documents are not beside the repository")
      return
    end
    local doc = require("lyaml").load(file:read("a"))
    file:close()
    local rows = {}
    for _, f in ipairs(KERAS_FIELDS) do rows[f[1]] = true end
    local fields = 0
    for name in pairs(doc.SetKerasParameterRequest.properties) do
      fields = fields + 1
      assert.is_true(rows[name] == true, name)
    end
    assert.equal(fields, #KERAS_FIELDS)
  end)

  it("accepts an empty request and sends only the fields present", function()
    accepts(REQ, {})
    assert.equal("{}", core.encode({}, REQ))
    assert.equal('{"learningRate":0.005,"trainingCycles":30}', core.encode({ trainingCycles = 30, learningRate = 0.005 }, REQ))
  end)

  it("encodes a full request in sorted key order", function()
    local text = core.encode({
      mode = "visual", trainingCycles = 30, learningRate = 0.005,
      visualLayers = { { type = "dense", neurons = 20 }, { type = "dropout", dropoutRate = 0.25 } },
      augmentationPolicySpectrogram = { enabled = true, freqMasking = "low" },
      customParameters = { ["some-param"] = "1", other = null },
    }, REQ)
    assert.equal('{"augmentationPolicySpectrogram":{"enabled":true,"freqMasking":"low"},'
      .. '"customParameters":{"other":null,"some-param":"1"},"learningRate":0.005,"mode":"visual",'
      .. '"trainingCycles":30,"visualLayers":[{"neurons":20,"type":"dense"},{"dropoutRate":0.25,"type":"dropout"}]}', text)
  end)

  it("refuses a misspelt enum value in a layer with the path, the values and a suggestion", function()
    rejects(REQ, { visualLayers = { { type = "dense" }, { type = "dens" } } },
      'visualLayers[2].type: "dens" is not one of dense, conv1d, conv2d, reshape, flatten, dropout, … (did you mean "dense"?)')
  end)

  it("refuses an unknown key and suggests learningRate", function()
    rejects(REQ, { learningrate = 0.1 }, 'learningrate: unknown field (did you mean "learningRate"?)')
    rejects(REQ, { learning_rate = 0.1 }, 'learning_rate: unknown field (did you mean "learningRate"?)')
    rejects(REQ, { LEARNING_RATE = 0.1 }, 'LEARNING_RATE: unknown field (did you mean "learningRate"?)')
    rejects(REQ, { learnigRate = 0.1 }, 'learnigRate: unknown field (did you mean "learningRate"?)')
    rejects(REQ, { trainingCycle = 3 }, 'trainingCycle: unknown field (did you mean "trainingCycles"?)')
    rejects(REQ, { visualLayers = { { type = "dense", nuerons = 3 } } },
      'visualLayers[1].nuerons: unknown field (did you mean "neurons"?)')
  end)

  it("refuses an unknown key without a suggestion when nothing is close", function()
    rejects(REQ, { zzz = 1 }, "zzz: unknown field")
    rejects(REQ, { ["weird key"] = 1 }, '["weird key"]: unknown field')
  end)

  it("reports the first of several errors in key order", function()
    for _ = 1, 5 do
      rejects(REQ, { zeta = 1, alpha = 2, mode = "x" }, "alpha: unknown field")
    end
  end)

  it("takes integral floats for integer fields and sends them as integers", function()
    assert.equal('{"trainingCycles":3}', core.encode({ trainingCycles = 3.0 }, REQ))
    assert.equal('{"trainingCycles":12873488112}', core.encode({ trainingCycles = 12873488112.0 }, REQ))
    rejects(REQ, { trainingCycles = 2^63 }, "trainingCycles: expected integer, got 9.223372036854776e+18")
    rejects(REQ, { trainingCycles = 1 / 0 }, "trainingCycles: expected integer, got inf")
  end)

  it("takes integers for number fields", function()
    assert.equal('{"batchSize":32,"learningRate":1}', core.encode({ learningRate = 1, batchSize = 32 }, REQ))
    assert.equal('{"batchSize":32.5}', core.encode({ batchSize = 32.5 }, REQ))
  end)

  it("refuses NaN and infinities for numbers", function()
    rejects(REQ, { learningRate = 0 / 0 }, "learningRate: expected finite number, got nan")
    rejects(REQ, { learningRate = math.huge }, "learningRate: expected finite number, got inf")
    rejects(REQ, { learningRate = -math.huge }, "learningRate: expected finite number, got -inf")
  end)

  it("takes null only where the schema is nullable", function()
    assert.equal('{"assertGpuUsagePercentage":null}', core.encode({ assertGpuUsagePercentage = null }, REQ))
    rejects(REQ, { learningRate = null }, "learningRate: expected number, got null")
    rejects(REQ, { visualLayers = null }, "visualLayers: expected array, got null")
    rejects(REQ, { visualLayers = { null } }, "visualLayers[1]: expected object, got null")
  end)

  it("takes a map of strings or null as customParameters", function()
    assert.equal('{"customParameters":{"a":"1","b":null,"c d":""}}',
      core.encode({ customParameters = { a = "1", b = null, ["c d"] = "" } }, REQ))
    assert.equal('{"customParameters":{}}', core.encode({ customParameters = {} }, REQ))
    rejects(REQ, { customParameters = { ["some-param"] = 1 } }, 'customParameters["some-param"]: expected string, got number')
    rejects(REQ, { customParameters = { "x" } }, "customParameters: unexpected key 1 (object keys must be strings)")
    rejects(REQ, { customParameters = "a=1" }, "customParameters: expected object, got string")
  end)

  it("encodes an empty visualLayers as [] and an empty map as {}", function()
    assert.equal('{"visualLayers":[]}', core.encode({ visualLayers = {} }, REQ))
    assert.equal('{"customParameters":{},"visualLayers":[]}', core.encode({ visualLayers = {}, customParameters = {} }, REQ))
    assert.equal('{"visualLayers":[]}', core.encode({ visualLayers = core.decode("[]") }, REQ))
  end)

  it("refuses tables that are not arrays where an array belongs", function()
    rejects(REQ, { visualLayers = { type = "dense" } }, 'visualLayers: expected array, got table with key "type"')
    rejects(REQ, { visualLayers = { { type = "dense" }, nil, { type = "dense" } } },
      "visualLayers: expected array, got table with nil at index 2")
    rejects(REQ, { visualLayers = core.object({}) }, "visualLayers: expected array, got object")
    rejects(REQ, { augmentationPolicySpectrogram = core.array({}) },
      "augmentationPolicySpectrogram: expected object, got array")
  end)

  it("names the request itself when the value is not a table", function()
    rejects(REQ, "visual", "SetKerasParameterRequest: expected object, got string")
    rejects(REQ, null, "SetKerasParameterRequest: expected object, got null")
  end)

  it("reports deprecated fields that are present", function()
    assert.same({}, accepts(REQ, { learningRate = 0.1 }))
    assert.same({ "minimumConfidenceRating" }, accepts(REQ, { minimumConfidenceRating = 0.5, learningRate = 0.1 }))
  end)

  it("refuses cyclic tables", function()
    local t = { visualLayers = {} }
    t.visualLayers[1] = t
    rejects(REQ, t, "visualLayers[1]: table contains itself (cycle)")
  end)

  it("refuses invalid UTF-8 naming the field and the byte", function()
    rejects(REQ, { script = "print('\xff')" }, "script: invalid UTF-8 at byte 8")
    rejects(REQ, { customParameters = { k = "\xc3" } }, "customParameters.k: invalid UTF-8 at byte 1")
  end)

  it("keeps NULs inside strings", function()
    local text = core.encode({ script = "a\0b" }, REQ)
    assert.equal('{"script":"a\\u0000b"}', text)
    assert.equal("a\0b", core.decode(text).script)
  end)

  it("quotes long and odd values briefly in messages", function()
    rejects(REQ, { mode = ("x"):rep(100) }, 'mode: "' .. ("x"):rep(40) .. '"… is not one of expert, visual')
    rejects(REQ, { mode = 'a"b\n\0' }, 'mode: "a\\"b\\n\\0" is not one of expert, visual')
  end)

  it("validates and encodes a 20-layer request with huge maps", function()
    local layers, params = {}, {}
    for i = 1, 20 do layers[i] = { type = LAYER_TYPES[i], neurons = i, dropoutRate = i / 100 } end
    for i = 1, 50000 do params["p" .. i] = tostring(i) end
    local t = { visualLayers = layers, customParameters = params }
    local back = core.decode(assert(core.encode(t, REQ)))
    assert.equal(20, #back.visualLayers)
    assert.equal("20", back.customParameters.p20)
    assert.equal("50000", back.customParameters.p50000)
    params.p777 = 777
    rejects(REQ, t, "customParameters.p777: expected string, got number")
  end)

  it("validates 10000 layers", function()
    local layers = {}
    for i = 1, 10000 do layers[i] = { type = "dense", neurons = i } end
    accepts(REQ, { visualLayers = layers })
    layers[9999].neurons = "x"
    rejects(REQ, { visualLayers = layers }, "visualLayers[9999].neurons: expected integer, got string")
  end)
end)

describe("KerasVisualLayer", function()
  for _, f in ipairs(LAYER_FIELDS) do
    local name, good, bad, message = f[1], f[2], f[3], f[4]
    it("accepts a valid " .. name, function()
      accepts("KerasVisualLayer", { type = "dense", [name] = good })
      accepts(REQ, { visualLayers = { { type = "dense" }, { type = "dense", [name] = good } } })
    end)
    it("refuses a bad " .. name, function()
      rejects("KerasVisualLayer", { type = "dense", [name] = bad }, name .. ": " .. message)
      rejects(REQ, { visualLayers = { { type = "dense" }, { type = "dense", [name] = bad } } },
        "visualLayers[2]." .. name .. ": " .. message)
    end)
  end

  it("requires type", function()
    rejects("KerasVisualLayer", { neurons = 3 }, 'KerasVisualLayer: missing required field "type"')
    rejects(REQ, { visualLayers = { { neurons = 3 } } }, 'visualLayers[1]: missing required field "type"')
  end)

  it("prefers an unknown-field message to a missing required field", function()
    rejects(REQ, { visualLayers = { { tpye = "dense" } } }, 'visualLayers[1].tpye: unknown field (did you mean "type"?)')
  end)
end)

describe("AugmentationPolicySpectrogram", function()
  local S = "AugmentationPolicySpectrogram"
  it("accepts every field", function()
    accepts(S, { enabled = true, warping = false, freqMasking = "low", timeMasking = "high", gaussianNoise = "none" })
  end)
  for _, name in ipairs { "freqMasking", "timeMasking", "gaussianNoise" } do
    it("refuses a bad " .. name, function()
      rejects(S, { enabled = true, [name] = "hihg" }, name .. ': "hihg" is not one of none, low, high (did you mean "high"?)')
      rejects(S, { enabled = true, [name] = 1 }, name .. ": expected string, got number")
    end)
  end
  it("refuses a bad enabled or warping", function()
    rejects(S, { enabled = "yes" }, "enabled: expected boolean, got string")
    rejects(S, { enabled = true, warping = 1 }, "warping: expected boolean, got number")
    rejects(S, { warping = true }, 'AugmentationPolicySpectrogram: missing required field "enabled"')
  end)
end)

describe("AkidaEdgeLearningConfig", function()
  local S = "AkidaEdgeLearningConfig"
  it("accepts every field", function()
    accepts(S, { enabled = true, additionalClasses = 2, neuronsPerClass = 1.5 })
  end)
  it("refuses bad fields", function()
    rejects(S, { enabled = 1 }, "enabled: expected boolean, got number")
    rejects(S, { enabled = true, neuronsPerClass = "4" }, "neuronsPerClass: expected number, got string")
    rejects(S, { enabled = true, additionalClasses = 0 / 0 }, "additionalClasses: expected finite number, got nan")
    rejects(S, {}, 'AkidaEdgeLearningConfig: missing required field "enabled"')
  end)
end)

describe("BlockParameters (a oneOf of two open objects, validated as anyOf)", function()
  local S = "BlockParameters"
  it("accepts values matching both branches or only one", function()
    accepts(S, {})
    accepts(S, { backbone = "resnet" })
    accepts(S, { backbone = "resnet", numLayers = 2, poolSize = 3, samplingRatio = 0.1, numNearestNeighbors = 9 })
    assert.equal('{"backbone":"x","numLayers":2}', core.encode({ backbone = "x", numLayers = 2 }, S))
  end)
  it("reports the error of the closest branch", function()
    rejects(S, { numLayer = 2 }, 'numLayer: unknown field (did you mean "numLayers"?)')
    rejects(S, { backbone = 1 }, "backbone: expected string, got number")
    rejects(S, { poolSize = 1.5 }, "poolSize: expected integer, got 1.5")
    rejects(S, "x", "BlockParameters: expected object, got string")
  end)
end)

describe("enum schemas", function()
  for name, values in pairs(ENUMS) do
    it("accepts every value of " .. name, function()
      for _, v in ipairs(values) do accepts(name, v) end
    end)
    it("refuses other values of " .. name, function()
      local ok, msg = core.validate(name, values[1] .. "x")
      assert.is_nil(ok)
      assert.matches("^" .. name .. ': "' .. values[1]:gsub("%p", "%%%0") .. 'x" is not one of ', msg)
      assert.matches('%(did you mean "' .. values[1]:gsub("%p", "%%%0") .. '"%?%)$', msg)
    end)
  end

  it("lists short enums whole and abbreviates long ones", function()
    local _, msg = core.validate("AnomalyCapacity", "x")
    assert.equal('AnomalyCapacity: "x" is not one of low, medium, high', msg)
    _, msg = core.validate("KerasVisualLayerType", "zzzzzzzz")
    assert.equal('KerasVisualLayerType: "zzzzzzzz" is not one of dense, conv1d, conv2d, reshape, flatten, dropout, …', msg)
  end)
end)

describe("other schema features", function()
  it("picks a oneOf branch by its discriminator", function()
    local S = "SavePretrainedModelRequest"
    local model = { modelType = "regression" }
    accepts(S, { input = { inputType = "audio", frequencyHz = 16000 }, model = model })
    rejects(S, { input = { inputType = "audio", frequencyHz = "16k" }, model = model },
      "input.frequencyHz: expected number, got string")
    rejects(S, { input = { inputType = "time-series", frequencyHz = 100 }, model = model },
      'input: missing required field "windowLengthMs"')
    rejects(S, { input = { inputType = "audi", frequencyHz = 1 }, model = model },
      'input.inputType: "audi" is not one of time-series, audio, image, other (did you mean "audio"?)')
  end)

  it("describes a union of scalars in type errors", function()
    local S = "SetImpulseThresholdsRequest"
    local function req(value)
      return { allowCreatingRegenerateModelTestingJobs = false, thresholds = { { blockId = 1, key = "min_score", value = value } } }
    end
    accepts(S, req(0.5))
    accepts(S, req("auto"))
    rejects(S, req(true), "thresholds[1].value: expected number or string, got boolean")
  end)

  it("enforces minimum", function()
    local block = { id = 1, type = "time-series", name = "Time series", title = "Time series" }
    accepts("ImpulseInputBlock", block)
    block.id = 0
    rejects("ImpulseInputBlock", block, "id: 0 is less than 1")
  end)

  it("merges allOf parts into one closed object", function()
    accepts("ListProjectsResponse", { success = true, projects = {} })
    rejects("ListProjectsResponse", { projects = {} }, 'ListProjectsResponse: missing required field "success"')
    rejects("ListProjectsResponse", { success = true, projects = {}, extra = 1 }, "extra: unknown field")
  end)

  it("raises for an unknown schema name with a suggestion", function()
    local ok, err = pcall(core.validate, "SetKerasParameterRequst", {})
    assert.is_false(ok)
    assert.matches('unknown schema "SetKerasParameterRequst" %(did you mean "SetKerasParameterRequest"%?%)', err)
    ok, err = pcall(core.encode, {}, "setkerasparameterrequest")
    assert.is_false(ok)
    assert.matches('did you mean "SetKerasParameterRequest"', err)
    assert.has_error(function() core.validate(REQ) end)
    assert.has_error(function() core.validate() end)
  end)

  it("nests values up to the depth limit only", function()
    local root = {}
    local cur = root
    for _ = 1, 70 do
      cur.x = {}
      cur = cur.x
    end
    local ok, msg = core.validate(REQ, { customParameters = root })
    assert.is_nil(ok)
    assert.matches("^customParameters%.x: expected string, got table$", msg)
    local text, err = core.encode(root)
    assert.is_nil(text)
    assert.matches("nested deeper than 64 levels$", err)
  end)
end)

describe("ei.validate with unknown_fields", function()
  local ei = require "ei"

  it("refuses a field the schema does not name by default, passes and lists it under warn and send", function()
    local t = { trainingProcessorX = "gpu", augmentationPolicySpectrogram = { enabled = true, newKnob = 1 } }
    local ok, msg, code = ei.validate(REQ, t)
    assert.is_nil(ok)
    assert.equal("EINVAL", code)
    assert.equal('augmentationPolicySpectrogram.newKnob: unknown field', msg)
    for _, mode in ipairs { "warn", "send" } do
      local passed, unknown = ei.validate(REQ, t, { unknown_fields = mode })
      assert.is_true(passed)
      assert.same({ "augmentationPolicySpectrogram.newKnob", "trainingProcessorX", trainingProcessorX = "trainingProcessor" }, unknown)
      assert.same({ nil, "learningRate: expected number, got string", "EINVAL" },
        { ei.validate(REQ, { learningRate = "x", other = 1 }, { unknown_fields = mode }) })
    end
    assert.same({}, select(2, ei.validate(REQ, { learningRate = 0.1 })))
    assert.has_error(function() ei.validate(REQ, t, { unknown_fields = "quiet" }) end)
    assert.has_error(function() ei.validate(REQ, t, "send") end)
  end)
end)
