/*
 * ei-embed-host: a C program that embeds Lua 5.4, lets a script start an
 * Edge Impulse training job, and follows that job from its own poll() loop
 * through the job's pollable protocol (pollfd, events, timeout, step).
 *
 *   ei-embed-host [--root DIR] [--build DIR] [SCRIPT]
 *
 * DIR defaults come from EI_ROOT (the checkout, default ".") and EI_BUILD
 * (default ROOT/build); SCRIPT defaults to ROOT/examples/embed/follow.lua.
 * The script reads EI_HOST, EI_API_KEY, EI_PROJECT_ID and EI_LEARN_ID.
 *
 * Output: "job: <id>", then "log: <line>" per log line, then
 * "finished: true|false"; the number of poll turns goes to stderr.
 * Exit status: 0 the job succeeded, 1 it failed, 3 an error (usage included).
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

enum { EXIT_SUCCEEDED = 0, EXIT_JOB_FAILED = 1, EXIT_ERROR = 3 };

/* Longest single wait in poll(), and how long the whole job may take. */
static const double MAX_WAIT = 1.0;
static const double DEADLINE = 60.0;

static double monotime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Message handler for lua_pcall: add a traceback to string errors. */
static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Call a function already on the stack with its nargs arguments above it. */
static int pcall(lua_State *L, int nargs, int nresults) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (status != LUA_OK) {
    fprintf(stderr, "ei-embed-host: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return status;
}

/* job:name(extra) with the job at index `job`; leaves nresults values. */
static int method(lua_State *L, int job, const char *name, int nresults) {
  if (lua_getfield(L, job, name) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    fprintf(stderr, "ei-embed-host: the job has no method '%s'\n", name);
    return LUA_ERRRUN;
  }
  lua_pushvalue(L, job);
  return pcall(L, 1, nresults);
}

/* Prepend ROOT/lua to package.path and BUILD to package.cpath. */
static void set_paths(lua_State *L, const char *root, const char *build) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", root, root, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_getfield(L, -1, "cpath");
  lua_pushfstring(L, "%s/?.so;%s", build, lua_tostring(L, -1));
  lua_setfield(L, -3, "cpath");
  lua_pop(L, 2);
}

/* One poll() on the job's descriptor; returns -1 on a poll error. */
static int wait_for(int fd, const char *events, double seconds) {
  struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };
  if (strchr(events, 'r')) p.events |= POLLIN;
  if (strchr(events, 'w')) p.events |= POLLOUT;
  int ms = (int)ceil(seconds * 1000.0);
  int n = poll(&p, fd >= 0 ? 1 : 0, ms);
  if (n < 0 && errno != EINTR) {
    fprintf(stderr, "ei-embed-host: poll: %s\n", strerror(errno));
    return -1;
  }
  return n;
}

/*
 * Take every ready event with job:receive(0). Returns 1 while the job runs,
 * 0 once it finished (*success set), -1 on an error.
 */
static int drain(lua_State *L, int job, int *success) {
  for (;;) {
    if (lua_getfield(L, job, "receive") != LUA_TFUNCTION) {
      lua_pop(L, 1);
      fprintf(stderr, "ei-embed-host: the job has no method 'receive'\n");
      return -1;
    }
    lua_pushvalue(L, job);
    lua_pushinteger(L, 0);
    if (pcall(L, 2, 3) != LUA_OK) return -1;
    if (lua_isnil(L, -3)) {
      int result = 0;
      if (lua_isnil(L, -2)) {
        result = 0; /* the job finished earlier */
      } else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "ETIMEDOUT") == 0) {
        result = 1; /* nothing ready yet */
      } else {
        const char *msg = lua_tostring(L, -2), *code = lua_tostring(L, -1);
        fprintf(stderr, "ei-embed-host: %s (%s)\n", msg ? msg : "error", code ? code : "?");
        result = -1;
      }
      lua_pop(L, 3);
      return result;
    }
    lua_pop(L, 2);
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "type");
      const char *type = lua_tostring(L, -1);
      if (type && strcmp(type, "log") == 0) {
        lua_getfield(L, -2, "line");
        size_t len = 0;
        const char *line = lua_tolstring(L, -1, &len);
        if (line) {
          fputs("log: ", stdout);
          fwrite(line, 1, len, stdout);
          fputc('\n', stdout);
        }
        lua_pop(L, 1);
      } else if (type && strcmp(type, "finished") == 0) {
        lua_getfield(L, -2, "success");
        *success = lua_toboolean(L, -1);
        printf("finished: %s\n", *success ? "true" : "false");
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    fflush(stdout);
  }
}

/* Follow the job at index `job` to its end; returns the exit status. */
static int follow(lua_State *L, int job, long *turns) {
  double deadline = monotime() + DEADLINE;
  int success = 0;
  for (;;) {
    int running = drain(L, job, &success);
    if (running < 0) return EXIT_ERROR;
    if (running == 0) return success ? EXIT_SUCCEEDED : EXIT_JOB_FAILED;

    double left = deadline - monotime();
    if (left <= 0) {
      fprintf(stderr, "ei-embed-host: the job did not finish within %gs\n", DEADLINE);
      return EXIT_ERROR;
    }
    if (method(L, job, "pollfd", 1) != LUA_OK) return EXIT_ERROR;
    int isnum = 0;
    int fd = (int)lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum) fd = -1;
    if (method(L, job, "events", 1) != LUA_OK) return EXIT_ERROR;
    char events[4] = "r";
    if (lua_type(L, -1) == LUA_TSTRING) snprintf(events, sizeof events, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (method(L, job, "timeout", 1) != LUA_OK) return EXIT_ERROR;
    double wait = MAX_WAIT;
    if (lua_isnumber(L, -1)) wait = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(wait <= MAX_WAIT)) wait = MAX_WAIT; /* also catches NaN */
    if (wait > left) wait = left;
    if (wait < 0) wait = 0;

    ++*turns;
    if (wait_for(fd, events, wait) < 0) return EXIT_ERROR;
    if (method(L, job, "step", 0) != LUA_OK) return EXIT_ERROR;
  }
}

static int usage(void) {
  fputs("usage: ei-embed-host [--root DIR] [--build DIR] [SCRIPT]\n", stderr);
  return EXIT_ERROR;
}

int main(int argc, char **argv) {
  const char *root = getenv("EI_ROOT");
  const char *build = getenv("EI_BUILD");
  const char *script = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) root = argv[++i];
    else if (strcmp(argv[i], "--build") == 0 && i + 1 < argc) build = argv[++i];
    else if (argv[i][0] == '-' || script) return usage();
    else script = argv[i];
  }
  if (!root || !*root) root = ".";

  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("ei-embed-host: cannot create a Lua state\n", stderr);
    return EXIT_ERROR;
  }
  luaL_openlibs(L);

  int status = EXIT_ERROR;
  long turns = 0;
  const char *build_dir = build && *build ? build : lua_pushfstring(L, "%s/build", root);
  set_paths(L, root, build_dir);
  const char *path = script ? script : lua_pushfstring(L, "%s/examples/embed/follow.lua", root);

  if (luaL_loadfile(L, path) != LUA_OK) {
    fprintf(stderr, "ei-embed-host: %s\n", lua_tostring(L, -1));
  } else if (pcall(L, 0, 1) == LUA_OK) {
    int job = lua_gettop(L);
    if (lua_isnil(L, job)) {
      fprintf(stderr, "ei-embed-host: %s returned no job\n", path);
    } else {
      lua_getfield(L, job, "id");
      printf("job: %s\n", luaL_tolstring(L, -1, NULL));
      lua_pop(L, 2);
      fflush(stdout);
      status = follow(L, job, &turns);
      method(L, job, "close", 0);
    }
  }
  fprintf(stderr, "poll turns: %ld\n", turns);
  lua_close(L);
  return status;
}
