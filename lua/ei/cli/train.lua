--- The train command of ei-train: start training a Keras learn block and, asked to,
-- follow it. Its parameters (from a file and the set options) are checked against the
-- API's SetKerasParameterRequest before anything is sent.
-- @module ei.cli.train
local ei = require "ei"
local cli = require "ei.cli"
local follow = require "ei.cli.follow"

local train = {}

--- Parse the text of a `--set` value.
-- `true`/`false` give booleans, decimal numbers give numbers (an integer stays an
-- integer), `null` gives `ei.null`, and anything else stays the string as given.
-- @tparam string text
-- @return the value
function train.parse_value(text)
  if text == "true" then return true end
  if text == "false" then return false end
  if text == "null" then return ei.null end
  if (text:match("^[-+]?%d") or text:match("^[-+]?%.%d")) and not text:find("[xX]") then
    local n = tonumber(text)
    if n then
      if text:match("^[-+]?%d+$") then return math.tointeger(n) or n end
      return n
    end
  end
  return text
end

-- Split a dotted key into its path: names, and numbers for array items.
local function key_path(key)
  local path = {}
  for part in (key .. "."):gmatch("([^.]*)%.") do
    if part == "" then return nil end
    path[#path + 1] = part:match("^%d+$") and math.tointeger(tonumber(part)) or part
  end
  return path
end

-- The path as the validator writes it: `a.b[2].c`, `customParameters["some-param"]`.
local function path_text(path)
  local out = {}
  for i, part in ipairs(path) do
    if math.type(part) == "integer" then
      out[#out + 1] = ("[%d]"):format(part)
    elseif part:match("^[%a_][%w_]*$") then
      out[#out + 1] = (i > 1 and "." or "") .. part
    else
      out[#out + 1] = '["' .. part:gsub('[\\"]', "\\%0"):gsub("\n", "\\n"):gsub("\r", "\\r") .. '"]'
    end
  end
  return table.concat(out)
end

-- Store value at path in t, making tables on the way.
local function put(t, path, value, key)
  for i = 1, #path - 1 do
    local k = path[i]
    if t[k] == nil then t[k] = {} end
    if type(t[k]) ~= "table" or t[k] == ei.null then
      return nil, ("--set %s: %s is not an object"):format(key, path_text(table.move(path, 1, i, 1, {})))
    end
    t = t[k]
  end
  t[path[#path]] = value
  return true
end

--- Apply `--set` assignments on top of a parameter table, then validate it.
-- Values are parsed by `parse_value`; where the schema declares a string field
-- and the text parsed as something else, the text is kept as a string.
-- @tparam table params the table to change (from `--params`, or empty)
-- @tparam table sets array of `{ key =, text = }`
-- @tparam[opt] boolean allow_unknown let fields the bundled schema does not name
-- through (`--allow-unknown`); the known fields are still checked
-- @treturn table params
-- @return nil, message (naming the field path)
function train.apply_sets(params, sets, allow_unknown)
  local check = allow_unknown and { unknown_fields = "send" } or nil
  local by_path = {}
  for _, s in ipairs(sets) do
    local path = key_path(s.key)
    if not path then return nil, ("--set %s: empty part in the key"):format(s.key) end
    local ok, err = put(params, path, train.parse_value(s.text), s.key)
    if not ok then return nil, err end
    by_path[path_text(path)] = { path = path, text = s.text, key = s.key }
  end
  -- The schema has the last word on type: a field it declares as a string gets the text.
  for _ = 1, #sets + 1 do
    local ok, err = ei.validate("SetKerasParameterRequest", params, check)
    if ok then return params end
    local at = err:match("^(.-): expected string, got %a+$")
    local s = at and by_path[at]
    if not s or s.fixed then return nil, err end
    s.fixed = true
    put(params, s.path, s.text, s.key)
  end
  return nil, "invalid parameters"
end

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

--- Load a parameter file: JSON, or Lua returning a table.
-- @tparam string path ending in `.json` or `.lua`
-- @treturn table
-- @return nil, message
function train.load_params(path)
  if path:match("%.lua$") then
    local chunk, err = loadfile(path, "t")
    if not chunk then return nil, err end
    local ok, t = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(path, tostring(t)) end
    if type(t) ~= "table" then return nil, ("%s: the file must return a table"):format(path) end
    return t
  end
  local text, err = read_file(path)
  if not text then return nil, err end
  local t, derr = ei.json.decode(text)
  if t == nil then return nil, ("%s: %s"):format(path, tostring(derr or "invalid JSON")) end
  if type(t) ~= "table" then return nil, ("%s: the JSON must be an object"):format(path) end
  return t
end

--- Find a learn block's id from its id or name.
-- @tparam ei.Client client
-- @tparam integer project
-- @tparam string learn an integer id, or a learn block's name in the impulse
-- @treturn integer the id
-- @return nil, message, code
function train.resolve_learn(client, project, learn)
  if learn:match("^%d+$") and math.tointeger(tonumber(learn)) then return math.tointeger(tonumber(learn)) end
  local res, err, code = client:impulse(project)
  if not res then return nil, err, code end
  local blocks = type(res.impulse) == "table" and res.impulse.learnBlocks or {}
  local names = {}
  for _, b in ipairs(blocks) do
    if b.name == learn then return b.id end
    names[#names + 1] = ("%q (%s, id %s)"):format(tostring(b.name), tostring(b.type), tostring(b.id))
  end
  for _, b in ipairs(blocks) do
    if type(b.name) == "string" and b.name:lower() == learn:lower() then return b.id end
  end
  return nil, ("no learn block named %q in project %d; the impulse has: %s"):format(
    learn, project, #names > 0 and table.concat(names, ", ") or "none"), "EINVAL"
end


local OPTIONS = {
  project = "value", learn = "value", set = "list", params = "value", follow = "flag", ["allow-unknown"] = "flag",
}
for k, v in pairs(follow.OPTIONS) do OPTIONS[k] = v end

--- The `key=value` texts of `--set` as `{ key =, text = }`.
-- @tparam[opt] {string,...} list
-- @treturn {table,...}
-- @return nil, usage error table `{ msg =, exit = }`
function train.split_sets(list)
  local sets = {}
  for _, value in ipairs(list or {}) do
    local key, text = value:match("^([^=]+)=(.*)$")
    if not key then return nil, cli.usage_error(("--set wants key=value, got '%s'"):format(value)) end
    sets[#sets + 1] = { key = key, text = text }
  end
  return sets
end

-- The request body: --params, then --set on top, checked against the schema.
local function params_of(opts, ctx)
  local params = {}
  if opts.params then
    local t, err = train.load_params(opts.params)
    if not t then
      ctx.stderr:write("ei-train: --params ", err, "\n")
      return nil
    end
    params = t
  end
  local checked, verr = train.apply_sets(params, opts.sets, opts["allow-unknown"])
  if not checked then
    ctx.stderr:write("ei-train: invalid parameters: ", verr, "\n")
    return nil
  end
  return checked
end

-- Start the job; returns the job (and the client) or nil, exit code.
local function start(client, project, opts, params, ctx)
  local learn_id, err, code = train.resolve_learn(client, project, opts.learn)
  if not learn_id then return nil, cli.fail(ctx, err, code) end
  local job
  job, err, code = client:train_keras(project, learn_id, params)
  if not job then return nil, cli.fail(ctx, err, code) end
  if opts.json then
    ctx.stdout:write(ei.json.encode { type = "started", job = job.id, project = project, learn = learn_id }, "\n")
  elseif not opts.follow then
    ctx.stdout:write(job.id, "\n")
  end
  ctx.stdout:flush()
  return job
end

local function run(opts, ctx)
  local project, perr = cli.project(opts)
  if not project then
    ctx.stderr:write("ei-train: ", perr.msg, "\n")
    return perr.exit
  end
  if not opts.learn or opts.learn == "" then
    ctx.stderr:write("ei-train: missing --learn\n")
    return cli.EXIT.usage
  end
  local sets, serr = train.split_sets(opts.set)
  if not sets then
    ctx.stderr:write("ei-train: ", serr.msg, "\n")
    return serr.exit
  end
  opts.sets = sets
  local params = params_of(opts, ctx)
  if not params then return cli.EXIT.usage end
  local client, rc = cli.connect(ctx, opts)
  if not client then return rc end
  local job
  job, rc = start(client, project, opts, params, ctx)
  if job then
    rc = opts.follow and follow.job(job, opts, ctx) or cli.EXIT.ok
    job:close()
  end
  client:close()
  return rc
end

-- The command, for ei.cli.COMMANDS.
train.train = {
  summary = "start training a Keras learn block (the default when the first word is an option)",
  usage = "ei-train [train] --project P --learn L [--set key=value]... [--params FILE]\n"
    .. "                [--follow] [--json] [--plot FILE.svg] [--plot-metrics M] [--cancel-on-interrupt]",
  options = OPTIONS,
  help = [[
  --project P        the project id (integer; default EI_PROJECT_ID)
  --learn L          the learn block: its id, or its name in the impulse
  --set key=value    set one training parameter (repeatable); nested keys with dots
                     (augmentationPolicySpectrogram.enabled=true), array items by
                     number (visualLayers.1.neurons=20). Values: true/false are
                     booleans, decimal numbers are numbers (integers stay integers),
                     null is JSON null, anything else a string; a field the schema
                     declares as a string keeps the text as given ("123" stays "123").
  --params FILE      parameters from a JSON file, or a Lua file returning a table;
                     --set applies on top
  --follow           follow the job live until it finishes (as 'ei-train follow')
  --allow-unknown    send fields this version's schema does not know (a field Studio
                     added later); each is named in a warning, known fields are still
                     checked
]] .. follow.HELP .. [[

  -h, --help         show this help

Parameters are checked against the API's SetKerasParameterRequest schema before
anything is sent. Without --follow the job id is printed.
]],
  run = run,
}

return train
