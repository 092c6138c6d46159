/* The Lua binding of the validator and the operations (schema.c); core.encode
 * (json.c) shares its error for unknown names. */
#ifndef EI_SCHEMA_H
#define EI_SCHEMA_H

#include <lua.h>

/* Raise an argument error for an unknown schema or operation name, with a suggestion. */
int ei_schema_name_error(lua_State *L, int arg, const char *what, const char *name, int operations);

#endif
