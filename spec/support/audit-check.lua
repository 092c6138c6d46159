-- Reads the file the secret audit wrote (spec/support/audit.lua) after the suite:
-- fails on any credential found, and on an audit that saw too little to mean anything.
local path = assert(arg[1], "usage: lua5.4 spec/support/audit-check.lua FILE [--part]")
local whole_suite = arg[2] ~= "--part"
local f = assert(io.open(path, "r"))
local leaks, counts = {}, nil
for line in f:lines() do
  if line:match("^leak\t") then leaks[#leaks + 1] = line:sub(6) end
  local c = line:match("^counts\t(.*)$")
  if c then counts = c end
end
f:close()

-- At least this much must have been scanned for the audit to prove anything.
local MINIMUM = { errors = 500, raised = 30, warnings = 1, lines = 1000, objects = 1000, outputs = 20 }
local seen = {}
for k, v in (counts or ""):gmatch("(%w+)=(%d+)") do seen[k] = tonumber(v) end
local status = 0
for _, leak in ipairs(leaks) do
  io.stderr:write("secret audit: a credential in ", leak:gsub("\t", " | "), "\n")
  status = 1
end
for k, least in pairs(MINIMUM) do
  if whole_suite and (seen[k] or 0) < least then
    io.stderr:write(("secret audit: only %d %s scanned (at least %d expected)\n"):format(seen[k] or 0, k, least))
    status = 1
  end
end
print(("secret audit: %d credentials found in %s"):format(#leaks, counts or "nothing"))
os.exit(status)
