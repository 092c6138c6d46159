/* The walk's state, shared by the files of the validator: validate.c (scalars, unions,
 * paths and messages, the entry point) and walk_table.c (arrays and objects). Not for
 * other files: they call ei_validate (validate.h). */
#ifndef EI_WALK_H
#define EI_WALK_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

#include "jsonvalue.h"
#include "lookup.h"
#include "luabuf.h"
#include "message.h"

struct ei_walk_opts;

#define MAX_DEPTH 64       /* nested tables */
#define KEY_CACHE 64       /* (schema, key) lookups remembered during one walk */

struct seg {
	const char *key;     /* NULL: an array element */
	size_t len;
	lua_Integer index;
	const void *table;   /* the table at this level, for cycle detection */
};

/* A lookup of this walk: a key among an object schema's properties, or a string
 * among a string schema's enum values. The key is the address of a Lua string's
 * bytes: short strings are interned, so the fields (and enum values, such as layer
 * types) of every element of an array of objects are the same few strings, and every
 * string met stays alive, in its table, until the walk ends, so an address cannot
 * come back as another string meanwhile. */
struct key_hit {
	const char *key;
	const struct ei_schema *schema;
	unsigned found;  /* 1 + index among the properties or enum values; 0: not there */
};

struct walk {
	lua_State *L;
	struct ei_walk_opts *o;
	ei_luabuf *out;  /* NULL while validating only or probing a union branch */
	int collect;         /* record deprecated fields */
	int pass_unknown;    /* unknown fields of closed objects pass (recorded), else fail */
	int depth;
	const void *array_mt, *object_mt, *file_mt;
	struct key_hit keys[KEY_CACHE];
	struct seg path[MAX_DEPTH + 1];
};

typedef int (*walker)(struct walk *, int idx, int type, const struct ei_schema *);

static inline struct key_hit *key_hit(struct walk *w, const struct ei_schema *s, const char *key)
{
	return &w->keys[((uintptr_t)key >> 4 ^ (uintptr_t)s >> 2) % KEY_CACHE];
}

/* 1 + the index of the key among the object schema's properties, or 0. */
static inline unsigned lookup_prop(struct walk *w, const struct ei_schema *s, const char *key, size_t len)
{
	struct key_hit *h = key_hit(w, s, key);
	if (h->key != key || h->schema != s) {
		const struct ei_prop *p = ei_spec_find_prop(s, key, len);
		h->key = key;
		h->schema = s;
		h->found = p ? (unsigned)(p - &ei_spec.props[s->first]) + 1 : 0;
	}
	return h->found;
}

/* The walker of each kind of schema (validate.c). */
extern const walker ei_walkers[EI_K_COUNT];

/* Tables: arrays and objects (walk_table.c). */
int walk_array(struct walk *w, int idx, int t, const struct ei_schema *s);
int walk_object(struct walk *w, int idx, int t, const struct ei_schema *s);
/* The n elements of a sequence, each against the items schema. */
int walk_elements(struct walk *w, int idx, lua_Integer n, unsigned items);
/* The length of the table at idx if its keys are exactly 1..n; otherwise -1, and an
 * error when report is set. */
lua_Integer walk_sequence_length(struct walk *w, int idx, int report);

/* Paths and messages (validate.c). An error sets "path: reason" and returns -1. */
struct ei_msg walk_begin_error(struct walk *w);
int walk_fail(struct walk *w, const char *fmt, ...);
int walk_type_error(struct walk *w, int idx, const struct ei_schema *s);
/* Append the path of the current field to the list in the stack slot; with a hint,
 * also list[path] = hint. */
void walk_note_path(struct walk *w, int slot, const char *hint);
/* The error for a value or item count outside the schema's limits, if it is. */
int walk_outside_limits(struct walk *w, const struct ei_schema *s, double v, const char *what);

/* The helpers of every field and table, inline: the hot path of the walk. */

/* Refuse a value or item count outside the schema's limits. */
static inline int walk_check_limits(struct walk *w, const struct ei_schema *s, double v, const char *what)
{
	return s->extra == EI_NONE ? 0 : walk_outside_limits(w, s, v, what);
}

/* Enter the field or element: a path segment (an error past MAX_DEPTH). */
static inline int walk_push_seg(struct walk *w, const char *key, size_t len, lua_Integer index)
{
	if (w->depth == MAX_DEPTH)
		return walk_fail(w, "nested deeper than %d levels", MAX_DEPTH);
	struct seg *g = &w->path[++w->depth];
	g->key = key;
	g->len = len;
	g->index = index;
	return 0;
}

/* Enter a table: refuses cycles, makes stack room. */
static inline int walk_enter_table(struct walk *w, int idx)
{
	const void *t = lua_topointer(w->L, idx);
	for (int i = 0; i < w->depth; i++)
		if (w->path[i].table == t)
			return walk_fail(w, "table contains itself (cycle)");
	w->path[w->depth].table = t;
	if (!lua_checkstack(w->L, 8))
		return walk_fail(w, "too deeply nested or too large");
	return 0;
}

static inline int walk_has_mt(lua_State *L, int idx, const void *mt)
{
	if (!lua_getmetatable(L, idx))
		return 0;
	int r = lua_topointer(L, -1) == mt;
	lua_pop(L, 1);
	return r;
}

/* Note the current field as deprecated. */
void walk_note_deprecated(struct walk *w);

static inline void walk_out_s(struct walk *w, const char *s, size_t n)
{
	if (w->out)
		ei_luabuf_add(w->out, s, n);
}

static inline void walk_out_c(struct walk *w, char c)
{
	if (w->out)
		ei_luabuf_putc(w->out, c);
}

static inline int walk_value(struct walk *w, int idx, unsigned schema)
{
	const struct ei_schema *s = &ei_spec.schemas[schema];
	int t = lua_type(w->L, idx);
	if (t == LUA_TLIGHTUSERDATA && s->kind != EI_K_UNION && ei_json_isnull(w->L, idx)) {
		if (s->kind == EI_K_ANY || (s->flags & EI_S_NULLABLE)) {
			walk_out_s(w, "null", 4);
			return 0;
		}
		return walk_type_error(w, idx, s);
	}
	return ei_walkers[s->kind](w, idx, t, s);
}

#endif
