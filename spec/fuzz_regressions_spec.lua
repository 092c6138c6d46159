-- Inputs the fuzz targets (fuzz/, tools/fuzz) found breaking the C core, replayed
-- through the Lua API. The raw inputs are in fuzz/regressions/; `tools/fuzz
-- --replay` runs them under the sanitizers.
local helper = require "helper"
local core = require "ei.core"
local json = helper.json

-- A websocket server that sends the given Engine.IO text frames after the
-- handshake and ignores what the client sends. Prints {"port":N}; stops when
-- its stdin ends.
local FRAME_SERVER = [[
const crypto = require('crypto');
const net = require('net');
const frames = JSON.parse(process.argv[2]);
const server = net.createServer((c) => {
  let head = '';
  c.on('error', () => {});
  c.on('data', (d) => {
    if (head === null) return;
    head += d.toString('latin1');
    if (!head.includes('\r\n\r\n')) return;
    const key = /sec-websocket-key: *([^\r\n]*)/i.exec(head)[1].trim();
    head = null;
    const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    c.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Accept: ' + accept + '\r\n\r\n');
    for (const f of frames) {
      const p = Buffer.from(f, 'utf8');
      const h = p.length < 126 ? Buffer.from([0x81, p.length]) : Buffer.from([0x81, 126, p.length >> 8, p.length & 255]);
      c.write(Buffer.concat([h, p]));
    }
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
]]

local function frame_server(frames)
  local script, out = os.tmpname(), os.tmpname()
  local f = assert(io.open(script, "w"))
  f:write(FRAME_SERVER)
  f:close()
  local stdin = assert(io.popen(("exec node %s %s > %s"):format(script, helper.quote(json.encode(frames)), out), "w"))
  local line = helper.eventually(function() return (helper.read_file(out) or ""):match("^([^\n]*)\n") end, 10)
  assert(line, "the frame server did not start")
  local info = json.decode(line)
  info.stop = function()
    stdin:close()
    os.remove(script)
    os.remove(out)
  end
  return info
end

-- The events of job 7 once job-finished arrived (10 s at most).
local function events_of(client, frames)
  local server = frame_server(frames)
  local sock <close> = core.socket(client)
  assert.is_true(sock:connect(("ws://127.0.0.1:%d/socket.io/?token=t&EIO=3&transport=websocket"):format(server.port)))
  sock:follow(7)
  local events, deadline = {}, core.monotime() + 10
  while core.monotime() < deadline and not (events[#events] and events[#events].type == "ended") do
    local t = client:timeout()
    core.poll(client:pollfd(), "r", math.max(0, math.min(t or 0.1, 0.1)))
    client:step()
    for _, ev in ipairs(sock:drain(7)) do events[#events + 1] = ev end
  end
  local stats = sock:stats()
  server.stop()
  return events, stats
end

local lines = helper.logged

local HELLO = '42["hello",{"hello":{"version":1},"devices":[]}]'
local FINISHED = '42["job-finished-7",{"success":true}]'

describe("fuzz regressions", function()
  local client
  before_each(function() client = core.client {} end)
  after_each(function() client:close() end)

  -- fuzz/regressions/eio/empty-job-data-first: an empty job-data text (or
  -- back-fill) reaching a stream that had no text yet did pointer arithmetic on
  -- its NULL buffer (undefined behaviour, reported by UBSan).
  it("empty log text before any other text queues nothing and the stream keeps working", function()
    local sock <close> = core.socket(client)
    sock:follow(1)
    assert.is_true(sock:feed(1, ""))
    assert.equal(0, sock:queued(1))
    assert.is_true(sock:flush(1))
    assert.equal(0, sock:queued(1))
    assert.is_true(sock:feed(1, "a\n"))
    assert.is_true(sock:feed(1, ""))
    assert.same({ type = "log", job = 1, line = "a" }, sock:drain(1, 1)[1])
    assert.is_nil(sock:drain(1, 1)[1])
    assert.is_true(sock:feed(1, "b\n"))
    assert.same({ type = "log", job = 1, line = "b" }, sock:drain(1, 1)[1])
  end)

  -- fuzz/regressions/eio/empty-job-data-slow-path: an empty "data" in a payload
  -- the fast parser leaves to cJSON (here for its array member) came out as a
  -- NULL text, so the frame was counted as malformed.
  it("an empty job-data text beside a nested member is data, not a malformed frame", function()
    local events, stats = events_of(client, {
      HELLO, '42["job-data-7",{"data":"","extra":[1]}]', '42["job-data-7",{"data":"after\\n","extra":[1]}]', FINISHED,
    })
    assert.same({ "after" }, lines(events))
    assert.equal("ended", events[#events].type)
    assert.equal(0, stats.malformed)
  end)

  -- fuzz/regressions/eio/escaped-data-then-long-escaped-string: a "data" with an
  -- escape, followed in the same payload by a long string with escapes, moved the
  -- scratch buffer the data pointed into (heap use after free).
  it("a job-data text with escapes survives a long escaped member after it", function()
    local events = events_of(client, {
      HELLO, '42["job-data-7",{"data":"caf\\u00e9\\nsecond line\\n","other":"' .. ("x\\n"):rep(2000) .. '"}]', FINISHED,
    })
    assert.same({ "caf\u{e9}", "second line" }, lines(events))
    assert.equal("ended", events[#events].type)
  end)
end)
