-- A release: tools/release writes the versioned rockspec and packs a source rock from
-- the version's git tag; that rock installs from a local rocks server with no network.
local helper = require "helper"
local ei = require "ei"

local q = helper.quote

local function sh(cmd)
  local p = assert(io.popen("(" .. cmd .. ") 2>&1; echo rc=$?"))
  local out = p:read("a")
  p:close()
  return out:gsub("rc=(%d+)%s*$", ""), tonumber(out:match("rc=(%d+)%s*$"))
end

local function tmpdir()
  local out = sh("mktemp -d")
  return (out:gsub("%s+$", ""))
end

describe("tools/release", function()
  it("packs a source rock from the tag that installs from a local rocks server, offline, and runs", function()
    local version = ei.VERSION
    local repo, dist, tree = tmpdir(), tmpdir(), tmpdir()
    -- A repository of its own holding this checkout's files, tagged, so the tag
    -- never lands in the checkout's repository.
    local out, rc = sh(("cd %s && git ls-files -co --exclude-standard -z | xargs -0 tar cf - | tar xf - -C %s && cd %s && "
      .. "git init -q && git add -A && git -c user.name=spec -c user.email=spec@localhost commit -qm release && git tag v%s")
      :format(q(helper.root), q(repo), q(repo), version))
    assert.equal(0, rc, out)
    out, rc = sh(("cd %s && bash tools/release %s %s"):format(q(repo), version, q(dist)))
    assert.equal(0, rc, out)
    local rock = ("ei-train-%s-1.src.rock"):format(version)
    assert.matches("packed " .. dist .. "/" .. rock, out, 1, true)
    -- The committed rockspec is what tools/release writes: version and tag pinned.
    local rockspec = ("rockspec/ei-train-%s-1.rockspec"):format(version)
    local written = assert(helper.read_file(repo .. "/" .. rockspec))
    assert.equal(helper.read_file(helper.root .. "/" .. rockspec), written)
    assert.matches(('\nversion = "%s-1"\n'):format(version), written, 1, true)
    assert.matches(('\n  tag = "v%s",\n'):format(version), written, 1, true)
    -- The source rock holds the sources of the tag.
    local listing = sh(("unzip -l %s/%s"):format(q(dist), rock))
    for _, file in ipairs { "ei-train-" .. version .. "-1.rockspec", "ei-train/src/core.c", "ei-train/src/gen/spec.c",
      "ei-train/lua/ei/cli.lua", "ei-train/bin/ei-train" } do
      assert.matches(" " .. file .. "\n", listing, 1, true)
    end
    -- A rocks server in a folder; the install may not reach any network (a dead proxy,
    -- and git allowed no protocol at all).
    out, rc = sh(("luarocks-admin make-manifest --lua-version=5.4 %s"):format(q(dist)))
    assert.equal(0, rc, out)
    out, rc = sh(("cd %s && env -u LUA_PATH -u LUA_CPATH http_proxy=http://127.0.0.1:1 https_proxy=http://127.0.0.1:1 GIT_ALLOW_PROTOCOL=none "
      .. "luarocks --lua-version=5.4 --tree %s install --only-server=%s ei-train"):format(q(tree), q(tree), q(dist)))
    assert.equal(0, rc, out)
    assert.matches("ei-train " .. version .. "-1 is now installed", out, 1, true)
    -- The installed command: its help, and a REST call against the simulator.
    local sim = helper.studio { speed = 300 }
    local run = ("cd %s && env -u LUA_PATH -u LUA_CPATH EI_HOST=%s EI_API_KEY=%s %s/bin/ei-train "):format(
      q(tree), q(sim.url), q(sim.api_key), q(tree))
    local usage, hrc = sh(run .. "--help")
    local jobs, jrc = sh(run .. "jobs --project " .. sim.project_id)
    local where = sh(("env -u LUA_PATH -u LUA_CPATH %s/bin/ei-train --help >/dev/null; LUA_PATH=%s LUA_CPATH=%s lua5.4 -e %s"):format(
      q(tree), q(tree .. "/share/lua/5.4/?.lua;" .. tree .. "/share/lua/5.4/?/init.lua"), q(tree .. "/lib/lua/5.4/?.so"),
      q('io.write(package.searchpath("ei.cli", package.path), " ", package.searchpath("ei.core", package.cpath))')))
    local listed = sim:requests("/jobs$", "GET")
    sim:stop()
    helper.audit("ei-train", usage .. jobs)
    assert.equal(0, hrc, usage)
    assert.matches("usage: ei-train [train] --project P", usage, 1, true)
    assert.equal(0, jrc, jobs)
    assert.equal(("no active jobs in project %d\n"):format(sim.project_id), jobs)
    assert.equal(1, #listed)
    assert.equal(("%s/share/lua/5.4/ei/cli.lua %s/lib/lua/5.4/ei/core.so"):format(tree, tree), where)
    os.execute(("rm -rf %s %s %s"):format(q(repo), q(dist), q(tree)))
  end)
end)
