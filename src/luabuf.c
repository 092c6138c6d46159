/* The Lua-owned buffer (luabuf.h): a userdata holding the heap pointer, freed by its __gc
 * when a Lua error unwinds past the function that grew the buffer. */
#include <stdlib.h>

#include <lauxlib.h>

#include "luabuf.h"

#define OWNER_MT "ei.buffer"

static int l_luabuf_gc(lua_State *L)
{
	ei_buf *owned = lua_touserdata(L, 1);
	ei_buf_free(owned);
	return 0;
}

void ei_luabuf_init(ei_luabuf *lb, lua_State *L, void *storage, size_t size, const char *too_large)
{
	ei_buf_init_on(&lb->b, storage, size);
	lb->L = L;
	lb->too_large = too_large;
	lua_pushnil(L);
	lb->slot = lua_gettop(L);
}

/* The userdata's copy of the buffer, created in the slot on the first growth. */
static ei_buf *owner(ei_luabuf *lb)
{
	lua_State *L = lb->L;
	if (lua_type(L, lb->slot) == LUA_TUSERDATA)
		return lua_touserdata(L, lb->slot);
	luaL_checkstack(L, 3, "buffer");
	ei_buf *owned = lua_newuserdatauv(L, sizeof *owned, 0);
	*owned = (ei_buf){ 0 };
	if (luaL_newmetatable(L, OWNER_MT)) {
		lua_pushcfunction(L, l_luabuf_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_setmetatable(L, -2);
	lua_replace(L, lb->slot);
	return owned;
}

char *ei_luabuf_grow(ei_luabuf *lb, size_t n)
{
	ei_buf *owned = owner(lb);
	if (ei_buf_grow(&lb->b, n) < 0) {
		if (n > (size_t)-1 / 2 - lb->b.len)
			luaL_error(lb->L, "%s", lb->too_large);
		luaL_error(lb->L, "not enough memory");
	}
	*owned = lb->b;
	return lb->b.p + lb->b.len;
}

void ei_luabuf_free(ei_luabuf *lb)
{
	if (lua_type(lb->L, lb->slot) == LUA_TUSERDATA)
		ei_buf_free(lua_touserdata(lb->L, lb->slot));
	lb->b = (ei_buf){ 0 };
}

void ei_luabuf_result(ei_luabuf *lb)
{
	lua_pushlstring(lb->L, lb->b.p, lb->b.len);
	ei_luabuf_free(lb);
	lua_replace(lb->L, lb->slot);
}
