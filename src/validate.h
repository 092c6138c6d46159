/* The validator: one walk over a Lua value guided by a schema of the generated
 * descriptors (spec.h). The same walk writes the value's JSON text and lists the
 * deprecated fields and the unknown ones it meets. */
#ifndef EI_VALIDATE_H
#define EI_VALIDATE_H

#include <lua.h>

#include "luabuf.h"

#define EI_ERRLEN 512

/* Where a walk writes: an optional JSON output and optional lists of fields. */
struct ei_walk_opts {
	const char *root;     /* how messages name the value itself ("body", a schema name) */
	ei_luabuf *out;       /* NULL: validate only */
	int deprecated_slot;  /* stack slot holding nil or the table of deprecated paths; 0: none */
	int unknown_slot;     /* stack slot of the table listing fields that closed objects do not
	                       * name, which then pass through as plain JSON; 0: they are errors */
	char err[EI_ERRLEN];  /* "path: reason" on failure */
};

/* Validate the value at stack index idx against schema (EI_SCHEMA_ANY: any JSON value)
 * and append its JSON to opts->out. Returns 0, or -1 with opts->err set. Never raises
 * for bad values; raises only when Lua itself fails (memory). Keeps the stack balanced,
 * except that the deprecated table may be created in its slot. */
int ei_validate(lua_State *L, int idx, unsigned schema, struct ei_walk_opts *opts);

/* Push the JSON text of the value at idx, checked against schema (EI_SCHEMA_ANY, or
 * an index from ei_spec_find_schema); root names the value itself in messages. Returns 1,
 * or 0 with "path: reason" pushed instead. Without a schema: sequences and tables
 * marked by core.array are arrays, other tables (the empty one too) objects. */
int ei_json_encode(lua_State *L, int idx, unsigned schema, const char *root);

#endif
