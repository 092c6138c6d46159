/*
 * ei-embed-host: a C program that embeds Lua 5.4 and runs ei-train from its
 * own poll() loop, the way a game, a server or a UI with its own event loop
 * would: the script (follow.lua) starts a training job and follows it, starts
 * a second job and cancels it, and no call into it ever waits. The loop keeps
 * a fixed 100 Hz tick and reports the longest gap between two ticks.
 *
 *   ei-embed-host [--threads N] [--root DIR] [--build DIR] [SCRIPT]
 *
 * DIR defaults come from EI_ROOT (the checkout, default ".") and EI_BUILD
 * (default ROOT/build); SCRIPT defaults to ROOT/examples/embed/follow.lua.
 * The script reads EI_HOST, EI_API_KEY, EI_PROJECT_ID and EI_LEARN_ID and
 * returns a function that takes emit(line) and returns the app: an object
 * with pollfd, events, timeout and step (step returns "running", then
 * "succeeded" or "failed").
 *
 * Output: "job: <id>", then "log: <line>" per log line, "canceled: <id>" for
 * the second job, then "finished: true|false"; stderr gets the number of poll
 * turns, the longest tick gap and the longest step, in milliseconds.
 * Exit status: 0 the job succeeded, 1 it failed, 3 an error (usage included).
 *
 * With --threads N (1 to 64), N threads run at once, each with its own
 * lua_State, its own client and its own job, and nothing shared but the
 * read-only options. Every line a thread writes starts with "[K] " (K from 1
 * to N); once all have ended, one "[K] result: succeeded|failed|error" each.
 * Exit status: 0 when every job succeeded, 3 when any thread had an error,
 * otherwise 1.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

enum { EXIT_SUCCEEDED = 0, EXIT_JOB_FAILED = 1, EXIT_ERROR = 3 };

/* Longest single wait in poll(), how long the whole job may take, and the tick. */
static const double MAX_WAIT = 1.0;
static const double DEADLINE = 60.0;
static const double TICK = 0.01;
enum { MAX_THREADS = 64 };

/* One follower: a thread (or main) with its own lua_State and job. */
typedef struct {
  const char *root, *build, *script; /* shared by all followers, read-only */
  char tag[16];                      /* "[K] " or "" before each line */
  int status;                        /* exit status of this follower */
  long turns, ticks;
  double worst_gap, worst_step;      /* seconds */
  pthread_t thread;
} follower;

/* The follower that owns a state, kept in the state's extra space. */
static follower *owner(lua_State *L) {
  return *(follower **)lua_getextraspace(L);
}

/* A message on stderr after the follower's tag, whole whatever other threads write. */
static void complain(lua_State *L, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  flockfile(stderr);
  fprintf(stderr, "%sei-embed-host: ", owner(L)->tag);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  funlockfile(stderr);
  va_end(ap);
}

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
    complain(L, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  return status;
}

/* obj.name() with the object at index `obj`; leaves nresults values. */
static int method(lua_State *L, int obj, const char *name, int nresults) {
  if (lua_getfield(L, obj, name) != LUA_TFUNCTION) {
    lua_pop(L, 1);
    complain(L, "the app has no function '%s'", name);
    return LUA_ERRRUN;
  }
  lua_pushvalue(L, obj);
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
static int wait_for(lua_State *L, int fd, const char *events, double seconds) {
  struct pollfd p = { .fd = fd, .events = 0, .revents = 0 };
  if (strchr(events, 'r')) p.events |= POLLIN;
  if (strchr(events, 'w')) p.events |= POLLOUT;
  int ms = (int)ceil(seconds * 1000.0);
  int n = poll(&p, fd >= 0 ? 1 : 0, ms);
  if (n < 0 && errno != EINTR) {
    complain(L, "poll: %s", strerror(errno));
    return -1;
  }
  return n;
}

/* Print one line for the script: emit(line), after the follower's tag. */
static int emit(lua_State *L) {
  size_t len;
  const char *line = luaL_checklstring(L, 1, &len);
  flockfile(stdout); /* one whole line, whatever other threads write */
  fputs(owner(L)->tag, stdout);
  fwrite(line, 1, len, stdout);
  fputc('\n', stdout);
  funlockfile(stdout);
  fflush(stdout);
  return 0;
}

enum { RUNNING = -1 };

/* app.step() timed: RUNNING, an exit status once the job ended, or EXIT_ERROR. */
static int step(lua_State *L, int app, follower *f) {
  double started = monotime();
  if (method(L, app, "step", 1) != LUA_OK) return EXIT_ERROR;
  double took = monotime() - started;
  if (took > f->worst_step) f->worst_step = took;
  const char *result = lua_tostring(L, -1);
  int status = !result ? EXIT_ERROR
               : strcmp(result, "running") == 0 ? RUNNING
               : strcmp(result, "succeeded") == 0 ? EXIT_SUCCEEDED
               : strcmp(result, "failed") == 0 ? EXIT_JOB_FAILED : EXIT_ERROR;
  if (status == EXIT_ERROR) complain(L, "app.step() returned %s", result ? result : "no result");
  lua_pop(L, 1);
  return status;
}

/* The wait before the next turn: the app's timeout, bounded by the next tick. */
static double next_wait(lua_State *L, int app, double next_tick, double left) {
  if (method(L, app, "timeout", 1) != LUA_OK) return -1;
  double wait = MAX_WAIT;
  if (lua_isnumber(L, -1)) wait = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (!(wait <= MAX_WAIT)) wait = MAX_WAIT; /* also catches NaN */
  double to_tick = next_tick - monotime();
  if (wait > to_tick) wait = to_tick;
  if (wait > left) wait = left;
  return wait < 0 ? 0 : wait;
}

/* The fixed-rate tick: a game's frame, a server's housekeeping. */
static void tick(follower *f, double *last, double *next) {
  double now = monotime();
  if (now < *next) return;
  if (now - *last > f->worst_gap) f->worst_gap = now - *last;
  *last = now;
  *next += TICK;
  if (*next < now) *next = now + TICK; /* behind: no burst of catch-up ticks */
  f->ticks++;
}

/* Run the app at index `app` until its job ends; returns the exit status. */
static int drive(lua_State *L, int app, follower *f) {
  double deadline = monotime() + DEADLINE, last_tick = monotime(), next_tick = last_tick + TICK;
  for (;;) {
    int status = step(L, app, f);
    if (status != RUNNING) return status;
    tick(f, &last_tick, &next_tick);

    double left = deadline - monotime();
    if (left <= 0) {
      complain(L, "the job did not finish within %gs", DEADLINE);
      return EXIT_ERROR;
    }
    if (method(L, app, "pollfd", 1) != LUA_OK) return EXIT_ERROR;
    int isnum = 0;
    int fd = (int)lua_tointegerx(L, -1, &isnum);
    lua_pop(L, 1);
    if (!isnum) fd = -1;
    if (method(L, app, "events", 1) != LUA_OK) return EXIT_ERROR;
    char events[4] = "r";
    if (lua_type(L, -1) == LUA_TSTRING) snprintf(events, sizeof events, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    double wait = next_wait(L, app, next_tick, left);
    if (wait < 0) return EXIT_ERROR;

    ++f->turns;
    if (wait_for(L, fd, events, wait) < 0) return EXIT_ERROR;
    tick(f, &last_tick, &next_tick);
  }
}

static int usage(void) {
  fputs("usage: ei-embed-host [--threads N] [--root DIR] [--build DIR] [SCRIPT]\n", stderr);
  return EXIT_ERROR;
}

/* Run the script in a new lua_State and follow the job it returns. */
static void *run(void *arg) {
  follower *f = arg;
  f->status = EXIT_ERROR;
  lua_State *L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%sei-embed-host: cannot create a Lua state\n", f->tag);
    return NULL;
  }
  *(follower **)lua_getextraspace(L) = f;
  luaL_openlibs(L);

  const char *build_dir = f->build && *f->build ? f->build : lua_pushfstring(L, "%s/build", f->root);
  set_paths(L, f->root, build_dir);
  const char *path = f->script ? f->script : lua_pushfstring(L, "%s/examples/embed/follow.lua", f->root);

  if (luaL_loadfile(L, path) != LUA_OK) {
    complain(L, "%s", lua_tostring(L, -1));
  } else if (pcall(L, 0, 1) == LUA_OK) {
    lua_pushcfunction(L, emit);
    if (pcall(L, 1, 1) == LUA_OK) {
      int app = lua_gettop(L);
      if (!lua_istable(L, app)) complain(L, "%s did not make an app", path);
      else f->status = drive(L, app, f);
    }
  }
  fprintf(stderr, "%spoll turns: %ld\n", f->tag, f->turns);
  fprintf(stderr, "%sticks: %ld, longest tick gap: %.1f ms, longest step: %.1f ms\n", f->tag, f->ticks,
          f->worst_gap * 1000, f->worst_step * 1000);
  lua_close(L);
  return NULL;
}

static const char *const results[] = {
  [EXIT_SUCCEEDED] = "succeeded", [EXIT_JOB_FAILED] = "failed", [EXIT_ERROR] = "error",
};

int main(int argc, char **argv) {
  follower base = { .root = getenv("EI_ROOT"), .build = getenv("EI_BUILD") };
  int threads = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) base.root = argv[++i];
    else if (strcmp(argv[i], "--build") == 0 && i + 1 < argc) base.build = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > MAX_THREADS) return usage();
      threads = (int)n;
    } else if (argv[i][0] == '-' || base.script) return usage();
    else base.script = argv[i];
  }
  if (!base.root || !*base.root) base.root = ".";

  if (threads == 0) { /* alone, on the main thread, with untagged output */
    run(&base);
    return base.status;
  }

  follower f[MAX_THREADS];
  int started = 0;
  for (; started < threads; started++) {
    f[started] = base;
    snprintf(f[started].tag, sizeof f[started].tag, "[%d] ", started + 1);
    int err = pthread_create(&f[started].thread, NULL, run, &f[started]);
    if (err) {
      fprintf(stderr, "ei-embed-host: cannot start thread %d: %s\n", started + 1, strerror(err));
      break;
    }
  }
  /* Each thread ends: its requests have the client's timeouts, its job DEADLINE. */
  int status = started < threads ? EXIT_ERROR : EXIT_SUCCEEDED;
  for (int i = 0; i < started; i++) {
    pthread_join(f[i].thread, NULL);
    printf("%sresult: %s\n", f[i].tag, results[f[i].status]);
    if (f[i].status == EXIT_ERROR) status = EXIT_ERROR;
    else if (f[i].status == EXIT_JOB_FAILED && status == EXIT_SUCCEEDED) status = EXIT_JOB_FAILED;
  }
  return status;
}
