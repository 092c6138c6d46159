/* Schema and operation descriptors (generated into src/gen/spec.c by tools/gen-spec.lua)
 * and the one validator that walks them. */
#ifndef EI_SCHEMA_H
#define EI_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

enum ei_kind {
	EI_K_ANY, EI_K_BOOLEAN, EI_K_INTEGER, EI_K_NUMBER, EI_K_STRING,
	EI_K_ARRAY, EI_K_OBJECT, EI_K_UNION, EI_K_COUNT
};

/* "no index" in 16-bit index fields */
#define EI_NONE 0xFFFFu
/* Schema 0 accepts any JSON value; it is what encoding without a schema uses. */
#define EI_SCHEMA_ANY 0u

/* ei_schema.flags */
#define EI_S_NULLABLE 0x01
#define EI_S_ONEOF 0x02 /* declared oneOf, validated as anyOf (tools/gen-spec.lua) */
#define EI_S_BINARY 0x04 /* string of format binary: any bytes, unless written as JSON */

/* ei_prop.flags and ei_param.flags */
#define EI_P_REQUIRED 0x01
#define EI_P_DEPRECATED 0x02
#define EI_P_PATH 0x04 /* a path parameter; otherwise a query parameter */

/* ei_op.flags */
#define EI_OP_BODY_REQUIRED 0x01
#define EI_OP_BODY_JSON 0x02
#define EI_OP_DEPRECATED 0x04

enum ei_method { EI_GET, EI_POST, EI_PUT, EI_DELETE, EI_PATCH, EI_HEAD, EI_OPTIONS };

/* A string of the pool: its offset << 8 | its length; pool strings are NUL-terminated. */
typedef uint32_t ei_str;
#define EI_STR_OFF(s) ((size_t)((s) >> 8))
#define EI_STR_LEN(s) ((size_t)((s) & 0xFFu))

struct ei_schema {
	uint8_t kind, flags;
	/* object: props[first..+count], string: enums[first..+count] (none when count is 0),
	 * union: branches[first..+count], array: first is the items schema */
	uint16_t first, count;
	/* object: schema of keys not in props (EI_NONE: closed object);
	 * union: discs[extra] is the discriminator property (EI_NONE: none);
	 * integer, number, array: limits[extra] (EI_NONE: none) */
	uint16_t extra;
	uint16_t nreq; /* object: how many props are required */
};

struct ei_prop { ei_str name; uint16_t schema; uint8_t flags; };  /* sorted by name */
struct ei_branch { ei_str tag; uint16_t schema; };  /* tag: discriminator value */
struct ei_limits { double min, max; };  /* value, or item count for arrays */
struct ei_named { ei_str name; uint16_t schema; };  /* sorted by name */
struct ei_param { ei_str name; uint16_t schema; uint8_t flags; };  /* sorted by name */

struct ei_op {
	ei_str id, path, content_type, body_name;  /* body_name 0: inline or no body */
	uint16_t body;  /* schema of the request body, EI_NONE: no body */
	uint16_t params, nparams;
	uint8_t method, flags;
};

struct ei_spec {
	const char *pool;
	const struct ei_schema *schemas;
	uint32_t nschemas;
	const struct ei_prop *props;
	const ei_str *enums;
	const struct ei_branch *branches;
	const ei_str *discs;
	const struct ei_limits *limits;
	const struct ei_named *names;  /* sorted by name */
	uint32_t nnames;
	const struct ei_op *ops;  /* sorted by id */
	uint32_t nops;
	const struct ei_param *params;
};

extern const struct ei_spec ei_spec;

struct ei_buf;

#define EI_ERRLEN 512

/* Where a walk writes: an optional JSON output and an optional list of deprecated fields. */
struct ei_walk_opts {
	const char *root;     /* how messages name the value itself ("body", a schema name) */
	struct ei_buf *out;   /* NULL: validate only */
	int deprecated_slot;  /* stack slot holding nil or the table of deprecated paths; 0: none */
	int unknown_slot;     /* stack slot of the table listing fields that closed objects do not
	                       * name, which then pass through as plain JSON; 0: they are errors */
	char err[EI_ERRLEN];  /* "path: reason" on failure */
};

/* Validate the value at stack index idx against schema (EI_SCHEMA_ANY: any JSON value)
 * and append its JSON to opts->out. Returns 0, or -1 with opts->err set. Never raises
 * for bad values; raises only when Lua itself fails (memory). Keeps the stack balanced,
 * except that the deprecated table may be created in its slot. */
int ei_schema_walk(lua_State *L, int idx, unsigned schema, struct ei_walk_opts *opts);

/* Index of the named schema, or -1. */
int ei_schema_find(const char *name, size_t len);

/* Raise an argument error for an unknown schema or operation name, with a suggestion. */
int ei_schema_name_error(lua_State *L, int arg, const char *what, const char *name, int operations);

/* Did-you-mean: index of the best candidate among n strings for key, or -1.
 * Case and '_'/'-' are ignored first, then edit distance within a threshold. */
int ei_suggest(const char *key, size_t len, const char *(*candidate)(const void *ud, size_t i, size_t *len),
	const void *ud, size_t n);

#endif
