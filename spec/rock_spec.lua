-- The rock: `luarocks make` builds and installs a module that loads on its own.
local helper = require "helper"

describe("the rockspec", function()
  it("builds, installs into a fresh tree, loads there with the rockspec's version and talks to Studio", function()
    local sim = helper.studio { speed = 300 }
    local tree = os.tmpname()
    os.remove(tree)
    local src = os.tmpname()
    os.remove(src)
    -- Build from a copy so the checkout stays free of object files.
    assert(os.execute(("mkdir -p %s && cp -r %s/src %s/lua %s/bin %s/rockspec %s/"):format(src, helper.root, helper.root, helper.root, helper.root, src)))
    local ok = os.execute(("cd %s && luarocks --lua-version=5.4 --tree %s make rockspec/ei-train-scm-1.rockspec > %s/build.log 2>&1"):format(src, tree, src))
    assert(ok, helper.read_file(src .. "/build.log"))
    local probe = ([[LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' LUA_CPATH='%s/lib/lua/5.4/?.so' lua5.4 -e '
      local ei = require "ei"
      local core_path = package.searchpath("ei.core", package.cpath)
      local ok, err = ei.validate("SetKerasParameterRequest", { learning_rate = 0.1 })
      local client = assert(ei.new { host = "%s", api_key = "%s" })
      local impulse = assert(client:impulse(%d))
      io.write(ei.VERSION, "\n", core_path, "\n", err, "\n", #impulse.impulse.learnBlocks, "\n")']]):format(tree, tree, tree,
      sim.url, sim.api_key, sim.project_id)
    local p = assert(io.popen(probe))
    local out = p:read("a")
    p:close()
    local version, core_path, err, blocks = out:match("^([^\n]*)\n([^\n]*)\n([^\n]*)\n(%d+)\n$")
    sim:stop()
    local rockspec = helper.read_file(helper.root .. "/rockspec/ei-train-scm-1.rockspec")
    assert.truthy(rockspec:find('package = "ei-train"', 1, true))
    assert.equal(helper.rockspec_version(), version)
    assert.equal(tree .. "/lib/lua/5.4/ei/core.so", core_path)
    assert.equal('learning_rate: unknown field (did you mean "learningRate"?)', err)
    -- a REST call: libcurl, opened on the first request, is found from the tree too
    assert.is_true(tonumber(blocks) >= 1, out)
    -- The command is installed too, and runs from the tree.
    local cli = assert(io.popen(("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' LUA_CPATH='%s/lib/lua/5.4/?.so' %s/bin/ei-train --help"):format(tree, tree, tree, tree)))
    local usage = cli:read("a")
    assert.is_true(cli:close())
    assert.matches("--project", usage, 1, true)
    os.execute(("rm -rf %s %s"):format(tree, src))
  end)
end)
