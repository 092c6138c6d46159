-- Inputs the fuzz targets (fuzz/, tools/fuzz) found breaking the C core, replayed
-- through the Lua API. The raw inputs are in fuzz/regressions/; `tools/fuzz
-- --replay` runs them under the sanitizers.
local core = require "ei.core"

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
    assert.same({ type = "log", job = 1, line = "a" }, sock:next(1))
    assert.is_nil(sock:next(1))
    local _, bytes = sock:position(1)
    assert.equal(2, bytes)
  end)
end)
