-- The rock: `luarocks make` builds and installs a module that loads on its own.
local helper = require "helper"

describe("the rockspec", function()
  it("builds, installs into a fresh tree and loads there with the rockspec's version", function()
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
      io.write(ei.VERSION, "\n", core_path, "\n", err, "\n")']]):format(tree, tree, tree)
    local p = assert(io.popen(probe))
    local out = p:read("a")
    p:close()
    local version, core_path, err = out:match("^([^\n]*)\n([^\n]*)\n([^\n]*)\n$")
    local rockspec = helper.read_file(helper.root .. "/rockspec/ei-train-scm-1.rockspec")
    assert.truthy(rockspec:find('package = "ei-train"', 1, true))
    assert.equal(require("ei").VERSION, version)
    assert.equal(tree .. "/lib/lua/5.4/ei/core.so", core_path)
    assert.equal('learning_rate: unknown field (did you mean "learningRate"?)', err)
    -- The command is installed too, and runs from the tree.
    local cli = assert(io.popen(("LUA_PATH='%s/share/lua/5.4/?.lua;%s/share/lua/5.4/?/init.lua' LUA_CPATH='%s/lib/lua/5.4/?.so' %s/bin/ei-train --help"):format(tree, tree, tree, tree)))
    local usage = cli:read("a")
    assert.is_true(cli:close())
    assert.matches("--project", usage, 1, true)
    os.execute(("rm -rf %s %s"):format(tree, src))
  end)
end)
