---@meta ei.pipeline
-- `require "ei.pipeline"` for LuaLS: the module is an ei.Pipeline (types/ei.lua).

---@type ei.Pipeline
local pipeline
return pipeline
