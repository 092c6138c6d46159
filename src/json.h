/* JSON text -> Lua values: the decoder behind core.decode (json.c). */
#ifndef EI_JSON_H
#define EI_JSON_H

#include <stddef.h>

#include <lua.h>

/* Decode JSON text and push the Lua value: objects -> tables, arrays -> tables with the
 * shared array marker (jsonvalue.h), integral numbers of magnitude below 2^53 ->
 * integers, other numbers -> floats, null -> the sentinel. Returns 1; on malformed input
 * pushes a message instead and returns 0. Raises only when Lua itself fails (memory). */
int ei_json_decode(lua_State *L, const char *s, size_t len);

#endif
