/* Module entry: `ei.core`, the C half of `ei`. */
#include <stdarg.h>

#include "core.h"

int ei_fail(lua_State *L, const char *code, const char *fmt, ...)
{
	va_list ap;
	lua_pushnil(L);
	va_start(ap, fmt);
	lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	lua_pushstring(L, code);
	return 3;
}

double ei_opt_seconds(lua_State *L, int idx, const char *key, double def, double max)
{
	lua_getfield(L, idx, key);
	int is_number = 1;
	double v = lua_isnil(L, -1) ? def : lua_tonumberx(L, -1, &is_number);
	lua_pop(L, 1);
	if (!is_number || !(v >= 0 && v < max))
		luaL_error(L, "bad option '%s' (a number of seconds >= 0 expected)", key);
	return v;
}

void ei_new_class(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
		  lua_CFunction tostring)
{
	const luaL_Reg metamethods[] = {
		{ "__gc", close }, { "__close", close }, { "__tostring", tostring }, { NULL, NULL },
	};
	luaL_newmetatable(L, name);
	luaL_setfuncs(L, metamethods, 0);
	lua_newtable(L);
	luaL_setfuncs(L, methods, 0);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
}

static void (*const openers[])(lua_State *) = {
	ei_json_open, ei_mime_open, ei_schema_open, ei_poll_open, ei_client_open, ei_http_open, ei_socket_open, ei_terminal_open,
};

__attribute__((visibility("default"))) int luaopen_ei_core(lua_State *L)
{
	lua_newtable(L);
	for (size_t i = 0; i < sizeof openers / sizeof *openers; i++)
		openers[i](L);
	return 1;
}
