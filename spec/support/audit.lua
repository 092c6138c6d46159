-- The secret audit. Loaded by busted before the specs (see .busted): when the
-- environment names a file in EI_AUDIT, every function and method of the module
-- is observed while the whole suite runs, and everything it hands a script is
-- scanned for credentials: error messages (returned and raised), warnings, log
-- lines, and the tostring of every object it returns. Findings and counts go to
-- the file; spec/support/audit-check.lua reads it after the run.
-- Without EI_AUDIT nothing is observed.
local audit = {}

local PATTERNS = {
  { "a JWT or socket token", "eyJ[%w_%-]+%.eyJ[%w_%-]+%.[%w_%-]+" },
  { "an API key", "ei_" .. ("%x"):rep(16) },
}
-- Credentials that no pattern above recognises (wrong keys, OAuth secrets).
local known = {}
local counts = { errors = 0, raised = 0, warnings = 0, lines = 0, objects = 0, outputs = 0 }
local out

--- Remember a credential to look for.
function audit.secret(s)
  if type(s) ~= "string" or #s < 6 then return end
  for _, p in ipairs(PATTERNS) do if s:find(p[2]) then return end end
  known[s] = true
end

--- What kind of credential `text` shows, or nil.
function audit.find(text)
  if #text > 65536 then text = text:sub(1, 8192) .. "\n" .. text:sub(-8192) end
  for _, p in ipairs(PATTERNS) do
    if text:find(p[2]) then return p[1] end
  end
  for s in pairs(known) do
    if text:find(s, 1, true) then return "a credential given to the client" end
  end
  return nil
end

local function write(line)
  if out then
    out:write(line, "\n")
    out:flush()
  end
end

--- Scan one text of a kind (a key of counts); `where` says what produced it.
function audit.scan(kind, where, text)
  if type(text) ~= "string" then return end
  counts[kind] = counts[kind] + 1
  local leak = audit.find(text)
  if leak then write(("leak\t%s\t%s\t%s"):format(kind, where, leak)) end
end

local function scan_object(where, v)
  local ok, text = pcall(tostring, v)
  if ok then audit.scan("objects", where, text) end
end

-- Scan what a call returned: an error message, an event's line, an object.
-- Strings the C core returns are data (response bodies, encoded requests), not
-- messages: of its results only errors and objects are scanned.
local function scan_results(where, r, lua_function)
  if where:find("__tostring$") then
    audit.scan("objects", where, r[2])
    return
  end
  if r[2] == nil or r[2] == false then
    audit.scan("errors", where, r[3])
    return
  end
  for i = 2, r.n do
    local v = r[i]
    if type(v) == "string" then
      if lua_function then audit.scan("lines", where, v) end
    elseif type(v) == "userdata" then
      scan_object(where, v)
    elseif type(v) == "table" then
      local mt = getmetatable(v)
      if mt and mt.__tostring then
        scan_object(where, v)
      elseif lua_function and v.type == "log" then
        audit.scan("lines", where, v.line)
      elseif lua_function and type(v[1]) == "string" then
        for _, line in ipairs(v) do audit.scan("lines", where, line) end
      end
    end
  end
end

local function has_position(e)
  return e:match("^[^\n:]+:%d+: ") ~= nil
end

-- Observe f. A raise of a Lua function at level 2 would point at this wrapper's
-- pcall, which has no position: the caller's position is put back.
local function observe(f, where, lua_function)
  return function(...)
    local r = table.pack(pcall(f, ...))
    if not r[1] then
      local e = r[2]
      audit.scan("raised", where, type(e) == "string" and e or tostring(e))
      if lua_function and type(e) == "string" and not has_position(e) then
        local caller = debug.getinfo(2, "Sl")
        if caller and caller.currentline > 0 then e = ("%s:%d: %s"):format(caller.short_src, caller.currentline, e) end
      end
      error(e, 0)
    end
    scan_results(where, r, lua_function)
    return table.unpack(r, 2, r.n)
  end
end

local SKIP = { __index = true, __gc = true, __close = true, __mode = true, __name = true, __metatable = true }

-- Functions already observed: a C module reloaded reuses its class metatables.
local observed = setmetatable({}, { __mode = "k" })

local function observe_table(t, name, lua_functions, skip)
  for k, v in pairs(t) do
    if type(v) == "function" and type(k) == "string" and not SKIP[k] and not (skip and skip[k]) and not observed[v] then
      local w = observe(v, name .. "." .. k, lua_functions)
      observed[w] = true
      t[k] = w
    end
  end
end

-- Observe ei.new: remember the credentials, and scan the warnings.
local function observe_new(ei)
  local new = ei.new
  ei.new = function(opts, ...)
    if type(opts) == "table" then
      local copy = {}
      for k, v in pairs(opts) do copy[k] = v end
      for _, k in ipairs { "api_key", "jwt", "jwt_cookie", "bearer" } do audit.secret(copy[k]) end
      if type(copy.oauth2) == "table" then audit.secret(copy.oauth2.client_secret) end
      local warn = copy.on_warning
      if warn == nil or type(warn) == "function" then
        copy.on_warning = function(msg, ...)
          audit.scan("warnings", "on_warning", msg)
          if warn then return warn(msg, ...) end
          io.stderr:write("ei: warning: ", msg, "\n")
        end
      end
      opts = copy
    end
    return new(opts, ...)
  end
end

local OBSERVED = {
  ["ei"] = function(m)
    observe_table(m, "ei", true, { new = true })
    observe_new(m)
  end,
  ["ei.client"] = function(m)
    -- socket_token hands the token out on purpose: it is a credential, not a message.
    local token = m.socket_token
    m.socket_token = function(...)
      local t = token(...)
      audit.secret(t)
      return t
    end
    observe_table(m, "Client", true, { new = true, socket_token = true })
  end,
  ["ei.job"] = function(m) observe_table(m, "Job", true, { new = true }) end,
  ["ei.pipeline"] = function(m) observe_table(m, "pipeline", true) end,
  ["ei.plot"] = function(m) observe_table(m, "plot", true) end,
  ["ei.core"] = function(m)
    observe_table(m, "core", false)
    local registry = debug.getregistry()
    for _, class in ipairs { "ei.core.Client", "ei.Socket", "ei.Request" } do
      local mt = registry[class]
      if type(mt) == "table" then
        if type(mt.__index) == "table" then observe_table(mt.__index, class, false) end
        if mt.__tostring and not observed[mt.__tostring] then
          mt.__tostring = observe(mt.__tostring, class .. ".__tostring", false)
          observed[mt.__tostring] = true
        end
      end
    end
  end,
}

--- Output of a child process (the command line, an example) to scan.
function audit.output(where, text)
  if out then audit.scan("outputs", where, text) end
end

-- Every module of the ei namespace is observed as it is loaded, so a module
-- busted unloads between spec files is observed again when it is reloaded.
local function install()
  local searchers = package.searchers
  table.insert(searchers, 2, function(name)
    local observe_module = OBSERVED[name]
    if not observe_module then return nil end
    for i = 3, #searchers do
      local loader, extra = searchers[i](name)
      if type(loader) == "function" then
        return function(...)
          local m = loader(...)
          if type(m) == "table" then observe_module(m) end
          return m
        end, extra
      end
    end
    return nil
  end)
  -- Counts are written as they grow, so the file is complete however the run ends.
  local flush_every = 0
  local scan = audit.scan
  audit.scan = function(...)
    scan(...)
    flush_every = flush_every + 1
    if flush_every % 200 == 0 then audit.write_counts() end
  end
end

function audit.write_counts()
  local parts = {}
  for k, v in pairs(counts) do parts[#parts + 1] = k .. "=" .. v end
  table.sort(parts)
  write("counts\t" .. table.concat(parts, " "))
end

local path = os.getenv("EI_AUDIT")
if path and path ~= "" and not package.loaded["ei.audit"] then
  out = assert(io.open(path, "a"))
  install()
  package.loaded["ei.audit"] = audit
  -- the last counts, when the state closes at the end of the run
  audit.sentinel = setmetatable({}, { __gc = function() audit.write_counts() end })
end

return audit
