/* The walk of Lua tables as JSON (part of the validator, walk.h): arrays, walked in
 * one pass when their keys come in order, and objects, whose keys are written in sorted
 * order so that output and messages never depend on hash order; the usual closed
 * object takes a path that needs no sorting. */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "jsontext.h"
#include "jsonwrite.h"
#include "suggest.h"
#include "validate.h"
#include "walk.h"

#define SMALL_ENTRIES 24   /* object keys sorted on the C stack before spilling */

/* ---- arrays */

lua_Integer walk_sequence_length(struct walk *w, int idx, int report)
{
	lua_State *L = w->L;
	lua_Integer count = 0, max = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (k < 1) {
			if (report) {
				struct ei_msg b = walk_begin_error(w);
				ei_msg_str(&b, "expected array, got table with key ");
				ei_msg_key(&b, L, -1);
			}
			lua_pop(L, 1);
			return -1;
		}
		if (k > max)
			max = k;
		count++;
	}
	if (count == max)
		return max;
	if (report) {
		lua_Integer i = 1;
		while (lua_rawgeti(L, idx, i) != LUA_TNIL)
			lua_pop(L, 1), i++;
		lua_pop(L, 1);
		walk_fail(w, "expected array, got table with nil at index %lld", (long long)i);
	}
	return -1;
}

int walk_elements(struct walk *w, int idx, lua_Integer n, unsigned items)
{
	lua_State *L = w->L;
	if (walk_enter_table(w, idx))
		return -1;
	walk_out_c(w, '[');
	for (lua_Integer i = 1; i <= n; i++) {
		if (i > 1)
			walk_out_c(w, ',');
		if (walk_push_seg(w, NULL, 0, i))
			return -1;
		lua_rawgeti(L, idx, i);
		int rc = walk_value(w, lua_gettop(L), items);
		lua_pop(L, 1);
		if (rc)
			return -1;
		w->depth--;
	}
	walk_out_c(w, ']');
	return 0;
}

/* Drop what a walk of the deprecated fields recorded after the first `keep`. */
static void forget_deprecated(struct walk *w, lua_Integer keep)
{
	int slot = w->o->deprecated_slot;
	if (!w->collect || lua_type(w->L, slot) != LUA_TTABLE)
		return;
	for (lua_Integer i = (lua_Integer)lua_rawlen(w->L, slot); i > keep; i--) {
		lua_pushnil(w->L);
		lua_rawseti(w->L, slot, i);
	}
}

/* One pass over the usual array, whose keys lua_next gives in the order 1, 2, 3...:
 * each value is walked as it comes, instead of a pass to check the keys and a second
 * one to fetch the values. 0: done; -1: error set, the one the two passes would have
 * given; 1: the keys came in another order, and everything is as before the call. */
static int walk_in_order(struct walk *w, int idx, unsigned items)
{
	lua_State *L = w->L;
	int depth = w->depth, top = lua_gettop(L);
	size_t mark = w->out ? w->out->b.len : 0;
	int slot = w->o->deprecated_slot;
	lua_Integer noted = w->collect && lua_type(L, slot) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, slot) : 0;
	lua_Integer i = 0;
	int rc = walk_enter_table(w, idx);
	if (rc == 0) {
		walk_out_c(w, '[');
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			if (!lua_isinteger(L, top + 1) || lua_tointeger(L, top + 1) != ++i) {
				lua_settop(L, top);
				if (w->out)
					w->out->b.len = mark;
				forget_deprecated(w, noted);
				w->depth = depth;
				return 1;
			}
			if (i > 1)
				walk_out_c(w, ',');
			if ((rc = walk_push_seg(w, NULL, 0, i)) != 0 || (rc = walk_value(w, top + 2, items)) != 0)
				break;
			lua_settop(L, top + 1);
			w->depth--;
		}
	}
	lua_settop(L, top);
	if (rc == 0) {
		walk_out_c(w, ']');
		return 0;
	}
	/* The two passes would first have complained about the keys, if they are wrong
	 * further on; the error of the element stands otherwise. */
	w->depth = depth;
	walk_sequence_length(w, idx, 1);
	return -1;
}

int walk_array(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	if (t != LUA_TTABLE)
		return walk_type_error(w, idx, s);
	if (walk_has_mt(L, idx, w->object_mt))
		return walk_fail(w, "expected array, got object");
	if (s->extra == EI_NONE) { /* no item count to check before the items */
		int rc = walk_in_order(w, idx, s->first);
		if (rc <= 0)
			return rc;
	}
	lua_Integer n = walk_sequence_length(w, idx, 1);
	if (n < 0 || walk_check_limits(w, s, (double)n, "item count "))
		return -1;
	return walk_elements(w, idx, n, s->first);
}

/* ---- objects */

struct entry {
	const char *key;
	size_t len;
	int slot;          /* stack slot of the value; the key is just above it */
	uint16_t schema;   /* EI_NONE: unknown field */
	uint16_t rank;     /* index among the schema's properties (sorted by name); EI_NONE: not one */
	uint8_t flags;
};

/* entry.flags: a property of the schema, whose name needs no escaping (the generator
 * checks), besides the EI_P_* flags of the property */
#define KNOWN 0x80
/* entry.flags: a key the closed object does not name, passed through as plain JSON */
#define UNKNOWN 0x40

/* Copy a short string: whole words and two overlapping ends. A plain memcpy of a
 * length the compiler knows is below 256 becomes `rep movsq`, whose start-up costs
 * more than copying a field name. */
static inline void copy_short(char *dst, const char *src, size_t n)
{
	for (; n >= 8; n -= 8, dst += 8, src += 8)
		memcpy(dst, src, 8);
	if (n >= 4) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n >= 2) {
		memcpy(dst, src, 2);
		memcpy(dst + n - 2, src + n - 2, 2);
	} else if (n) {
		dst[0] = src[0];
	}
}

/* `,"name":` (the comma unless first) for a property name, which needs no escaping. */
static inline void write_name(ei_luabuf *b, const char *name, size_t len, int comma)
{
	char *p = ei_luabuf_reserve(b, len + 4);
	size_t k = 0;
	if (comma)
		p[k++] = ',';
	p[k++] = '"';
	copy_short(p + k, name, len);
	k += len;
	p[k++] = '"';
	p[k++] = ':';
	b->b.len += k;
}

static void write_key(ei_luabuf *b, const struct entry *e, int comma)
{
	if (e->flags & KNOWN) {
		write_name(b, e->key, e->len, comma);
		return;
	}
	if (comma)
		ei_luabuf_putc(b, ',');
	ei_json_write_string(b, e->key, e->len);
	ei_luabuf_putc(b, ':');
}

struct entries {
	struct entry *e;
	size_t n, cap;
	ei_luabuf room;  /* where e is: small, then the heap, owned by a stack slot */
	struct entry small[SMALL_ENTRIES];
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return ei_cmp_bytes(x->key, x->len, y->key, y->len);
}

/* The same order: properties are sorted by name, so two of them compare by rank. */
static int entry_before(const struct entry *x, const struct entry *y)
{
	if (x->rank != EI_NONE && y->rank != EI_NONE)
		return x->rank < y->rank;
	return ei_cmp_bytes(x->key, x->len, y->key, y->len) < 0;
}

static void sort_entries(struct entries *E)
{
	if (E->n > 16) {
		qsort(E->e, E->n, sizeof *E->e, entry_cmp);
		return;
	}
	for (size_t i = 1; i < E->n; i++) {
		struct entry t = E->e[i];
		size_t j = i;
		for (; j > 0 && entry_before(&t, &E->e[j - 1]); j--)
			E->e[j] = E->e[j - 1];
		E->e[j] = t;
	}
}

static void grow_entries(struct entries *E)
{
	E->room.b.len = E->n * sizeof *E->e;
	ei_luabuf_grow(&E->room, sizeof *E->e);
	E->e = (struct entry *)(void *)E->room.b.p;
	E->cap = E->room.b.cap / sizeof *E->e;
}

/* Gather the table's pairs, keeping each key and value on the stack so they can be
 * written in sorted order: output and error messages do not depend on hash order. */
static int collect(struct walk *w, int idx, const struct ei_schema *s, struct entries *E)
{
	lua_State *L = w->L;
	int slot = lua_gettop(L) + 2;  /* of the first value: keys and values take turns */
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			struct ei_msg b = walk_begin_error(w);
			ei_msg_str(&b, "unexpected key ");
			ei_msg_key(&b, L, -2);
			ei_msg_str(&b, " (object keys must be strings)");
			lua_pop(L, 2);
			return -1;
		}
		if (E->n % 8 == 0 && !lua_checkstack(L, 20)) {
			lua_pop(L, 2);
			return walk_fail(w, "table too large");
		}
		if (E->n == E->cap)
			grow_entries(E);
		struct entry *e = &E->e[E->n++];
		e->key = lua_tolstring(L, -2, &e->len);
		e->slot = slot;
		slot += 2;
		lua_pushvalue(L, -2);
		unsigned found = lookup_prop(w, s, e->key, e->len);
		if (found) {
			const struct ei_prop *p = &ei_spec.props[s->first + found - 1];
			e->schema = p->schema;
			e->flags = p->flags | KNOWN;
			e->rank = (uint16_t)(found - 1);
		} else {
			e->schema = s->extra;
			e->flags = 0;
			e->rank = EI_NONE;
			if (e->schema == EI_NONE && w->pass_unknown) {
				e->schema = EI_SCHEMA_ANY;
				e->flags = UNKNOWN;
			}
		}
	}
	return 0;
}

static int unknown_field(struct walk *w, const struct ei_schema *s, const struct entry *e)
{
	const struct ei_prop *props = &ei_spec.props[s->first];
	struct ei_msg b = walk_begin_error(w);
	ei_msg_str(&b, "unknown field");
	int i = ei_suggest_record(e->key, e->len, props, s->count, sizeof *props);
	if (i >= 0)
		ei_msg_printf(&b, " (did you mean \"%s\"?)", EI_POOL(props[i].name));
	return -1;
}

/* A field passed through: its path, and the property it may have meant. */
static void note_unknown(struct walk *w, const struct ei_schema *s, const struct entry *e)
{
	const struct ei_prop *props = &ei_spec.props[s->first];
	int i = ei_suggest_record(e->key, e->len, props, s->count, sizeof *props);
	walk_note_path(w, w->o->unknown_slot, i >= 0 ? EI_POOL(props[i].name) : NULL);
}

static int walk_entries(struct walk *w, const struct ei_schema *s, const struct entries *E)
{
	walk_out_c(w, '{');
	for (size_t i = 0; i < E->n; i++) {
		const struct entry *e = &E->e[i];
		if (walk_push_seg(w, e->key, e->len, 0))
			return -1;
		if (e->schema == EI_NONE)
			return unknown_field(w, s, e);
		if (!(e->flags & KNOWN)) {
			size_t bad = ei_utf8_check(e->key, e->len);
			if (bad < e->len)
				return walk_fail(w, "invalid UTF-8 at byte %zu of the key", bad + 1);
		}
		if (e->flags & EI_P_DEPRECATED)
			walk_note_deprecated(w);
		if (e->flags & UNKNOWN)
			note_unknown(w, s, e);
		if (w->out)
			write_key(w->out, e, i > 0);
		if (walk_value(w, e->slot, e->schema))
			return -1;
		w->depth--;
	}
	walk_out_c(w, '}');
	return 0;
}

static int missing_field(struct walk *w, const struct ei_prop *p)
{
	struct ei_msg b = walk_begin_error(w);
	ei_msg_str(&b, "missing required field ");
	ei_msg_quote(&b, EI_POOL(p->name), EI_STR_LEN(p->name));
	return -1;
}

static int check_required(struct walk *w, const struct ei_schema *s, const struct entries *E)
{
	unsigned found = 0;
	if (!s->nreq)
		return 0;
	for (size_t i = 0; i < E->n; i++)
		found += E->e[i].flags & EI_P_REQUIRED;
	if (found == s->nreq)
		return 0;
	for (unsigned i = 0; i < s->count; i++) {
		const struct ei_prop *p = &ei_spec.props[s->first + i];
		struct entry key = { EI_POOL(p->name), EI_STR_LEN(p->name), 0, 0, 0, 0 };
		if ((p->flags & EI_P_REQUIRED) && !bsearch(&key, E->e, E->n, sizeof key, entry_cmp))
			return missing_field(w, p);
	}
	return 0;
}

/* The usual object: a closed schema of at most 64 properties, and a table whose keys
 * are all among them. Each value stays on the stack, found by the rank of its
 * property, so the properties come out in name order without sorting, and the walk
 * meets them in the same order as walk_entries would. 1: the table needs the general
 * path (a key that is not a string or not a property, or no stack left), which will
 * report it; the stack is as it was. */
static int walk_known(struct walk *w, int idx, const struct ei_schema *s)
{
	lua_State *L = w->L;
	const struct ei_prop *props = &ei_spec.props[s->first];
	int slots[64];
	uint64_t seen = 0;
	unsigned required = 0, n = 0;
	int top = lua_gettop(L), slot = top + 2, rc = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		size_t len = 0;
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &len) : NULL;
		unsigned found = key ? lookup_prop(w, s, key, len) : 0;
		if (!found || (n++ % 8 == 0 && !lua_checkstack(L, 20))) {
			lua_settop(L, top);
			return 1;
		}
		lua_pushvalue(L, -2);
		slots[found - 1] = slot;
		slot += 2;
		seen |= (uint64_t)1 << (found - 1);
		required += props[found - 1].flags & EI_P_REQUIRED;
	}
	walk_out_c(w, '{');
	for (uint64_t left = seen; left; left &= left - 1) {
		unsigned r = (unsigned)__builtin_ctzll(left);
		const struct ei_prop *p = &props[r];
		size_t len = EI_STR_LEN(p->name);
		if ((rc = walk_push_seg(w, EI_POOL(p->name), len, 0)) != 0)
			break;
		if (p->flags & EI_P_DEPRECATED)
			walk_note_deprecated(w);
		if (w->out)
			write_name(w->out, EI_POOL(p->name), len, left != seen);
		if ((rc = walk_value(w, slots[r], p->schema)) != 0)
			break;
		w->depth--;
	}
	lua_settop(L, top);
	if (rc)
		return -1;
	walk_out_c(w, '}');
	if (required == s->nreq)
		return 0;
	for (unsigned i = 0;; i++)
		if ((props[i].flags & EI_P_REQUIRED) && !(seen & (uint64_t)1 << i))
			return missing_field(w, &props[i]);
}

int walk_object(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	if (t != LUA_TTABLE)
		return walk_type_error(w, idx, s);
	if (walk_has_mt(L, idx, w->array_mt))
		return walk_fail(w, "expected object, got array");
	if (walk_enter_table(w, idx))
		return -1;
	if (s->extra == EI_NONE && s->count <= 64) {
		int rc = walk_known(w, idx, s);
		if (rc <= 0)
			return rc;
	}
	int top = lua_gettop(L);
	struct entries E;
	E.e = E.small;
	E.n = 0;
	E.cap = SMALL_ENTRIES;
	ei_luabuf_init(&E.room, L, E.small, sizeof E.small, "table too large");
	int rc = collect(w, idx, s, &E);
	if (rc == 0) {
		sort_entries(&E);
		rc = walk_entries(w, s, &E);
	}
	if (rc == 0)
		rc = check_required(w, s, &E);
	ei_luabuf_free(&E.room);
	lua_settop(L, top);
	return rc;
}
