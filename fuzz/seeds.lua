-- Writes the seed inputs of fuzz/corpus/<target>/ (and the regression inputs
-- this script knows) in the input formats the targets read. Run from the
-- repository root: lua5.4 fuzz/seeds.lua
local function write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
end

local function mkdir(path)
  assert(os.execute("mkdir -p '" .. path .. "'"))
end

-- ---- eio: a setup byte, then operation records (see fuzz/eio_fuzz.c)

local function setup(jobs, max_line_index)
  return string.char((jobs - 1) | (max_line_index << 2))
end
local function frame(s) return "\0" .. string.pack("<I2", #s) .. s end
local function frame_drain(s) return "\3" .. string.pack("<I2", #s) .. s end
local function fragments(s, cut) return "\2" .. string.pack("<I2B", #s, cut) .. s end
local function drain(job, n) return string.char(4 + 8 * n, job) end
local reconnect = "\5"
local function backfill(job, s) return "\6" .. string.char(job) .. string.pack("<I2", #s) .. s end
local function flush(job) return string.char(6 + 8, job) end
local function toggle(job) return "\7" .. string.char(job) end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    local named = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }
    return named[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end
local function data(job, text, ts)
  return string.format('42["job-data-%s",{"data":%s%s}]', job, json_string(text),
    ts and (',"timestamp":' .. ts) or "")
end
local function finished(job, ok)
  return string.format('42["job-finished-%s",{"success":%s}]', job, ok),
    string.format('42["job-finished",{"jobId":%s,"success":%s}]', job, ok)
end

local open = '0{"sid":"Zm9vYmFy","upgrades":[],"pingInterval":25000,"pingTimeout":5000}'
local hello = '42["hello",{"hello":{"version":1},"devices":[]}]'
local epoch = "Epoch 1/30\n"
local summary = "62/62 - 1s - loss: 0.7123 - accuracy: 0.7812 - val_loss: 0.6512 - val_accuracy: 0.8125\n"

local eio = {
  session = setup(2, 0) .. frame(open) .. frame("40") .. frame(hello)
    .. frame(data(1, "Scheduling job in cluster...\n", 1700000000001))
    .. frame(data(1, epoch .. summary:sub(1, 30), 1700000000002))
    .. frame("2") .. frame(data(1, summary:sub(31), 1700000000003)) .. frame("3")
    .. frame(data(2, "Epoch 2/30\n", 1700000000004)) .. drain(0, 3)
    .. frame(finished(1, "true")) .. frame(select(2, finished(1, "true"))) .. drain(0, 30) .. drain(1, 30),
  replay = setup(1, 0) .. frame(open) .. frame("40") .. frame(hello)
    .. frame(data(1, "line one\nline ", 1000)) .. frame(data(1, "two\n", 1000)) .. frame(data(1, "three\n", 1001))
    .. reconnect .. frame(open) .. frame("40") .. frame(hello)
    .. frame(data(1, "two\n", 1000)) .. frame(data(1, "three\n", 1001)) .. frame(data(1, "four\n", 1002))
    .. frame(finished(1, "false")) .. drain(0, 31),
  replay_no_timestamps = setup(1, 0) .. frame(hello)
    .. frame(data(1, "alpha\nbe")) .. frame(data(1, "ta\ngamma\n")) .. drain(0, 2)
    .. reconnect .. frame(hello) .. frame(data(1, "alpha\nbeta\ngam")) .. frame(data(1, "ma\ndelta\n"))
    .. frame_drain(select(2, finished(1, "true"))),
  junk = setup(3, 0) .. frame(hello) .. frame("42[broken") .. frame("42")
    .. frame('42["job-data-1",{"data":"trunc') .. frame("\4\222\173\190\239\0\255\123")
    .. frame('42["device-connected",{"deviceId":"5c:cf:7f:00:00:01","name":"Simulated board","sensors":["Accelerometer"]}]')
    .. frame('42["studio-announcement",{"message":"Scheduled maintenance window on Sunday"}]')
    .. frame('42["job-progress",{"jobId":1,"progress":0.5}]') .. frame('42["job-data-x",{"data":"a\\n"}]')
    .. frame('42["job-data-01",{"data":"a\\n"}]') .. frame('42["job-data-1",{"data":7}]')
    .. frame('/admin,42["job-data-1",{"data":"other namespace\\n"}]') .. frame('42/,7["job-data-1",{"data":"ack id\\n"}]')
    .. frame('451-["job-data-1",{"_placeholder":true,"num":0}]') .. frame("43[]") .. frame("6") .. frame("5")
    .. frame("9") .. frame("") .. frame("4") .. frame("47") .. frame('44{"message":"late error"}') .. frame("41")
    .. frame(data(1, "after close\n")) .. drain(0, 31),
  escapes = setup(1, 0) .. frame(hello)
    .. frame('42["job-data-1",{"data":"caf\\u00e9 \\ud83d\\ude00 \\"quoted\\" tab\\tend\\r\\n","timestamp":5}]')
    .. frame('42["job-data-1",{"timestamp":6,"extra":{"nested":[1,2]},"data":"slow path\\n"}]')
    .. frame('42["job-data-1",{"data":"dup\\n","data":"keys\\n","timestamp":7}]')
    .. frame('42["job-data-1",{"data":"lone \\ud800 surrogate\\n"}]')
    .. frame('42["job-data-1",{"data":"nul \\u0000 inside\\n","other":"\\n\\n\\n"}]')
    .. frame(' [ "job-data-1" , { "data" : "spaces\\n" , "timestamp" : 8 } ] ')
    .. frame('42["job-data-\\u0031",{"data":"escaped name\\n"}]')
    .. frame('42["job-data-1",{"data":"big ts\\n","timestamp":1e300}]')
    .. frame('42["job-finished-1",{"success":1}]') .. drain(0, 31),
  hello_rejected = setup(1, 0) .. frame(open) .. frame("40")
    .. frame('42["hello",{"hello":{"err":"Invalid token"}}]') .. frame(data(1, "never\n")) .. reconnect
    .. frame('42["hello",{"hello":{"version":2}}]') .. reconnect .. frame('44{"message":"Not authorized"}'),
  long_lines = setup(1, 3) .. frame(hello) .. frame(data(1, string.rep("x", 40) .. "\n" .. string.rep("y", 9)))
    .. fragments(data(1, "fragmented frame\nEpoch 3/30\n", 9), 17) .. drain(0, 31)
    .. backfill(0, "from REST\npartial") .. flush(0) .. toggle(0) .. frame(data(1, "unfollowed\n"))
    .. toggle(0) .. frame(hello) .. frame(data(1, "followed again\n")) .. frame(finished(1, "true")),
  metrics = setup(1, 0) .. frame(hello)
    .. frame(data(1, "Epoch 7/7\n7/7 [==============================] - 0s 3ms/step - loss: nan - accuracy: inf"
      .. " - val_loss: -Infinity - val_accuracy: 1e-3 - lr: 0.001 - type: 1 - epoch: 2\n"
      .. "3/62 - loss: 1\n  Epoch   12/0\nEpoch 1/2 extra\n5/5 - time: 12s - x: 1.5e+3 - y: .5 - z: 5.\n")),
}

-- ---- json: the documents themselves

local json = {
  socket_token = '{"success":true,"token":{"socketToken":"eyJhbGciOiJIUzI1NiJ9.e30.x","expires":"2026-11-27T08:00:00.000Z"}}',
  job_status = '{"success":true,"job":{"id":12345,"category":"Training model","created":"2026-11-27T07:00:00.000Z",'
    .. '"started":"2026-11-27T07:00:01.000Z","finished":"2026-11-27T07:03:00.000Z","finishedSuccessful":true}}',
  stdout = '{"success":true,"stdout":[{"created":"2026-11-27T07:00:02.000Z","data":"Epoch 1/30\\n"},'
    .. '{"created":"2026-11-27T07:00:01.000Z","data":"Scheduling job in cluster...\\n"}],"totalCount":2}',
  error = '{"success":false,"error":"Project 1 not found"}',
  keras = '{"mode":"visual","trainingCycles":30,"learningRate":0.005,"visualLayers":[{"type":"dense","neurons":20},'
    .. '{"type":"dropout","dropoutRate":0.25}],"augmentationPolicySpectrogram":{"enabled":true,"freqMasking":"low"},'
    .. '"customParameters":{"some-param":"1","other":null}}',
  numbers = '[0,-0,1,-1,0.1,1e308,-1e308,5e-324,9007199254740991,9007199254740992,9007199254740993,'
    .. '1.7976931348623157e308,1e999,-1e999,123456789012345678901234567890,3.0,2.5e-7,1E+2]',
  strings = '["","\\u0000","a\\u0000b","\\ud83d\\ude00","\\u00e9","caf\xc3\xa9","\\"\\\\\\/\\b\\f\\n\\r\\t",'
    .. '"\xff\xfe invalid UTF-8","\\uDBFF\\uDFFF"]',
  nul_keys = '{"a\\u0000b":1,"plain":"x","c":{"\\u0000":"\\u0000"}}',
  empty = '[{},[],{"a":{}},[[]],""]',
  duplicates = '{"a":1,"a":2,"b":{"c":1,"c":[1]}}',
  nested = string.rep("[", 200) .. string.rep("]", 200),
  nested_objects = string.rep('{"a":', 70) .. "1" .. string.rep("}", 70),
  too_deep = string.rep("[", 1100) .. string.rep("]", 1100),
  literals = '[true,false,null," spaced " ]  \n\t',
  bad_trailing = '{"a":1} x',
  bad_truncated = '{"a":[1,2,{"b":"c',
  bad_comma = '[1,2,]',
  bad_surrogate = '["\\ud800"]',
  bad_bom = '\xef\xbb\xbf{"a":1}',
  whitespace = "   ",
}

-- ---- schema: an operation byte, a name, a NUL, then the generator's bytes

local function bytes(seed, n) -- deterministic filler (an LCG)
  local t, x = {}, seed
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = string.char(x >> 16 & 0xFF)
  end
  return table.concat(t)
end

local schema = {}
local op_names = { [0] = "validate", [1] = "encode", [2] = "encode_plain", [3] = "request" }
local function add(op, name, seed, n)
  schema[op_names[op] .. "_" .. name .. "_" .. seed] = string.char(op) .. name .. "\0" .. bytes(seed, n)
end
for _, name in ipairs {
  "SetKerasParameterRequest", "BlockParameters", "SampleLabelMapLabels", "DSPConfigRequest",
  "UpdateProjectRequest", "StartTrainingRequestAnomaly",
} do
  add(0, name, 1, 256)
  add(0, name, 7, 1024)
  add(1, name, 3, 512)
end
add(2, "SetKerasParameterRequest", 5, 512)
for _, op in ipairs { "trainKerasJob", "getJobStatus", "cancelJob", "getSocketToken", "generateFeaturesJob", "getJobsLogs" } do
  add(3, op, 11, 256)
  add(3, op, 13, 768)
end
local targets = { eio = eio, json = json, schema = schema }
for target, seeds in pairs(targets) do
  mkdir("fuzz/corpus/" .. target)
  for name, input in pairs(seeds) do
    write("fuzz/corpus/" .. target .. "/" .. name, input)
  end
end

-- Regression inputs: fuzz/regressions/<target>/<what broke>.
mkdir("fuzz/regressions/eio")
write("fuzz/regressions/eio/empty-job-data-first", setup(1, 0) .. frame('42["job-data-1",{"data":""}]'))
write("fuzz/regressions/eio/empty-job-data-slow-path", setup(1, 0) .. frame('42["job-data-1",{"data":"","extra":[1]}]'))
write("fuzz/regressions/eio/escaped-data-then-long-escaped-string",
  setup(1, 0) .. frame('42["job-data-1",{"data":"a\\nb","other":"' .. string.rep("x\\n", 200) .. '"}]'))
