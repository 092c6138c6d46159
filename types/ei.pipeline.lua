---@meta ei.pipeline
-- LuaLS annotations for the steps after training in ei.pipeline (test, fit, deploy).

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

local pipeline = {}

---@param client ei.Client
---@param project_id integer
---@param opts? { variants?: string[], on_event?: fun(ev: ei.Event) }
---@return ei.pipeline.TestResult|nil result
---@return string? message
---@return ei.Code? code
function pipeline.test(client, project_id, opts) end

---@param client ei.Client
---@param project_id integer
---@param learn_id integer
---@param opts? { variant?: string, engine?: string, device?: string, dsp?: boolean, ram?: integer, rom?: integer, latency_ms?: number }
---@return ei.pipeline.FitResult|nil result
---@return string? message
---@return ei.Code? code
function pipeline.fit(client, project_id, learn_id, opts) end

---@param client ei.Client
---@param project_id integer
---@param opts? { type?: string, engine?: string, model_type?: string, parameters?: table<string, string>, output?: string, on_event?: fun(ev: ei.Event) }
---@return ei.pipeline.DeployResult|nil result
---@return string? message
---@return ei.Code? code
function pipeline.deploy(client, project_id, opts) end

return pipeline
