/* A minimal `lua5.4 script [args]`: tools/sanitize builds it with ASan and UBSan so the
 * sanitizer runtimes come from the executable and the instrumented ei/core.so loads into
 * it without LD_PRELOAD. Like lua.c: global `arg` (arg[-1] the interpreter, arg[0] the
 * script), script arguments as `...`, generational GC, Ctrl-C raises "interrupted!",
 * errors go to stderr with a traceback and exit 1, and the state is closed at exit
 * (os.exit closes it when asked to, as busted does). */
#include <dlfcn.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lua_State *global_L;

/* lua_close would unload the C modules before LeakSanitizer looks at exit: their frames
 * would print as bare addresses and memory that libcurl or OpenSSL keeps in their own
 * globals would look lost. This definition overrides libdl's for the whole process, so
 * modules stay loaded, as if opened with RTLD_NODELETE. */
int dlclose(void *handle) {
  (void)handle;
  return 0;
}

/* GCC's UBSan runtime is a library of its own, and the log_path it reads from
 * UBSAN_OPTIONS reaches libasan's report file instead (the setter resolves to libasan's
 * copy), so its reports would go to stderr: hand the path to its own copy. */
static void ubsan_log_path(void) {
  const char *opts = getenv("UBSAN_OPTIONS");
  const char *p = opts ? strstr(opts, "log_path=") : NULL;
  void *lib = p ? dlopen("libubsan.so.1", RTLD_LAZY | RTLD_NOLOAD) : NULL;
  void *set = lib ? dlsym(lib, "__sanitizer_set_report_path") : NULL;
  if (set == NULL)
    return;
  char path[4096];
  p += strlen("log_path=");
  snprintf(path, sizeof path, "%.*s", (int)strcspn(p, ":"), p);
  ((void (*)(const char *))set)(path);
}

static void stop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* As lua.c: the handler only sets a hook; Lua raises the error at its next step. */
static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  lua_sethook(global_L, stop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKLINE | LUA_MASKCOUNT, 1);
}

static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  luaL_checkversion(L);
  luaL_openlibs(L);
  lua_gc(L, LUA_GCRESTART);
  lua_gc(L, LUA_GCGEN, 0, 0);
  lua_createtable(L, argc - 2, 2);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - 1);
  }
  lua_setglobal(L, "arg");
  if (luaL_loadfile(L, argv[1]) != LUA_OK)
    return lua_error(L);
  luaL_checkstack(L, argc, "too many arguments to script");
  for (int i = 2; i < argc; i++)
    lua_pushstring(L, argv[i]);
  lua_call(L, argc - 2, 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s script [args]\n", argv[0]);
    return 1;
  }
  const char *progname = argv[0];
  ubsan_log_path();
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", progname);
    return 1;
  }
  lua_gc(L, LUA_GCSTOP);
  lua_pushcfunction(L, msghandler);
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  global_L = L;
  signal(SIGINT, on_sigint);
  int status = lua_pcall(L, 2, 0, 1);
  signal(SIGINT, SIG_DFL);
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: %s\n", progname, msg ? msg : "(error object is not a string)");
    fflush(stderr);
  }
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
