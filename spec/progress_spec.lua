-- The live progress line of ei-train: it fits the terminal, follows a resize, and is
-- redrawn in place. Checked on real ptys (script, tmux) against the simulator.
local helper = require "helper"
local core = require "ei.core"
local progress = require "ei.cli.progress"

local q = helper.quote

local STATE = { epoch = 13, epochs = 30, elapsed = 2.4,
  metrics = { loss = 0.91724, accuracy = 0.4231, val_loss = 1.0216, val_accuracy = 0.4023 } }

local function has(cmd)
  return os.execute(("command -v %s > /dev/null 2>&1"):format(cmd))
end

local command, tmux, screen_when = helper.ei_train_command, helper.tmux, helper.screen_when

local function lines_of(screen)
  local list = {}
  for line in screen:gmatch("([^\n]*)\n") do list[#list + 1] = line end
  return list
end

describe("the progress line", function()
  it("fits every width from 10 to 200 columns, leaving the last column free", function()
    for width = 10, 200 do
      local line = progress.line(STATE, width)
      assert.is_true(#line <= width - 1, ("%d columns: %q"):format(width, line))
    end
    assert.equal("Epoch 13/30 [##########--------------]  43%  elapsed 0:02  ETA 0:03  loss 0.9172  accuracy 0.4231  val_loss 1.0216  val_accuracy 0.4023",
      progress.line(STATE, 200))
  end)

  it("shortens the metrics before it drops any, and keeps the epoch to the last", function()
    local line = progress.line(STATE, 110)
    assert.equal("Epoch 13/30 [##########--------------]  43% elapsed 0:02 ETA 0:03 loss 0.917 acc 0.423 vloss 1.022 vacc 0.402", line)
    assert.equal("Epoch 13/30 [###-----]  43% ETA 0:03 loss 0.917 acc 0.423", progress.line(STATE, 60))
    assert.equal("Epoch 13/30  43%", progress.line(STATE, 20))
    -- narrowing the terminal never brings a metric back, and all four stay while any
    -- other part can give way
    local shown = 4
    for width = 200, 10, -1 do
      local l = progress.line(STATE, width)
      local n = select(2, l:gsub("%a+ %d%.%d+", ""))
      assert.is_true(n <= shown, ("%d columns: %q"):format(width, l))
      if n < 4 then assert.is_nil(l:find("elapsed", 1, true)) end
      shown = n
    end
    assert.equal(0, shown)
  end)
end)

describe("ei-train --follow on a terminal", function()
  it("redraws the bar in place with \\r on a 60-column pty, no line wider than 59", function()
    if not has("script") then pending("util-linux script is not installed") return end
    local sim = helper.studio { speed = 300 }
    local inner = "stty cols 60 rows 20; " .. command(sim, "--learn 5 --follow --set trainingCycles=5")
    local p = assert(io.popen(("TERM=xterm script -qfec %s /dev/null; echo rc=$?"):format(q(inner))))
    local out = p:read("a")
    p:close()
    helper.audit("ei-train", out)
    sim:stop()
    assert.equal("0", out:match("rc=(%d+)%s*$"), out)
    local redraws = 0
    for segment in out:gsub("\27%[K", ""):gmatch("[^\r\n]+") do
      assert.is_true(#segment <= 59, ("%d characters: %q"):format(#segment, segment))
      if segment:match("^Epoch %d+/5 ") then redraws = redraws + 1 end
    end
    assert.is_true(redraws >= 5, out)
    assert.matches("\rEpoch 5/5 [", out, 1, true)
    assert.matches("finished: success", out, 1, true)
    assert.is_nil(out:find("Job completed (success)", 1, true))
  end)

  for _, width in ipairs { 110, 60 } do
    it(("shows one progress line on a %d-column tmux screen, never wider than the screen"):format(width), function()
      if not has("tmux") then pending("tmux is not installed") return end
      local sim = helper.studio { speed = 300 }
      local t = tmux(command(sim, "--learn 5 --follow --set trainingCycles=8"), width)
      local screen = screen_when(t, "rc=%d+", 60)
      t.stop()
      sim:stop()
      assert.is_string(screen, "ei-train did not finish within 60 s")
      local lines, epochs = lines_of(screen), {}
      for i, line in ipairs(lines) do
        assert.is_true(#line <= width, ("line %d is %d wide: %q"):format(i, #line, line))
        if line:match("^Epoch") then epochs[#epochs + 1] = i end
      end
      assert.equal(1, #epochs, screen)
      assert.matches("^Epoch 8/8 %[#+%] 100%%", lines[epochs[1]])
      assert.matches(" loss %d%.%d+", lines[epochs[1]])
      assert.equal("finished: success", lines[epochs[1] + 1])
      assert.equal("rc=0", lines[epochs[1] + 2])
    end)
  end

  it("follows a resize from 110 to 60 columns while it runs", function()
    if not has("tmux") then pending("tmux is not installed") return end
    local sim = helper.studio { speed = 12 }
    local t = tmux(command(sim, "--learn 5 --follow --set trainingCycles=30"), 110)
    local before = screen_when(t, "Epoch [1-9]%d*/30", 60)
    local wide = before and before:match("(Epoch [^\n]*)")
    t.resize(60)
    local screen = screen_when(t, "rc=%d+", 120)
    t.stop()
    sim:stop()
    assert.is_string(before, "no progress line within 60 s")
    assert.is_true(#wide > 60, wide)
    assert.is_string(screen, "ei-train did not finish within 120 s")
    local lines, epochs = lines_of(screen), {}
    for i, line in ipairs(lines) do
      assert.is_true(#line <= 60, ("%d wide: %q"):format(#line, line))
      if line:match("Epoch %d") then epochs[#epochs + 1] = i end
    end
    -- one progress line, the last one drawn, narrow enough: no wrapped remains
    assert.equal(1, #epochs, screen)
    local last = lines[epochs[1]]
    assert.matches("^Epoch 30/30 %[#+%] 100%%", last)
    assert.is_true(#last <= 59, last)
    assert.equal("finished: success", lines[epochs[1] + 1])
    assert.equal("rc=0", lines[epochs[1] + 2])
  end)
end)

describe("core.terminal_size", function()
  it("answers nil for a descriptor that is no terminal, and columns, rows on a pty", function()
    assert.is_nil(core.terminal_size(-1))
    assert.is_nil(core.terminal_size(99999))
    if not has("script") then pending("util-linux script is not installed") return end
    -- a script file, not -e: tools/sanitize's ASan host takes only a file
    local file = os.tmpname()
    helper.write_file(file, 'print(require("ei.core").terminal_size(1))\n')
    local probe = ("stty cols 77 rows 11; LUA_CPATH=%s %s %s"):format(q(helper.lua_cpath), q(helper.lua), q(file))
    local p = assert(io.popen(("script -qfec %s /dev/null"):format(q(probe))))
    local out = p:read("a")
    p:close()
    os.remove(file)
    assert.matches("77\t11", out, 1, true)
  end)
end)
