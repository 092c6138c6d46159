/* The format of the schema and operation descriptors that tools/gen-spec.lua generates
 * into src/gen/spec.c from the Studio API's OpenAPI documents: plain tables of records
 * indexing one string pool, walked by the validator and the operation builder. */
#ifndef EI_SPEC_H
#define EI_SPEC_H

#include <stddef.h>
#include <stdint.h>

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
/* The bytes of a pool string. */
#define EI_POOL(s) (ei_spec.pool + EI_STR_OFF(s))

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

#endif
