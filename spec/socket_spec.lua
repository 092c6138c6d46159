-- The websocket mechanism (`core.socket`): connection states, the job log
-- stream, reconnects without loss or repeats, flow control, and bad input.
local helper = require "helper"
local core = require "ei.core"
local json = helper.json

local ROOT = helper.root

local function sh(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

local function rest(sim, method, path, body)
  local cmd = ("curl -s -X %s -H 'x-api-key: %s' -H 'content-type: application/json' %s '%s/v1/api/%d%s'"):format(
    method, sim.api_key, body and ("--data-binary '" .. json.encode(body) .. "'") or "", sim.url, sim.project_id, path)
  return sh(cmd)
end

local function ws_url(base, token)
  return base:gsub("^http", "ws") .. "/socket.io/?token=" .. token .. "&EIO=3&transport=websocket&onDemandLogs=true"
end

local function fresh_url(sim)
  local res = json.decode(rest(sim, "GET", "/socket-token"))
  return ws_url(sim.url, res.token.socketToken), res.token.socketToken
end

local function start_job(sim, cycles)
  local res = json.decode(rest(sim, "POST", "/jobs/train/keras/" .. sim.learn_id, { trainingCycles = cycles or 30 }))
  assert(res and res.success, "could not start a job")
  return math.tointeger(res.id)
end

local function full_log(sim, id)
  return rest(sim, "GET", "/jobs/" .. id .. "/stdout/download")
end

local function lines_of(text)
  local lines = {}
  local last = 0
  for line, next_pos in text:gmatch("([^\n]*)\n()") do
    lines[#lines + 1] = line:gsub("\r$", "")
    last = next_pos - 1
  end
  if last < #text then lines[#lines + 1] = text:sub(last + 1) end
  return lines
end

-- Step the client until done() is true or `seconds` pass.
local function pump(client, seconds, done)
  local deadline = core.monotime() + seconds
  while true do
    if done() then return true end
    local left = deadline - core.monotime()
    if left <= 0 then return false end
    local t = client:timeout()
    core.poll(client:pollfd(), "r", math.max(0, math.min(t or left, left, 0.25)))
    client:step()
  end
end

local function wait_state(client, sock, want, seconds)
  pump(client, seconds or 10, function() return sock:state() == want end)
  return sock:state()
end

-- Every event of a job up to its `ended`, reconnecting through `reconnect`
-- (which returns a fresh URL) whenever the socket closes.
local function follow_to_end(client, sock, id, seconds, reconnect)
  local events, ended = {}, false
  pump(client, seconds or 30, function()
    for _, ev in ipairs(sock:drain(id)) do
      events[#events + 1] = ev
      ended = ended or ev.type == "ended"
    end
    if not ended and reconnect and sock:state() == "closed" then sock:connect(reconnect()) end
    return ended
  end)
  return events, ended
end

local logged = helper.logged

local function count(events, kind)
  local n = 0
  for _, ev in ipairs(events) do
    if ev.type == kind then n = n + 1 end
  end
  return n
end

-- A script run by node with a line of JSON on stdout; stopped with its stdin.
local function node_server(args)
  local out = os.tmpname()
  local stdin = assert(io.popen(("exec node %s > %s"):format(args, out), "w"))
  local line = helper.eventually(function() return (helper.read_file(out) or ""):match("^([^\n]*)\n") end, 10)
  assert(line, "the test server did not start")
  local info = json.decode(line)
  info.stop = function() stdin:close(); os.remove(out) end
  return info
end

describe("a socket following the simulator", function()
  local sim, client

  setup(function() sim = helper.studio() end)
  teardown(function() sim:stop() end)
  before_each(function() client = core.client {} end)
  after_each(function() client:close() end)

  it("is open only after the hello and delivers every line of a 30-epoch job once, in order", function()
    local sock = core.socket(client)
    assert.equal("idle", sock:state())
    local id = start_job(sim, 30)
    assert.is_true(sock:connect((fresh_url(sim))))
    assert.equal("connecting", sock:state())
    sock:follow(id)
    assert.equal("open", wait_state(client, sock, "open"))
    local events, ended = follow_to_end(client, sock, id, 30)
    assert.is_true(ended)
    assert.same(lines_of(full_log(sim, id)), logged(events))
    assert.equal(30, count(events, "progress"))
    assert.equal(30, count(events, "metrics"))
    for i, ev in ipairs(events) do
      assert.equal(id, ev.job)
      if ev.type == "progress" then
        assert.equal(("Epoch %d/%d"):format(ev.epoch, ev.epochs), events[i - 1].line)
        assert.equal(30, ev.epochs)
        assert.near(ev.epoch / 30, ev.fraction, 1e-12)
      elseif ev.type == "metrics" then
        assert.equal("log", events[i - 1].type)
        assert.matches("loss: ", events[i - 1].line)
        assert.is_number(ev.loss)
        assert.is_number(ev.accuracy)
        assert.is_number(ev.val_loss)
        assert.is_number(ev.val_accuracy)
        assert.is_number(ev.epoch)
      end
    end
    local last = events[#events]
    assert.same({ type = "ended", job = id, success = true }, last)
    local ts, bytes = sock:position(id)
    assert.equal(#full_log(sim, id), bytes)
    assert.is_true(math.type(ts) == "integer" and ts > 0)
    local st = sock:stats()
    assert.equal(1, st.connects)
    assert.equal(0, st.malformed)
    assert.equal(0, sock:queued(id))
    sock:close()
  end)

  it("subscribes at once when follow() is called on an open socket", function()
    local sock = core.socket(client)
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(client, sock, "open"))
    local id = start_job(sim, 2)
    sock:follow(id)
    local events, ended = follow_to_end(client, sock, id, 20)
    assert.is_true(ended)
    assert.same(lines_of(full_log(sim, id)), logged(events))
    sock:close()
  end)

  it("drains with split so that `ended` comes alone, after the events before it and before those after it", function()
    local sock = core.socket(client)
    local id = start_job(sim, 2)
    sock:connect((fresh_url(sim)))
    sock:follow(id)
    local log = full_log(sim, id)
    -- let everything, job-finished too, queue up before draining anything
    pump(client, 20, function()
      log = full_log(sim, id)
      return select(2, sock:position(id)) == #log and log:find("Job completed", 1, true) ~= nil
    end)
    pump(client, 1, function() return false end)
    local batches, events = {}, {}
    pump(client, 10, function()
      local batch = sock:drain(id, 1000, true)
      if #batch > 0 then batches[#batches + 1] = batch end
      for _, ev in ipairs(batch) do events[#events + 1] = ev end
      return #events > 0 and events[#events].type == "ended"
    end)
    assert.is_true(#batches >= 2)
    for _, batch in ipairs(batches) do
      for i, ev in ipairs(batch) do
        if ev.type == "ended" then assert.equal(1, #batch, "ended " .. i .. " of " .. #batch) end
      end
    end
    assert.same({ { type = "ended", job = id, success = true } }, batches[#batches])
    assert.same(lines_of(log), logged(events))
    sock:feed(id, "a line after the end\n")
    assert.same({ { type = "log", job = id, line = "a line after the end" } }, sock:drain(id, 1000, true))
    sock:close()
  end)

  it("closes with EAUTH on a rejected token and never shows the token", function()
    local token = "not-a-valid-socket-token-0123456789"
    local sock = core.socket(client)
    sock:connect(ws_url(sim.url, token))
    assert.equal("closed", wait_state(client, sock, "closed"))
    local state, msg, code = sock:state()
    assert.equal("closed", state)
    assert.equal("EAUTH", code)
    assert.matches("hello", msg)
    assert.is_nil(msg:find(token, 1, true))
    assert.is_nil(tostring(sock):find(token, 1, true))
    sock:close()
  end)

  it("ignores malformed frames and unknown events, and counts them", function()
    sim:control("scenario", { junkFrames = { every = 3 }, unknownEvents = { every = 2 } })
    finally(function() sim:control("scenario", { junkFrames = false, unknownEvents = false }) end)
    local sock = core.socket(client)
    local id = start_job(sim, 5)
    sock:connect((fresh_url(sim)))
    sock:follow(id)
    local events, ended = follow_to_end(client, sock, id, 20)
    assert.is_true(ended)
    assert.same(lines_of(full_log(sim, id)), logged(events))
    local st = sock:stats()
    assert.is_true(st.malformed > 0)
    assert.is_true(st.ignored > 0)
    assert.equal("open", sock:state())
    sock:close()
  end)

  it("answers the server's pings and pings every ping_interval even while Lua reads nothing", function()
    sim:control("scenario", { serverPingMs = 50 })
    finally(function() sim:control("scenario", { serverPingMs = 0 }) end)
    local sock = core.socket(client, { ping_interval = 0.1 })
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(client, sock, "open"))
    -- five pings at 0.1 s take half a second; at the default 5 s they would take 25 s,
    -- so meeting them within 15 s shows the interval applied with a wide margin
    pump(client, 15, function()
      local st = sock:stats()
      return st.pings_sent >= 5 and st.pongs_received >= 3 and st.pings_received >= 5
    end)
    local st = sock:stats()
    assert.is_true(st.pings_sent >= 5, "pings sent: " .. st.pings_sent)
    assert.is_true(st.pongs_received >= 3, "pongs received: " .. st.pongs_received)
    assert.is_true(st.pings_received >= 5, "server pings: " .. st.pings_received)
    local pings, pongs = 0, 0
    pump(client, 5, function()
      pings, pongs = 0, 0
      for _, r in ipairs(sim:records("ws-message")) do
        if r.raw == "2" then pings = pings + 1 elseif r.raw == "3" then pongs = pongs + 1 end
      end
      return pings >= 5 and pongs >= 5
    end)
    assert.is_true(pings >= 5 and pongs >= 5, ("server saw %d pings, %d pongs"):format(pings, pongs))
    sock:close()
  end)

  it("delivers a 1 MB line whole", function()
    sim:control("scenario", { hugeLine = { bytes = 1024 * 1024, atEpoch = 1 } })
    finally(function() sim:control("scenario", { hugeLine = false }) end)
    local sock = core.socket(client)
    local id = start_job(sim, 2)
    sock:connect((fresh_url(sim)))
    sock:follow(id)
    local events, ended = follow_to_end(client, sock, id, 20)
    assert.is_true(ended)
    local lines = logged(events)
    assert.same(lines_of(full_log(sim, id)), lines)
    local longest = 0
    for _, l in ipairs(lines) do longest = math.max(longest, #l) end
    assert.is_true(longest >= 1024 * 1024)
    sock:close()
  end)

  it("closes with EPROTO on a message larger than max_frame", function()
    sim:control("scenario", { hugeLine = { bytes = 256 * 1024, atEpoch = 1 } })
    finally(function() sim:control("scenario", { hugeLine = false }) end)
    local sock = core.socket(client, { max_frame = 64 * 1024 })
    local id = start_job(sim, 2)
    sock:connect((fresh_url(sim)))
    sock:follow(id)
    assert.equal("closed", wait_state(client, sock, "closed", 20))
    local _, msg, code = sock:state()
    assert.equal("EPROTO", code)
    assert.matches("65536 bytes", msg)
    sock:close()
  end)

  it("stops reading while Lua is behind and then delivers everything", function()
    sim:control("scenario", { fastStream = { lines = 30000 } })
    finally(function() sim:control("scenario", { fastStream = false }) end)
    local sock = core.socket(client, { max_queue = 1000 })
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(client, sock, "open"))
    local id = start_job(sim, 1)
    sock:follow(id)
    assert.is_true(pump(client, 20, function() return sock:stats().reading_paused end))
    local before = sock:queued(id)
    pump(client, 0.5, function() return false end)
    local st = sock:stats()
    assert.is_true(st.reading_paused)
    assert.equal(before, sock:queued(id), "nothing is read while paused")
    assert.is_true(before > 1000 and before < 1000 + 2000, "queued " .. before)
    local events, ended = follow_to_end(client, sock, id, 60)
    assert.is_true(ended)
    local lines = logged(events)
    local expected = lines_of(full_log(sim, id))
    assert.equal(#expected, #lines)
    assert.same(expected, lines)
    assert.is_true(sock:stats().flow_stops >= 2)
    assert.is_false(sock:stats().reading_paused)
    sock:close()
  end)

  -- One job's burst (fastStream) followed on a socket with these options: the
  -- socket's counters and the seconds from connecting to `ended`.
  local function follow_burst(opts, lines)
    sim:control("scenario", { fastStream = { lines = lines } })
    finally(function() sim:control("scenario", { fastStream = false }) end)
    local sock = core.socket(client, opts)
    local t0 = core.monotime()
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(client, sock, "open"))
    local id = start_job(sim, 1)
    sock:follow(id)
    local events, ended = follow_to_end(client, sock, id, 60)
    local elapsed = core.monotime() - t0
    assert.is_true(ended)
    assert.same(lines_of(full_log(sim, id)), logged(events))
    local st = sock:stats()
    sock:close()
    return st, elapsed
  end

  it("reads a burst in few reads, each after the coalescing pause, every line once", function()
    local st, elapsed = follow_burst({ coalesce = 0.05 }, 20000)
    assert.is_true(st.holds >= 1, "no read was followed by a pause")
    -- Each pause lasts its 50 ms (to the millisecond), one may begin at the end, and the
    -- 20,003 lines come in a few reads (one per wake-up would be thousands).
    assert.is_true(st.holds <= elapsed / 0.049 + 1, ("%d pauses in %.2f s"):format(st.holds, elapsed))
    assert.is_true(st.reads < 200, ("%d reads"):format(st.reads))
  end)

  it("coalesces a burst by default and reads at once with coalesce = 0", function()
    assert.is_true(follow_burst(nil, 5000).holds >= 1)
    local st = follow_burst({ coalesce = 0 }, 5000)
    assert.equal(0, st.holds)
    assert.is_true(st.reads >= 1)
  end)

  it("reads a steady stream at once: one message per read is not held back", function()
    sim:control("scenario", { steadyStream = { rate = 4, lines = 16 } })
    finally(function() sim:control("scenario", { steadyStream = false }) end)
    -- The same job on a socket that pauses 0.1 s after a read of several messages and
    -- on one that never pauses: what the simulator itself is late by, both see.
    local socks = { core.socket(client, { coalesce = 0.1 }), core.socket(client, { coalesce = 0 }) }
    local url = fresh_url(sim)
    for _, sock in ipairs(socks) do sock:connect(url) end
    pump(client, 10, function() return socks[1]:state() == "open" and socks[2]:state() == "open" end)
    local id = start_job(sim, 1)
    local delays, ended = { {}, {} }, { false, false }
    for _, sock in ipairs(socks) do sock:follow(id) end
    pump(client, 30, function()
      for i, sock in ipairs(socks) do
        for _, ev in ipairs(sock:drain(id)) do
          local sent = ev.type == "log" and ev.line:match(" at (%d+)$")
          if sent then table.insert(delays[i], core.monotime() - tonumber(sent) / 1e6) end
          ended[i] = ended[i] or ev.type == "ended"
        end
      end
      return ended[1] and ended[2]
    end)
    assert.same({ true, true }, ended)
    for i = 1, 2 do
      assert.equal(16, #delays[i])
      table.sort(delays[i])
    end
    -- A read that happens to take two messages is followed by a pause of 0.1 s, which
    -- ends with a read of the one line (or none) that came in it; the lines that come
    -- one by one (every 0.25 s) are read as they come. Were every read followed by the
    -- pause, the median delay would be about 0.05 s more.
    local paused, at_once = delays[1][8], delays[2][8]
    assert.is_true(paused < at_once + 0.03, ("median delay %.3f s, without pauses %.3f s"):format(paused, at_once))
    for _, sock in ipairs(socks) do sock:close() end
  end)

  it("rejects a coalescing pause that is negative or longer than a second", function()
    assert.has_error(function() core.socket(client, { coalesce = -0.001 }) end)
    assert.has_error(function() core.socket(client, { coalesce = 1.5 }) end)
  end)

  it("keeps job ids exact up to 2^53 in the subscription", function()
    local sock = core.socket(client)
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(client, sock, "open"))
    sock:follow(9007199254740993 - 1)
    pump(client, 5, function()
      for _, r in ipairs(sim:records("ws-message")) do
        if r.raw:find('"jobId":9007199254740992', 1, true) then return true end
      end
    end)
    local raw
    for _, r in ipairs(sim:records("ws-message")) do
      if r.raw:find("9007199254740992", 1, true) then raw = r.raw end
    end
    assert.equal('42["start-log-stream",{"jobId":9007199254740992,"lastReceivedTimestamp":0}]', raw)
    sock:close()
  end)

  it("drains several events at once and reports what is queued", function()
    local sock = core.socket(client)
    local id = start_job(sim, 3)
    sock:connect((fresh_url(sim)))
    sock:follow(id)
    assert.is_true(pump(client, 20, function() return sock:queued(id) >= 5 end))
    local n = sock:queued(id)
    local three = sock:drain(id, 3)
    assert.equal(3, #three)
    assert.equal(n - 3, sock:queued(id))
    assert.same({}, sock:drain(id, 0))
    assert.is_table(sock:drain(id, 1)[1])
    assert.is_nil(sock:drain(12345, 1)[1])
    assert.equal(0, sock:queued(12345))
    sock:unfollow(id)
    assert.equal(0, sock:queued(id))
    sock:close()
  end)

  it("feeds back-filled text through the same parsing, not counted as streamed bytes", function()
    local sock = core.socket(client)
    sock:follow(7)
    local text = "Epoch 3/10\n62/62 - 1s - loss: nan - accuracy: inf - lr: 1.0000e-04\npartial"
    sock:feed(7, text)
    local events = sock:drain(7)
    assert.same({ "log", "progress", "log", "metrics" }, { events[1].type, events[2].type, events[3].type, events[4].type })
    local m = events[4]
    assert.equal(3, m.epoch)
    assert.is_true(m.loss ~= m.loss)
    assert.equal(math.huge, m.accuracy)
    assert.near(1e-4, m.lr, 1e-12)
    assert.equal(4, #events)
    local _, bytes = sock:position(7)
    assert.equal(0, bytes)
    sock:flush(7)
    assert.same({ type = "log", job = 7, line = "partial" }, sock:drain(7, 1)[1])
    sock:close()
  end)

  it("closes when its client closes", function()
    local other = core.client {}
    local sock = core.socket(other)
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(other, sock, "open"))
    other:close()
    local state, _, code = sock:state()
    assert.equal("closed", state)
    assert.equal("ECLOSED", code)
    assert.has_error(function() sock:connect((fresh_url(sim))) end)
    sock:close()
  end)

  it("is closed idempotently, raises on use after close, and is collected while open", function()
    local sock = core.socket(client)
    sock:connect((fresh_url(sim)))
    assert.equal("open", wait_state(client, sock, "open"))
    assert.matches("^ei%.Socket %(open 127%.0%.0%.1:%d+%)", tostring(sock))
    assert.is_true(sock:close())
    assert.is_true(sock:close())
    assert.matches("closed", tostring(sock))
    assert.has_error(function() sock:state() end, "attempt to use a closed ei.Socket")
    assert.has_error(function() sock:follow(1) end)
    local opened_before = #sim:records("ws-open")
    do
      local s2 <close> = core.socket(client)
      s2:connect((fresh_url(sim)))
      wait_state(client, s2, "open")
    end
    local gone = setmetatable({}, { __mode = "v" })
    for i = 1, 3 do
      local s3 = core.socket(client)
      s3:connect((fresh_url(sim)))
      s3:follow(1)
      assert.equal("open", wait_state(client, s3, "open"))
      gone[i] = s3
    end
    collectgarbage()
    collectgarbage()
    assert.is_nil(next(gone), "an open socket was not collected")
    -- the server sees every connection opened here closed: the <close> one and the
    -- three collected while open
    local opened, closed = {}, 0
    pump(client, 10, function()
      local open = sim:records("ws-open")
      for i = opened_before + 1, #open do opened[open[i].conn] = true end
      closed = 0
      for _, r in ipairs(sim:records("ws-close")) do
        if opened[r.conn] then closed = closed + 1 end
      end
      return closed == 4
    end)
    assert.equal(4, #sim:records("ws-open") - opened_before)
    assert.equal(4, closed)
  end)

  it("raises on misuse", function()
    local sock = core.socket(client)
    assert.has_error(function() sock:connect("http://127.0.0.1:1/") end)
    assert.has_error(function() sock:connect("ws://127.0.0.1:99999/") end)
    assert.has_error(function() sock:follow(-1) end)
    assert.has_error(function() sock:follow("x") end)
    assert.has_error(function() sock:feed(99, "x") end)
    assert.has_error(function() core.socket(client, { ping_interval = -1 }) end)
    assert.has_error(function() core.socket({}) end)
    sock:close()
  end)
end)

describe("a socket reconnecting after a drop", function()
  local cases = {
    { name = "resumes from the last timestamp", drops = 2,
      scenario = { dropSocket = { afterFrames = 20, every = true } } },
    { name = "skips what a replay from the start repeats", drops = 1,
      scenario = { dropSocket = { afterFrames = 30 }, replayFromStart = true } },
    { name = "skips the replay when payloads carry no timestamp", drops = 1,
      scenario = { dropSocket = { afterFrames = 30 }, omitTimestamps = true } },
  }
  for _, case in ipairs(cases) do
    it(case.name .. ", losing and repeating nothing", function()
      local sim = helper.studio { scenario = case.scenario }
      finally(function() sim:stop() end)
      local client = core.client {}
      local sock = core.socket(client)
      local id = start_job(sim, 12)
      sock:connect((fresh_url(sim)))
      sock:follow(id)
      local reconnects = 0
      local events, ended = follow_to_end(client, sock, id, 60, function()
        local _, _, code = sock:state()
        assert.equal("ECLOSED", code)
        reconnects = reconnects + 1
        return (fresh_url(sim))
      end)
      assert.is_true(ended)
      assert.is_true(reconnects >= case.drops, "reconnects: " .. reconnects)
      assert.same(lines_of(full_log(sim, id)), logged(events))
      assert.equal(12, count(events, "progress"))
      if case.scenario.replayFromStart or case.scenario.omitTimestamps then
        assert.is_true(sock:stats().dropped_duplicates > 0)
      end
      local starts = {}
      for _, r in ipairs(sim:records("ws-message")) do
        if r.event == "start-log-stream" then starts[#starts + 1] = r.data.lastReceivedTimestamp end
      end
      assert.equal(reconnects + 1, #starts)
      assert.equal(0, starts[1])
      if not case.scenario.omitTimestamps then assert.is_true(starts[#starts] > 0) end
      sock:close()
      client:close()
    end)
  end
end)

describe("a socket facing unusual servers", function()
  local server, client

  setup(function() server = node_server(ROOT .. "/spec/support/edge-server.js") end)
  teardown(function() server.stop() end)
  before_each(function() client = core.client {} end)
  after_each(function() client:close() end)

  local function url(token, host)
    return ("ws://%s:%d/socket.io/?token=%s&EIO=3&transport=websocket"):format(host or "127.0.0.1", server.port, token)
  end

  local function expected()
    return lines_of(sh(("curl -s http://127.0.0.1:%d/log"):format(server.port)))
  end

  local function run(token, opts)
    local sock = core.socket(client, opts)
    sock:connect(url(token))
    sock:follow(4242)
    local events, ended = follow_to_end(client, sock, 4242, 10, function() return url(token) end)
    assert.is_true(ended)
    return sock, events
  end

  it("reassembles fragmented messages with control frames between the fragments", function()
    local sock, events = run("frag")
    assert.same(expected(), logged(events))
    assert.equal(5, count(events, "progress"))
    assert.equal(5, count(events, "metrics"))
    sock:close()
  end)

  it("decodes \\u escapes and surrogate pairs", function()
    local sock, events = run("escapes")
    local lines = logged(events)
    assert.same(expected(), lines)
    assert.matches("caf\u{e9}, emoji \u{1F600}", lines[#lines - 1], 1, true)
    sock:close()
  end)

  it("delivers a last line without newline before the end of the job, and the end once", function()
    local sock, events = run("tail")
    pump(client, 0.1, function() return false end)
    for _, ev in ipairs(sock:drain(4242)) do events[#events + 1] = ev end
    assert.same({
      { type = "log", job = 4242, line = "first line" },
      { type = "log", job = 4242, line = "last line without a newline" },
      { type = "ended", job = 4242, success = true },
    }, events)
    sock:close()
  end)

  it("drops what a resume at the same timestamp repeats", function()
    local sock, events = run("inclusive")
    assert.same(expected(), logged(events))
    assert.is_true(sock:stats().connects == 2)
    assert.is_true(sock:stats().duplicate_bytes > 0)
    sock:close()
  end)

  it("times out with ETIMEDOUT when no hello comes", function()
    -- 0.3 s asked for; the default is 10 s: closing within 7 s shows the option applied
    -- with a wide margin for a loaded machine
    local sock = core.socket(client, { hello_timeout = 0.3 })
    sock:connect(url("silent"))
    assert.equal("closed", wait_state(client, sock, "closed", 7))
    local _, msg, code = sock:state()
    assert.equal("ETIMEDOUT", code)
    assert.matches("hello", msg)
    sock:close()
  end)

  it("reports a refused upgrade and a Socket.IO error packet as EAUTH", function()
    for _, token in ipairs { "refuse", "e44" } do
      local sock = core.socket(client)
      sock:connect(url(token))
      assert.equal("closed", wait_state(client, sock, "closed", 5))
      local _, msg, code = sock:state()
      assert.equal("EAUTH", code, msg)
      sock:close()
    end
  end)

  it("reports the server closing the session as ECLOSED", function()
    local sock = core.socket(client)
    sock:connect(url("close41"))
    assert.equal("closed", wait_state(client, sock, "closed", 5))
    local _, _, code = sock:state()
    assert.equal("ECLOSED", code)
    sock:close()
  end)

  it("refuses an oversized message with EPROTO without buffering it", function()
    local sock = core.socket(client, { max_frame = 100000 })
    sock:connect(url("big-2000000"))
    sock:follow(4242)
    assert.equal("closed", wait_state(client, sock, "closed", 5))
    local _, msg, code = sock:state()
    assert.equal("EPROTO", code)
    assert.matches("100000", msg)
    sock:close()
  end)

  it("resolves host names and reports unreachable servers as ECONNECT", function()
    local sock = core.socket(client)
    sock:connect(url("ok", "localhost"))
    assert.equal("open", wait_state(client, sock, "open", 5))
    sock:connect("ws://127.0.0.1:1/socket.io/?token=secret-token-1234")
    assert.equal("closed", wait_state(client, sock, "closed", 5))
    local _, msg, code = sock:state()
    assert.equal("ECONNECT", code)
    assert.matches("127.0.0.1:1", msg)
    sock:connect("ws://no-such-host.invalid/socket.io/?token=secret-token-1234")
    assert.equal("closed", wait_state(client, sock, "closed", 15))
    _, msg, code = sock:state()
    assert.equal("ECONNECT", code)
    assert.matches("no%-such%-host%.invalid", msg)
    sock:close()
  end)
end)

describe("a socket over TLS", function()
  local dir, cert, server

  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    cert = dir .. "/cert.pem"
    assert(os.execute(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
      .. "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s/key.pem -out %s 2>/dev/null"):format(dir, cert)))
    server = node_server(("%s/spec/support/edge-server.js --tls %s %s/key.pem"):format(ROOT, cert, dir))
  end)
  teardown(function()
    server.stop()
    os.execute("rm -rf " .. dir)
  end)

  local function url(host)
    return ("wss://%s:%d/socket.io/?token=frag&EIO=3&transport=websocket"):format(host, server.port)
  end

  it("refuses an unknown certificate with ECONNECT and says why", function()
    local client = core.client {}
    local sock = core.socket(client)
    sock:connect(url("localhost"))
    assert.equal("closed", wait_state(client, sock, "closed", 10))
    local _, msg, code = sock:state()
    assert.equal("ECONNECT", code)
    assert.matches("certificate", msg)
    assert.is_nil(msg:find("frag", 1, true))
    sock:close()
    client:close()
  end)

  it("verifies the server against the client's ca_file, by name and by address", function()
    local client = core.client { ca_file = cert }
    for _, host in ipairs { "localhost", "127.0.0.1" } do
      local sock = core.socket(client)
      sock:connect(url(host))
      sock:follow(4242)
      local events, ended = follow_to_end(client, sock, 4242, 10)
      assert.is_true(ended, host)
      assert.equal(5, count(events, "progress"))
      sock:close()
    end
    client:close()
  end)
end)
