-- Secrets (API keys, JWTs, OAuth secrets, socket tokens) never show in what ei prints.
local helper = require "helper"
local ei = require "ei"

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
      if ev.type == "connection" then
        local stream = client.sockets[sim.project_id]
        if stream then keep(stream.sock, stream.last_error, stream.sock and stream.sock:state()) end
      end
    end
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
end)
