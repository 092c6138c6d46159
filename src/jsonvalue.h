/* How Lua values stand for JSON: the null sentinel (a NULL light userdata, as in
 * lua-cjson) and the metatables marking a table as a JSON array (decoded arrays,
 * core.array) or a JSON object (core.object). Shared by the decoder, the encoder and
 * the validator. */
#ifndef EI_JSONVALUE_H
#define EI_JSONVALUE_H

#include <lua.h>

void ei_json_pushnull(lua_State *L);
int ei_json_isnull(lua_State *L, int idx);

enum ei_json_marker { EI_JSON_ARRAY, EI_JSON_OBJECT };

/* Create the marker metatables of this state (once, when the module opens). */
void ei_json_markers_open(lua_State *L);
/* Push the marker metatable. */
void ei_json_push_marker(lua_State *L, enum ei_json_marker which);
/* The two markers as lua_topointer values, for identity comparisons. */
void ei_json_markers(lua_State *L, const void **array_mt, const void **object_mt);

#endif
