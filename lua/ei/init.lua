--- ei-train: drive Edge Impulse Studio training from Lua.
--
-- Start Keras training jobs with parameter tables checked against the
-- Studio API's own schemas, and follow them live.
-- @module ei
-- @usage
-- local ei = require "ei"
-- local client = assert(ei.new { api_key = os.getenv "EI_API_KEY" })
-- local job = assert(client:train_keras(project_id, learn_id, { trainingCycles = 30 }))
-- for ev in job:updates() do print(ev.type, ev.line) end
local core = require "ei.core"
local Client = require "ei.client"

local ei = {}

--- The version, the same as the rockspec's.
ei.VERSION = require "ei.version"

--- The JSON null sentinel (e.g. a `customParameters` value to send as null).
ei.null = core.null

--- JSON for scripts, in lua-cjson's shape: `ei.json.encode`, `ei.json.decode` and
-- `ei.json.null` (the same sentinel as `ei.null`). Failures return `nil, message, "EINVAL"`
-- instead of raising; a missing argument raises.
-- @table ei.json
ei.json = { null = core.null }

--- Encode a Lua value as JSON text.
-- Sequences become arrays, other tables objects (keys sorted; they must be strings),
-- `ei.null` becomes `null`; integers are written exactly, floats in the shortest text
-- that reads back the same.
-- @param v a string, number, boolean, `ei.null` or table of these
-- @treturn string the JSON text
-- @return nil, message naming what JSON cannot hold (NaN, a function, a sparse table…), "EINVAL"
-- @usage print(ei.json.encode { job = 12873488112, tags = { "a", "b" } })
function ei.json.encode(...)
  if select("#", ...) == 0 then error("bad argument #1 to 'encode' (value expected)", 2) end
  return core.encode((...))
end

--- Decode JSON text into Lua values.
-- Objects and arrays become tables, `null` becomes `ei.null`; whole numbers up to 2^53
-- come back as integers (job ids stay exact), other numbers as floats.
-- @tparam string s the JSON text
-- @return the value
-- @return nil, message with the byte where the text went wrong, "EINVAL"
-- @usage local t = assert(ei.json.decode('{"success":true,"id":12873488112}'))
function ei.json.decode(s)
  if type(s) ~= "string" then error("bad argument #1 to 'decode' (string expected, got " .. type(s) .. ")", 2) end
  local v, err = core.decode(s)
  if v == nil then return nil, err, "EINVAL" end
  return v
end

--- Waiters: `ei.wait.block`, `ei.wait.yield`, `ei.wait.cqueues`, `ei.wait.luv`.
-- The module behind them (`ei.wait`) loads on first use, not with `ei`.
ei.wait = {}
local function load_waiters(t)
  local wait = require "ei.wait"
  for _, name in ipairs { "block", "yield", "cqueues", "luv" } do rawset(t, name, wait[name]) end
  setmetatable(t, nil)
end
setmetatable(ei.wait, {
  __index = function(t, k) load_waiters(t); return rawget(t, k) end,
  __pairs = function(t) load_waiters(t); return next, t, nil end,
})

--- Create a client.
-- @tparam[opt] table opts
--  `api_key` (default `EI_API_KEY`), or `jwt`, `jwt_cookie`, `bearer`,
--  `oauth2 = { client_id =, client_secret = }`;
--  `host` (default `EI_HOST` or https://studio.edgeimpulse.com);
--  `timeout` (seconds per HTTP request, 30); `retries` (3); `backoff` (seconds, 0.5:
--  the first retry waits about this long, each next one twice as long, at most 30 s);
--  `status_interval` (seconds a followed job may stay silent before its status is checked, 5);
--  `coalesce` (seconds, 0.001, at most 1: when one read of the websocket finds several
--  messages, as in a burst of log lines, the next read waits this long so that it takes
--  what came meanwhile at once, which costs far less CPU than a wake-up per message; a
--  steady stream, one message per read, is read at once; 0 reads at once always);
--  `wait` (a waiter; default: chosen per call); `ca_file`; `user_agent`;
--  `insecure` (allow plain http to any host); `on_warning` (function(message));
--  `unknown_fields`: what a request does with a body field the bundled schema does not
--  name (a field newer than the schema): `"error"` (the default: `nil, msg, "EINVAL"`
--  naming the field, with a did-you-mean), `"warn"` (send it as plain JSON and call
--  `on_warning` once per field path) or `"send"` (send it silently). Known fields are
--  checked fully in every mode; `client:call` and the helpers take it per call too.
-- @treturn ei.Client the client (it talks to nobody until a call; unknown or mistyped
--  options raise)
-- @usage local client = ei.new { api_key = "ei_…" }
function ei.new(opts)
  return Client.new(opts)
end

--- A file for a binary field of a multipart body (`client:call`), streamed from disk
-- when the request is sent.
-- @tparam string path
-- @tparam[opt] string filename the part's file name (default: the path's last component)
-- @tparam[opt] string content_type the part's Content-Type (default: application/octet-stream)
-- @treturn table a file marker `{ path =, filename =, type = }`
-- @usage client:call("uploadPretrainedModel", { projectId = pid, body = {
--   modelFile = ei.file("model.tflite"), modelFileName = "model.tflite", modelFileType = "tflite" } })
function ei.file(path, filename, content_type)
  if type(path) ~= "string" then error("bad argument #1 to 'file' (string expected, got " .. type(path) .. ")", 2) end
  return core.file(path, filename, content_type)
end

--- Check a table against a schema of the Studio API.
-- @tparam string schema_name e.g. "SetKerasParameterRequest"
-- @tparam table t
-- @tparam[opt] table opts `unknown_fields` ("error" | "warn" | "send", default "error", see
--  `ei.new`): under "warn" and "send" fields the schema does not name pass
-- @treturn boolean true
-- @treturn table the paths of the fields that passed unknown (empty under "error"); each
--  path maps to the known field it may have meant, when one is close
-- @return nil, message naming the field path, "EINVAL"
-- @usage assert(ei.validate("SetKerasParameterRequest", { learningRate = 0.01 }))
-- @usage local ok, unknown = ei.validate("SetKerasParameterRequest", t, { unknown_fields = "warn" })
function ei.validate(schema_name, t, opts)
  if opts ~= nil and type(opts) ~= "table" then error("bad argument #3 to 'validate' (table expected, got " .. type(opts) .. ")", 2) end
  local mode = opts and opts.unknown_fields
  if mode ~= nil and mode ~= "error" and mode ~= "warn" and mode ~= "send" then
    error('bad argument #3 to \'validate\' (unknown_fields must be "error", "warn" or "send")', 2)
  end
  local ok, second, third = core.validate(schema_name, t, mode)
  if not ok then return nil, second, third end -- message, code
  return true, third -- (second: the deprecated fields) the unknown ones
end

--- Run functions as concurrent coroutines over one poll loop.
-- ei calls inside them yield to each other instead of blocking.
-- @tparam function ... functions to run
-- @return the first result of each function, in order
-- @usage local r1, r2 = ei.run(function() return job1:wait() end, function() return job2:wait() end)
function ei.run(...)
  return require("ei.wait").run_all(...)
end

return ei
