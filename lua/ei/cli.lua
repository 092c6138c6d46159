--- The `ei-train` command line: a command word, then its options.
--
-- `ei-train [train] --project P --learn L …` starts training (the default when the
-- first word is an option); `follow JOB`, `status JOB`, `logs JOB`, `cancel JOB` and
-- `jobs` act on jobs; `sweep` trains a grid of parameters, `test` and `deploy` take
-- the trained model on. Each command is a table in `cli.COMMANDS` (name, module): a
-- new one is one more row and a module returning `{ [name] = command }` where a
-- command has `summary`, `usage`, `help`, `options` and `run(opts, ctx)`.
-- Credentials and host come from `EI_API_KEY` and `EI_HOST`, the project from
-- `--project` or `EI_PROJECT_ID`. Exit codes: 0 done (trained), 1 the job failed,
-- 2 bad usage or invalid parameters, 3 the service could not be reached or talked to.
-- @module ei.cli
-- @usage os.exit(require("ei.cli").main(arg))
local ei = require "ei"

local cli = {}

--- Exit codes of the command line.
cli.EXIT = { ok = 0, failed = 1, usage = 2, service = 3 }

-- Error codes of the library mapped to exit codes; anything else is a service failure.
local EXIT_OF_CODE = { EINVAL = cli.EXIT.usage }

--- The commands, in the order the help lists them: `name` and the `module`
-- whose table holds the command under that name.
cli.COMMANDS = {
  { name = "train", module = "ei.cli.train" },
  { name = "follow", module = "ei.cli.jobs" },
  { name = "status", module = "ei.cli.jobs" },
  { name = "logs", module = "ei.cli.jobs" },
  { name = "cancel", module = "ei.cli.jobs" },
  { name = "jobs", module = "ei.cli.jobs" },
  { name = "sweep", module = "ei.cli.sweep" },
  { name = "test", module = "ei.cli.deploy" },
  { name = "deploy", module = "ei.cli.deploy" },
}

--- The command that runs when the first word is an option.
cli.DEFAULT = "train"

local FOOTER = [[
Environment: EI_API_KEY (the project's API key), EI_HOST (the Studio host),
EI_PROJECT_ID (the project, when --project is not given).

Exit status: 0 done (trained, for train and follow), 1 the job failed,
2 bad usage or invalid parameters, 3 could not reach or talk to the service.
]]

--- The command table of a name, or nil.
-- @tparam string name
-- @treturn table|nil
function cli.command(name)
  for _, row in ipairs(cli.COMMANDS) do
    if row.name == name then return require(row.module)[name] end
  end
  return nil
end

--- The help of the whole command line.
-- @treturn string
function cli.usage()
  local lines = { "usage: " .. cli.command(cli.DEFAULT).usage }
  for _, row in ipairs(cli.COMMANDS) do
    if row.name ~= cli.DEFAULT then lines[#lines + 1] = "       " .. cli.command(row.name).usage end
  end
  lines[#lines + 1] = "\nDrive Edge Impulse Studio training: start it, follow it, look at jobs,\nsweep a grid of parameters, test the model and deploy it.\n\nCommands:"
  for _, row in ipairs(cli.COMMANDS) do
    lines[#lines + 1] = ("  %-8s %s"):format(row.name, cli.command(row.name).summary)
  end
  lines[#lines + 1] = "\n'ei-train COMMAND --help' describes a command and its options.\n"
  return table.concat(lines, "\n") .. "\n" .. FOOTER
end

--- The help of one command.
-- @tparam string name
-- @treturn string
function cli.command_usage(name)
  local c = cli.command(name)
  return ("usage: %s\n\n%s.\n\n%s\n%s"):format(c.usage, c.summary:gsub("^%l", string.upper), c.help, FOOTER)
end

--- A usage error: the message and the exit code for bad usage.
-- @tparam string msg
-- @treturn table `{ msg =, exit = }`
function cli.usage_error(msg)
  return { msg = msg, exit = cli.EXIT.usage }
end

local function integer_of(text)
  return text:match("^%d+$") and math.tointeger(tonumber(text)) or nil
end

-- Store one option's value: "flag" options are true, "list" ones collect, others
-- take one value.
local function store(opts, name, kind, value)
  if kind == "list" then
    opts[name] = opts[name] or {}
    opts[name][#opts[name] + 1] = value
  elseif opts[name] ~= nil then
    return cli.usage_error(("--%s given twice"):format(name))
  else
    opts[name] = value
  end
end

--- Parse the words after the command against its option table.
-- `command.options` maps an option name to "flag", "value", "integer" or "list";
-- `command.args` names the positional words (each an integer id). `--help`/`-h`
-- is always known.
-- @tparam table command
-- @tparam table words
-- @treturn table options by name, positional ones by their lower-case name
-- @return nil, error table `{ msg =, exit = }` on bad usage
function cli.parse(command, words)
  local opts, positional, i = {}, {}, 1
  while words[i] ~= nil do
    local w = words[i]
    local name, value = w:match("^%-%-([%w-]+)=(.*)$")
    if not name then name = w:match("^%-%-([%w-]+)$") end
    if w == "-h" then name = "help" end
    local kind = name == "help" and "flag" or command.options[name]
    if not name and not w:match("^%-.") then
      positional[#positional + 1] = w
    elseif not kind then
      return nil, cli.usage_error(("unknown option '%s'"):format(w))
    elseif kind == "flag" then
      if value then return nil, cli.usage_error(("option --%s takes no value"):format(name)) end
      opts[name] = true
    else
      if not value then
        i = i + 1
        value = words[i]
        if value == nil then return nil, cli.usage_error(("option --%s needs a value"):format(name)) end
      end
      if kind == "integer" then
        local n = integer_of(value)
        if not n then return nil, cli.usage_error(("--%s wants a whole number, got '%s'"):format(name, value)) end
        value = n
      end
      local err = store(opts, name, kind, value)
      if err then return nil, err end
    end
    i = i + 1
  end
  if opts.help then return opts end
  local wanted = command.args or {}
  if #positional > #wanted then
    return nil, cli.usage_error(("unexpected argument '%s'"):format(positional[#wanted + 1]))
  end
  for k, arg_name in ipairs(wanted) do
    local text = positional[k]
    if not text then return nil, cli.usage_error(("missing %s"):format(arg_name)) end
    local n = integer_of(text)
    if not n then return nil, cli.usage_error(("%s wants an integer id, got '%s'"):format(arg_name, text)) end
    opts[arg_name:lower()] = n
  end
  return opts
end

--- The project id: `--project`, else `EI_PROJECT_ID`.
-- @tparam table opts parsed options
-- @treturn integer
-- @return nil, error table on bad usage
function cli.project(opts)
  local text, from = opts.project, "--project"
  if text == nil then
    text, from = os.getenv "EI_PROJECT_ID", "EI_PROJECT_ID"
    if text == nil or text == "" then return nil, cli.usage_error("missing --project (or set EI_PROJECT_ID)") end
  end
  local n = integer_of(text)
  if not n then return nil, cli.usage_error(("%s wants an integer id, got '%s'"):format(from, text)) end
  return n
end

--- Report a library failure and give its exit code.
-- @tparam table ctx the run's context (`stderr`)
-- @param err the message
-- @tparam[opt] string code the library's error code
-- @treturn integer the exit code
function cli.fail(ctx, err, code)
  ctx.stderr:write("ei-train: ", tostring(err), "\n")
  return EXIT_OF_CODE[code] or cli.EXIT.service
end

--- Write the SVG of `--plot` to its file. When the file cannot be written, say
-- why and make a successful run's exit code a usage error.
-- @tparam table ctx the run's context (`stderr`)
-- @tparam integer rc the exit code so far
-- @tparam string path the `--plot` file
-- @tparam string svg the drawing
-- @treturn integer the exit code
function cli.write_plot(ctx, rc, path, svg)
  local f, err = io.open(path, "w")
  if f then
    f:write(svg)
    f:close()
    return rc
  end
  ctx.stderr:write("ei-train: --plot: ", err, "\n")
  return rc == cli.EXIT.ok and cli.EXIT.usage or rc
end

--- Make a client from the environment, refusing before anything is sent when no
-- credential is set.
-- @tparam table ctx the run's context
-- @tparam[opt] table opts parsed options: with `allow-unknown`, fields the bundled
-- schema does not know are sent, each named once in a warning
-- @treturn ei.Client
-- @return nil, exit code (the reason is written to stderr)
function cli.connect(ctx, opts)
  local key = os.getenv "EI_API_KEY"
  if key == nil or key == "" then
    ctx.stderr:write("ei-train: no credentials: set EI_API_KEY to an API key of the project ",
      "(Studio: Dashboard > Keys); nothing was sent\n")
    return nil, cli.EXIT.usage
  end
  local client, err, code = ei.new { api_key = key, unknown_fields = opts and opts["allow-unknown"] and "warn" or nil }
  if not client then return nil, cli.fail(ctx, err, code) end
  return client
end

--- Run `act(client, project)` with the project of the options and a client from
-- the environment, closing the client afterwards.
-- @tparam table opts parsed options (`project`)
-- @tparam table ctx the run's context
-- @tparam function act returns the exit code
-- @treturn integer the exit code
function cli.with_client(opts, ctx, act)
  local project, perr = cli.project(opts)
  if not project then
    ctx.stderr:write("ei-train: ", perr.msg, "\n")
    return perr.exit
  end
  local client, rc = cli.connect(ctx, opts)
  if not client then return rc end
  rc = act(client, project)
  client:close()
  return rc
end

--- Rows of cells as lines of aligned columns, two spaces apart, the last
-- column unpadded.
-- @tparam {{string,...},...} rows
-- @treturn {string,...}
function cli.align(rows)
  local widths = {}
  for _, row in ipairs(rows) do
    for i, cell in ipairs(row) do widths[i] = math.max(widths[i] or 0, #cell) end
  end
  local out = {}
  for _, row in ipairs(rows) do
    local cells = {}
    for i, cell in ipairs(row) do cells[i] = i < #row and cell .. (" "):rep(widths[i] - #cell) or cell end
    out[#out + 1] = (table.concat(cells, "  "):gsub("%s+$", ""))
  end
  return out
end

-- The command of the first word, and where its options begin.
local function pick(args)
  local first = args[1]
  if first == nil or first:match("^%-") then
    if first == "--help" or first == "-h" then return nil, 1 end
    return cli.DEFAULT, 1
  end
  return first, 2
end

--- Run the command line.
-- @tparam table args the script's `arg`
-- @tparam[opt] table io_ `{ stdout =, stderr = }` (default: the process's)
-- @treturn integer the exit code
-- @usage os.exit(require("ei.cli").main(arg))
function cli.main(args, io_)
  io_ = io_ or {}
  local ctx = { stdout = io_.stdout or io.stdout, stderr = io_.stderr or io.stderr }
  ctx.terminal = io_.stdout == nil
  args = args or {}
  local name, first = pick(args)
  if not name then
    ctx.stdout:write(cli.usage())
    return cli.EXIT.ok
  end
  local command = cli.command(name)
  if not command then
    ctx.stderr:write(("ei-train: unknown command '%s'\n"):format(name), cli.usage())
    return cli.EXIT.usage
  end
  local opts, perr = cli.parse(command, table.move(args, first, math.max(#args, first - 1), 1, {}))
  if not opts then
    ctx.stderr:write("ei-train: ", perr.msg, "\n", cli.command_usage(name))
    return perr.exit
  end
  if opts.help then
    ctx.stdout:write(cli.command_usage(name))
    return cli.EXIT.ok
  end
  return command.run(opts, ctx)
end

return cli
