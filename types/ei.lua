---@meta ei
-- LuaLS annotations for ei-train: point `workspace.library` at this folder. The
-- request schemas (ei.SetKerasParameterRequest, …) are in the generated ei-schemas.lua.

---@alias ei.Code "EINVAL"|"EAUTH"|"EAPI"|"EHTTP"|"ETIMEDOUT"|"ECONNECT"|"EPROTO"|"ECLOSED"|"ECANCELED"
---@alias ei.Waiter fun(pollable: ei.Pollable)
---JSON null (`ei.null`), for fields the API declares nullable.
---@alias ei.Null lightuserdata

---@class ei.Pollable
---@field pollfd fun(self): integer
---@field events fun(self): string
---@field timeout fun(self): number|nil

---@class ei.Event
---@field type "log"|"progress"|"metrics"|"connection"|"finished"
---@field job integer
---@field line? string
---@field epoch? integer
---@field epochs? integer
---@field fraction? number
---@field state? "connected"|"lost"|"reconnected"|"polling"
---@field success? boolean
---@field loss? number
---@field accuracy? number
---@field val_loss? number
---@field val_accuracy? number

---Options of `ei.new`, each described once: in the LDoc of `ei.new` (lua/ei/init.lua).
---spec/options_spec.lua checks this list against that LDoc and against what the code accepts.
---@class ei.Options
---@field api_key? string
---@field jwt? string
---@field jwt_cookie? string
---@field bearer? string
---@field oauth2? { client_id: string, client_secret: string }
---@field host? string
---@field timeout? number
---@field retries? integer
---@field wait? ei.Waiter
---@field ca_file? string
---@field user_agent? string
---@field insecure? boolean
---@field on_warning? fun(message: string)
---@field backoff? number
---@field status_interval? number
---@field coalesce? number
---@field unknown_fields? ei.UnknownFields

---@alias ei.UnknownFields "error"|"warn"|"send"

---Options of one call (`Client:call` and the helpers that take `opts`: `train_keras`,
---`set_keras_config`, `generate_features`), each described once: in the LDoc of
---`Client:call` (lua/ei/client.lua); spec/options_spec.lua checks them against it.
---@class ei.CallOptions
---@field unknown_fields? ei.UnknownFields
---@field output? string
---@field progress? fun(done: integer, total: integer|nil)
---@field timeout? number

---What a call with `output` returns.
---@class ei.SavedResponse
---@field path string
---@field size integer
---@field sha256 string
---@field content_type string|nil

---A file for a binary field of a multipart body (`ei.file`).
---@class ei.File
---@field path string
---@field filename? string
---@field type? string

---@class ei.Job: ei.Pollable
---@field id integer
---@field project_id integer
local Job = {}
---@return fun(): ei.Event
function Job:updates() end
---@param timeout? number
---@return ei.Event|nil, string?, ei.Code?
function Job:receive(timeout) end
---@param timeout? number
---@return boolean|nil, string?, ei.Code?
function Job:wait(timeout) end
---@param force? boolean
---@return true|nil, string?, ei.Code?
function Job:cancel(force) end
---@return table|nil, string?, ei.Code?
function Job:status() end
---@param limit? integer
---@return string[]|nil, string?, ei.Code?
function Job:logs(limit) end
function Job:close() end
---@return true
function Job:step() end

---@class ei.Client
local Client = {}
---Start training a Keras learn block (`trainKerasJob`).
---@param project_id integer
---@param learn_id integer
---@param opts? ei.CallOptions
---@param params? ei.SetKerasParameterRequest
---@return ei.Job|nil, string?, ei.Code?
function Client:train_keras(project_id, learn_id, params, opts) end
---@return ei.Job
function Client:job(project_id, job_id) end
---@param operation_id string
---@param args? table
---@param opts? ei.CallOptions
---@return any|ei.SavedResponse, string?, ei.Code?
function Client:call(operation_id, args, opts) end
---@return table|nil, string?, ei.Code?
function Client:impulse(project_id) end
---@return table|nil, string?, ei.Code?
function Client:keras_config(project_id, learn_id) end
---@param project_id integer
---@param learn_id integer
---@param opts? ei.CallOptions
---@param params ei.SetKerasParameterRequest
---@return table|nil, string?, ei.Code?
function Client:set_keras_config(project_id, learn_id, params, opts) end
---@return table|nil, string?, ei.Code?
function Client:keras_metadata(project_id, learn_id) end
---@return ei.Job|nil, string?, ei.Code?
---@param fields? table
---@param opts? ei.CallOptions
function Client:generate_features(project_id, dsp_id, fields, opts) end
---@return string|nil, string?, ei.Code?
function Client:socket_token(project_id) end
---The client's descriptor, for a host's own loop: poll it for reading at most `timeout()` seconds, then `step`.
---@return integer
function Client:pollfd() end
---@return string
function Client:events() end
---Seconds until `step` has work without I/O (0: now), or nil.
---@return number|nil
function Client:timeout() end
---Do the ready work (I/O, timers, pending REST exchanges) without waiting.
---@return boolean
function Client:step() end
---Run `f(...)` as a pending operation: nothing waits for it, every step moves it on.
---@param f function
---@return ei.Pending
function Client:pending(f, ...) end
function Client:close() end

---A client call in progress (`client:pending`).
---@class ei.Pending: ei.Pollable
local Pending = {}
---@return boolean
function Pending:done() end
---The call's results once it returned (raises what the call raised).
---@return any ...
function Pending:result() end
---@return boolean done
function Pending:step() end

---JSON for scripts (`ei.json`), in lua-cjson's shape; failures return nil, message, "EINVAL".
---@class ei.JSON
---@field null ei.Null the same sentinel as the module's null
local JSON = {}
---@param v any a string, number, boolean, the null sentinel or a table of these
---@return string|nil, string?, ei.Code?
function JSON.encode(v) end
---@param s string
---@return any|nil, string?, ei.Code?
function JSON.decode(s) end

---@class ei
---@field VERSION string
---@field null ei.Null
---@field json ei.JSON
---@field wait { block: ei.Waiter, yield: ei.Waiter, cqueues: ei.Waiter, luv: ei.Waiter }
local ei = {}
---@param opts? ei.Options
---@return ei.Client
function ei.new(opts) end
---@param opts? { unknown_fields?: ei.UnknownFields }
---@return true|nil, string[]|string|nil, ei.Code?
function ei.validate(schema_name, t, opts) end
---@param path string
---@param filename? string
---@param content_type? string
---@return ei.File
function ei.file(path, filename, content_type) end
---@return any ...
function ei.run(...) end

---@class ei.pipeline.TestVariant
---@field variant string
---@field accuracy number 0..1
---@field good integer
---@field bad integer
---@field labels string[]
---@field confusion table<string, table<string, number>> percent of each actual label

---@class ei.pipeline.TestResult: ei.pipeline.TestVariant
---@field success boolean
---@field job integer
---@field reason? string the job's last ERROR line when it failed
---@field variants? table<string, ei.pipeline.TestVariant>

---@class ei.pipeline.FitResult
---@field variant string
---@field engine string
---@field device string
---@field device_name? string
---@field ram integer bytes
---@field rom integer bytes
---@field latency_ms number
---@field model { ram: integer, rom: integer, latency_ms: number }
---@field dsp? { ram: integer, latency_ms: number }
---@field fits boolean
---@field over string[] "ram", "rom", "latency_ms"

---@class ei.pipeline.DeployResult
---@field success boolean
---@field job integer
---@field version integer
---@field type string
---@field engine string
---@field model_type? string
---@field reason? string
---@field path? string
---@field size? integer
---@field sha256? string

---A training's result, as `ei.pipeline.train` gives it.
---@class ei.TrainResult
---@field job integer
---@field success boolean
---@field reason? string
---@field epochs ei.Event[] the metrics events, in order
---@field accuracy? number validation accuracy of the trained model
---@field loss? number validation loss of the trained model
---@field metadata? table the getKerasMetadata response
---@field project_id integer
---@field learn_id integer
---@field params? ei.SetKerasParameterRequest
---@field error? string when the job could not be started or followed (train_all)
---@field code? ei.Code

---Training pipelines (`require "ei.pipeline"`).
---@class ei.Pipeline
local Pipeline = {}
---The client, project and learn block the environment names (EI_PROJECT_ID, EI_LEARN_ID).
---@param opts? ei.Options
---@return ei.Client|nil client, integer|string project_id_or_error, integer? learn_id
function Pipeline.from_env(opts) end
---A learn block of the project's impulse, by name or type (default: the first Keras block).
---@param client ei.Client
---@param project_id integer
---@param name_or_type? string
---@return table|nil block, string?, ei.Code?
function Pipeline.find_learn_block(client, project_id, name_or_type) end
---Generate features of a DSP block and wait for the job.
---@param client ei.Client
---@param project_id integer
---@param dsp_id integer
---@return boolean|nil, string?, ei.Code?
function Pipeline.generate_features(client, project_id, dsp_id) end
---Train a learn block, follow it, and read its metrics.
---@param client ei.Client
---@param project_id integer
---@param learn_id integer
---@param params? ei.SetKerasParameterRequest
---@param opts? { on_event?: fun(ev: ei.Event), on_start?: fun(job_id: integer) }
---@return ei.TrainResult|nil, string?, ei.Code?
function Pipeline.train(client, project_id, learn_id, params, opts) end
---Train several learn blocks concurrently; one result per entry, in order.
---@param client ei.Client
---@param list { [1]: integer, [2]: integer, [3]?: ei.SetKerasParameterRequest }[]
---@return ei.TrainResult[]
function Pipeline.train_all(client, list) end
---Print a result: metrics table, confusion matrix.
---@param result ei.TrainResult
---@param out? file*|fun(line: string)
function Pipeline.report(result, out) end


---Classify the test set (startClassifyJob) and read the results per variant.
---@param client ei.Client
---@param project_id integer
---@param opts? { variants?: string[], on_event?: fun(ev: ei.Event) }
---@return ei.pipeline.TestResult|nil result
---@return string? message
---@return ei.Code? code
function Pipeline.test(client, project_id, opts) end

---The trained model's on-device RAM, ROM and latency, and whether they fit the limits given.
---@param client ei.Client
---@param project_id integer
---@param learn_id integer
---@param opts? { variant?: string, engine?: string, device?: string, dsp?: boolean, ram?: integer, rom?: integer, latency_ms?: number }
---@return ei.pipeline.FitResult|nil result
---@return string? message
---@return ei.Code? code
function Pipeline.fit(client, project_id, learn_id, opts) end

---Build for a device (buildOnDeviceModelJob), follow the job and stream the archive to a file.
---@param client ei.Client
---@param project_id integer
---@param opts? { type?: string, engine?: string, model_type?: string, parameters?: table<string, string>, output?: string, on_event?: fun(ev: ei.Event) }
---@return ei.pipeline.DeployResult|nil result
---@return string? message
---@return ei.Code? code
function Pipeline.deploy(client, project_id, opts) end

return ei
