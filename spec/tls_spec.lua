-- TLS: certificates are verified; a private root is accepted through ca_file.
local helper = require "helper"
local ei = require "ei"

local function self_signed(dir)
  local cmd = ("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
    .. "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout %s/key.pem -out %s/cert.pem 2>/dev/null"):format(dir, dir)
  assert(os.execute(cmd), "openssl could not make a certificate")
  return dir .. "/cert.pem", dir .. "/key.pem"
end

-- A local HTTPS server answering every request with a small Studio-like body.
local function https_server(cert, key)
  local script = ([[
    const fs = require('fs'), https = require('https');
    const s = https.createServer({ cert: fs.readFileSync(%q), key: fs.readFileSync(%q) }, (q, r) => {
      r.writeHead(200, { 'content-type': 'application/json' });
      r.end(JSON.stringify({ success: true, impulse: { inputBlocks: [], dspBlocks: [], learnBlocks: [] } }));
    });
    s.listen(0, '127.0.0.1', () => console.log(s.address().port));
    process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
  ]]):format(cert, key)
  local server = helper.node_server(script)
  server.url = "https://127.0.0.1:" .. server.port
  return server
end

describe("TLS", function()
  local dir, cert, key, server
  setup(function()
    dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. dir))
    cert, key = self_signed(dir)
    server = https_server(cert, key)
  end)
  teardown(function()
    server.stop()
    os.execute("rm -rf " .. dir)
  end)

  it("refuses a self-signed certificate with ECONNECT and says why", function()
    local client = ei.new { host = server.url, api_key = "ei_test", retries = 0 }
    local res, err, code = client:impulse(1)
    assert.is_nil(res)
    assert.equal("ECONNECT", code)
    assert.matches("certificate", err)
    client:close()
  end)

  it("accepts the same server when ca_file names its certificate", function()
    local client = ei.new { host = server.url, api_key = "ei_test", retries = 0, ca_file = cert }
    local res = assert(client:impulse(1))
    assert.is_table(res.impulse)
    client:close()
  end)
end)
