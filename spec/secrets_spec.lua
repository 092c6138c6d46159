-- Secrets (API keys, JWTs, OAuth secrets, socket tokens) never show in what ei prints.
local helper = require "helper"
local ei = require "ei"
local core = require "ei.core"

-- Every string a script reaches from `roots` without the debug library: keys and
-- values of tables (raw, and through __pairs), metatables of tables and userdata
-- (as getmetatable answers), and the tostring of every table and userdata.
-- Functions are opaque: their upvalues are reachable only through debug, from
-- which nothing in a Lua state is hidden (not the registry either).
local function reachable_strings(roots)
  local seen, queue, strings = {}, {}, {}
  local function visit(v)
    local t = type(v)
    if t == "string" then
      strings[#strings + 1] = v
    elseif (t == "table" or t == "userdata") and not seen[v] then
      seen[v] = true
      queue[#queue + 1] = v
    end
  end
  for _, v in ipairs(roots) do visit(v) end
  local i = 0
  while i < #queue do
    i = i + 1
    local v = queue[i]
    if type(v) == "table" then
      for k, x in next, v do visit(k); visit(x) end
      for k, x in pairs(v) do visit(k); visit(x) end
    end
    visit(getmetatable(v))
    local ok, text = pcall(tostring, v)
    if ok then visit(text) end
  end
  return strings, i
end

-- What kind of secret a reachable string holds (one of `secrets`, or anything
-- the audit's patterns take for a key or token), never the secret itself; nil
-- when none does. Second: how many objects were walked.
local function find_secret(audit, roots, secrets)
  local strings, objects = reachable_strings(roots)
  for _, text in ipairs(strings) do
    for i, secret in ipairs(secrets) do
      if text:find(secret, 1, true) then return "secret #" .. i, objects end
    end
    local kind = audit.find(text)
    if kind then return kind, objects end
  end
  return nil, objects
end

describe("secrets", function()
  it("appear in no error message and no tostring of any object", function()
    local sim = helper.studio { speed = 300, scenario = { dropSocket = { afterFrames = 30 } } }
    local seen = {}
    local function keep(...) for i = 1, select("#", ...) do seen[#seen + 1] = tostring((select(i, ...))) end end

    local wrong_key = "ei_0123456789abcdef_wrong_secret"
    local bad = sim:client { api_key = wrong_key }
    keep(bad, bad:impulse(sim.project_id))
    keep(bad:socket_token(sim.project_id))
    bad:close()

    local oauth = sim:client { oauth2 = { client_id = sim.ready.oauth_client_id, client_secret = "not-the-secret-123456" } }
    keep(oauth, oauth:impulse(sim.project_id))
    oauth:close()

    local client = sim:client { jwt = sim.ready.jwt }
    local token = assert(client:socket_token(sim.project_id))
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 5 }))
    for ev in job:updates() do
      if ev.type == "connection" then keep(ev.state) end
    end
    -- The websocket itself, a token in its URL: connecting, then refused.
    local transport = core.client()
    local sock = core.socket(transport)
    sock:connect("ws://127.0.0.1:1/socket.io/?token=" .. token .. "&EIO=3&transport=websocket&onDemandLogs=true")
    keep(sock, sock:state())
    local deadline = core.monotime() + 10
    while sock:state() == "connecting" and core.monotime() < deadline do transport:step(0.05) end
    keep(sock, sock:state())
    transport:close()
    keep(job, client:job(sim.project_id, job.id):status())
    local expired = ei.new { host = "http://127.0.0.1:1", jwt = sim.ready.jwt, retries = 0 }
    keep(expired, expired:impulse(1))
    expired:close()
    client:close()
    keep(client, job)

    local text = table.concat(seen, "\n")
    assert.matches("ei.Socket", text, 1, true)
    assert.matches("EAUTH", text, 1, true)
    assert.is_true(#seen > 10)
    for _, secret in ipairs { wrong_key, sim.api_key, sim.ready.jwt, "not-the-secret-123456", token } do
      assert.is_nil(text:find(secret, 1, true), "a secret was printed")
    end
    -- The simulator saw the stream reconnect, so socket URLs with tokens were in play.
    assert.is_true(#sim:records("ws-open") >= 2)
    sim:stop()
  end)

  it("are found by the suite's secret audit when planted in a message", function()
    local audit = dofile(helper.root .. "/spec/support/audit.lua")
    local sim = helper.studio { speed = 300 }
    local client = sim:client()
    local token = assert(client:socket_token(sim.project_id))
    assert.equal("a JWT or socket token", audit.find("connect to ws://h/socket.io/?token=" .. token))
    assert.equal("an API key", audit.find("refused key " .. sim.api_key))
    audit.secret("not-a-pattern-secret")
    assert.equal("a credential given to the client", audit.find("x not-a-pattern-secret y"))
    assert.is_nil(audit.find("job 12 failed: Epoch 3/5 loss: 0.25"))
    client:close()
    sim:stop()
  end)
  it("cannot be reached by a script walking its client, jobs, streams and pending calls", function()
    local audit = dofile(helper.root .. "/spec/support/audit.lua")
    local sim = helper.studio { speed = 30 }
    local secret = "not-the-secret-123456"
    -- The walk finds a secret however deep it is kept, behind __index too.
    local planted = setmetatable({}, { __index = { deep = { "key " .. sim.api_key } } })
    assert.is_not_nil(find_secret(audit, { planted }, {}))
    assert.is_not_nil(find_secret(audit, { { oauth2 = { client_secret = secret } } }, { secret }))

    local client = sim:client()
    local jwt_client = sim:client { jwt = sim.ready.jwt }
    local oauth = sim:client { oauth2 = { client_id = sim.ready.oauth_client_id, client_secret = sim.ready.oauth_client_secret } }
    assert(jwt_client:impulse(sim.project_id))
    assert(oauth:impulse(sim.project_id)) -- it holds an access token now
    local job = assert(client:train_keras(sim.project_id, sim.learn_id, { trainingCycles = 3 }))
    local other = client:job(sim.project_id, job.id)
    local op = client:pending(client.impulse, client, sim.project_id)
    local iterator = table.pack(job:updates())
    local events = {}
    for ev in table.unpack(iterator, 1, 3) do
      events[#events + 1] = ev
      if ev.type == "log" then break end -- the websocket is open: its token is in use
    end
    local roots = { client, jwt_client, oauth, job, other, op, events, ei, iterator }
    local found, objects = find_secret(audit, roots,
      { sim.api_key, sim.ready.jwt, sim.ready.oauth_client_secret })
    assert.is_nil(found, "a secret was reachable")
    assert.is_true(objects > 15, objects .. " objects walked")

    -- What a script sees of them: methods, and a job's id and project.
    assert.is_nil(next(client))
    assert.is_nil(next(op))
    local fields = {}
    for n in pairs(other) do fields[#fields + 1] = n end
    table.sort(fields)
    assert.same({ "id", "project_id" }, fields)
    assert.is_nil(client.api_key)
    assert.is_nil(rawget(client, "core"))

    -- and every documented method still works
    assert.is_true(other:wait(60))
    assert.is_table(other:status())
    assert.is_table(other:logs(5))
    assert.equal("integer", math.type(client:pollfd()))
    assert.equal("r", client:events())
    assert.is_true(client:step())
    while not op:step() do core.poll(op:pollfd(), op:events(), op:timeout()) end
    assert.is_table((op:result()))
    assert.is_string((assert(client:socket_token(sim.project_id))))
    assert.matches("^ei%.Client %(", tostring(client))
    for _, c in ipairs { client, jwt_client, oauth } do c:close() end
    sim:stop()
  end)
end)
