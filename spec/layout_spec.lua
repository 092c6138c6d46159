-- The shape of the C core that README's "Building" section and the house style
-- promise: one concept per file (none much over 600 lines but the generated one),
-- no two parts that include each other, and every OS-specific call in src/platform/.
local helper = require "helper"

local SRC = helper.root .. "/src"
local MAX_LINES = 620

local function c_files()
  local files = {}
  local p = assert(io.popen(("find %s -name '*.[ch]' -not -path '*/gen/*'"):format(helper.quote(SRC))))
  for path in p:lines() do files[#files + 1] = path end
  p:close()
  table.sort(files)
  return files
end

-- A file and its header are one part: "src/joblog.c" and "src/joblog.h" are "joblog".
local function part_of(path)
  return path:match("([^/]+)%.[ch]$")
end

-- part -> set of parts its files include.
local function include_graph(files)
  local graph = {}
  for _, path in ipairs(files) do
    local from = part_of(path)
    graph[from] = graph[from] or {}
    for header in helper.read_file(path):gmatch('#include "([^"]+)"') do
      local to = part_of(header)
      if to ~= from then graph[from][to] = true end
    end
  end
  return graph
end

-- The first cycle found, as a list of parts, or nil.
local function find_cycle(graph)
  local state, stack = {}, {}
  local function visit(part)
    state[part] = "open"
    stack[#stack + 1] = part
    for next_part in pairs(graph[part] or {}) do
      if state[next_part] == "open" then
        local cycle, from = {}, nil
        for i, p in ipairs(stack) do if p == next_part then from = i end end
        for i = from, #stack do cycle[#cycle + 1] = stack[i] end
        cycle[#cycle + 1] = next_part
        return cycle
      elseif not state[next_part] then
        local found = visit(next_part)
        if found then return found end
      end
    end
    stack[#stack] = nil
    state[part] = "done"
  end
  local parts = {}
  for part in pairs(graph) do parts[#parts + 1] = part end
  table.sort(parts)
  for _, part in ipairs(parts) do
    if not state[part] then
      local found = visit(part)
      if found then return found end
    end
  end
end

describe("the C core's layout", function()
  local files = c_files()

  it("finds the sources it checks", function()
    assert.is_true(#files > 40)
  end)

  it("has no file over " .. MAX_LINES .. " lines but the generated tables", function()
    local long = {}
    for _, path in ipairs(files) do
      local n = select(2, helper.read_file(path):gsub("\n", ""))
      if n > MAX_LINES then long[#long + 1] = ("%s (%d lines)"):format(path:sub(#SRC + 2), n) end
    end
    assert.same({}, long)
  end)

  it("has no two parts that include each other, directly or around a loop", function()
    local graph = include_graph(files)
    assert.is_nil(find_cycle(graph))
    -- The check sees a loop when there is one.
    graph.buffer = { joblog = true }
    graph.joblog = graph.joblog or {}
    graph.joblog.buffer = true
    assert.is_table(find_cycle(graph))
  end)

  it("keeps OS-specific headers and calls in src/platform/", function()
    local linux_only = { "sys/epoll%.h", "sys/eventfd%.h", "dlfcn%.h", "sys/event%.h", "epoll_wait", "eventfd%(", "dlopen%(" }
    local found = {}
    for _, path in ipairs(files) do
      if not path:find("/platform/", 1, true) then
        local text = helper.read_file(path):gsub("/%*.-%*/", "") -- comments may name them
        for _, pattern in ipairs(linux_only) do
          if text:find(pattern) then found[#found + 1] = path:sub(#SRC + 2) .. ": " .. pattern end
        end
      end
    end
    assert.same({}, found)
  end)
end)

describe("README's source layout", function()
  it("names every C file of the core", function()
    local readme = helper.read_file(helper.root .. "/README.md")
    local layout = assert(readme:match("### Source layout(.*)$"), "README has a Source layout section")
    layout = layout:match("^(.-)\n##") or layout
    local missing = {}
    for _, path in ipairs(c_files()) do
      local name = path:match("([^/]+%.[ch])$")
      local base = name:match("^(.-)%.[ch]$")
      -- a part is named by its .c file, or by its header when it has no .c
      if not (layout:find(base .. ".c", 1, true) or layout:find(name, 1, true)) then missing[#missing + 1] = name end
    end
    assert.same({}, missing)
  end)
end)
