/* JSON values in Lua (jsonvalue.h): the null sentinel and the marker metatables, kept in
 * the registry under the addresses of two constants. */
#include "jsonvalue.h"

static const char array_mt_key = 'a';
static const char object_mt_key = 'o';

static const void *const marker_keys[] = { &array_mt_key, &object_mt_key };

void ei_json_pushnull(lua_State *L)
{
	lua_pushlightuserdata(L, NULL);
}

int ei_json_isnull(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

static void new_marker(lua_State *L, enum ei_json_marker which, const char *type)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, type);
	lua_setfield(L, -2, "__jsontype");
	lua_pushfstring(L, "ei.%s", type);
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, marker_keys[which]);
}

void ei_json_markers_open(lua_State *L)
{
	new_marker(L, EI_JSON_ARRAY, "array");
	new_marker(L, EI_JSON_OBJECT, "object");
}

void ei_json_push_marker(lua_State *L, enum ei_json_marker which)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, marker_keys[which]);
}

void ei_json_markers(lua_State *L, const void **array_mt, const void **object_mt)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &object_mt_key);
	*array_mt = lua_topointer(L, -2);
	*object_mt = lua_topointer(L, -1);
	lua_pop(L, 2);
}
