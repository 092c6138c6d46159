rockspec_format = "3.0"
package = "ei-train"
version = "scm-1"
source = {
  url = "git+https://github.com/ei-train/ei-train.git",
}
description = {
  summary = "Drive Edge Impulse Studio model training from Lua",
  detailed = [[
    A Lua 5.4 module with a C core (libcurl, cJSON, libwebsockets): start Keras training
    jobs with parameter tables checked against the Studio API's schemas, and follow them
    live over the Studio websocket, in plain scripts, coroutines, cqueues, luv or a host's
    own event loop.
  ]],
  license = "MIT",
  labels = { "edge-impulse", "machine-learning", "websocket", "http" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  CURL = { library = "curl" },
  CJSON = { header = "cjson/cJSON.h" },
  WEBSOCKETS = { header = "libwebsockets.h" },
}
-- The C core: the common sources, then the src/platform/ files of the system, as
-- CMake's EI_POLLSET, EI_WAKEUP and EI_LINK_CURL choose them (README "Building").
local core_sources = {
  "src/core.c", "src/pollset.c", "src/client.c", "src/http.c", "src/json.c",
  "src/mime.c", "src/download.c", "src/sha256.c", "src/terminal.c",
  "src/buffer.c", "src/luabuf.c", "src/jsontext.c", "src/jsonvalue.c", "src/jsonwrite.c",
  "src/message.c", "src/suggest.c", "src/lookup.c", "src/validate.c", "src/walk_table.c",
  "src/operation.c", "src/schema.c", "src/gen/spec.c",
  "src/engineio.c", "src/joblog.c", "src/backfill.c",
  "src/url.c", "src/resolve.c", "src/jobset.c", "src/dispatch.c", "src/wscallback.c", "src/websocket.c",
  "src/socket.c",
}
local function core_with(platform)
  local all = {}
  for i = 1, #core_sources do all[i] = core_sources[i] end
  for i = 1, #platform do all[#core_sources + i] = platform[i] end
  return all
end

build = {
  type = "builtin",
  modules = {
    -- Any POSIX system (macOS, the BSDs, musl): poll(2), a pipe, libcurl linked.
    ["ei.core"] = {
      sources = core_with { "src/platform/pollset_poll.c", "src/platform/wakeup_pipe.c", "src/platform/libcurl_linked.c" },
      defines = { "_POSIX_C_SOURCE=200809L" },
      incdirs = { "src", "$(CJSON_INCDIR)/cjson", "$(WEBSOCKETS_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(CJSON_LIBDIR)", "$(WEBSOCKETS_LIBDIR)" },
      libraries = { "cjson", "websockets", "pthread", "curl" },
    },
    ["ei"] = "lua/ei/init.lua",
    ["ei.cli"] = "lua/ei/cli.lua",
    ["ei.cli.deploy"] = "lua/ei/cli/deploy.lua",
    ["ei.cli.follow"] = "lua/ei/cli/follow.lua",
    ["ei.cli.jobs"] = "lua/ei/cli/jobs.lua",
    ["ei.cli.progress"] = "lua/ei/cli/progress.lua",
    ["ei.cli.sweep"] = "lua/ei/cli/sweep.lua",
    ["ei.cli.sweep_view"] = "lua/ei/cli/sweep_view.lua",
    ["ei.cli.train"] = "lua/ei/cli/train.lua",
    ["ei.client"] = "lua/ei/client.lua",
    ["ei.job"] = "lua/ei/job.lua",
    ["ei.plot"] = "lua/ei/plot.lua",
    ["ei.pipeline"] = "lua/ei/pipeline.lua",
    ["ei.stream"] = "lua/ei/stream.lua",
    ["ei.version"] = "lua/ei/version.lua",
    ["ei.wait"] = "lua/ei/wait.lua",
  },
  install = {
    bin = { ["ei-train"] = "bin/ei-train" },
  },
  -- luarocks merges a platform's lists into the ones above entry by entry, so
  -- each list here is as long as the one it replaces.
  platforms = {
    -- Linux: epoll, eventfd; libcurl opened on the first request (libcurl_dlopen.c).
    linux = {
      modules = {
        ["ei.core"] = {
          sources = core_with { "src/platform/pollset_epoll.c", "src/platform/wakeup_eventfd.c", "src/platform/libcurl_dlopen.c" },
          defines = { "_POSIX_C_SOURCE=200809L", 'EI_LIBCURL="libcurl.so.4"' },
          libraries = { "cjson", "websockets", "pthread", "dl" },
        },
      },
    },
  },
}
