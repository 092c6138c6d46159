/* Internal interface between the C files of ei.core; only luaopen_ei_core is exported. */
#ifndef EI_CORE_H
#define EI_CORE_H

#include <lua.h>
#include <lauxlib.h>

#include "errors.h"

/* Push nil, a formatted message and a code; return 3 for `return ei_fail(...)`. */
int ei_fail(lua_State *L, const char *code, const char *fmt, ...);

/* The option `key` of the table at idx, in seconds: def when it is absent; raises unless
 * it is a number from 0 up to (not including) max. */
double ei_opt_seconds(lua_State *L, int idx, const char *key, double def, double max);

/* Create the metatable `name` for a userdata class: its methods (the
 * __index table), and __gc and __close both calling `close`, and __tostring. */
void ei_new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
		  lua_CFunction tostring);

/* Each concept adds its functions to the module table on top of the stack. */
void ei_json_open(lua_State *L);
void ei_mime_open(lua_State *L);
void ei_schema_open(lua_State *L);
void ei_client_open(lua_State *L);
void ei_http_open(lua_State *L); /* after ei_client_open: it adds client:request */
void ei_socket_open(lua_State *L);
void ei_poll_open(lua_State *L);
void ei_terminal_open(lua_State *L);

#endif
