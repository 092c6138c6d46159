/* The validator (validate.h): the walk's entry point, its paths and messages, and the
 * walkers of scalars, strings and enums, unions, and values of any JSON type. Tables
 * are walked in walk_table.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "jsontext.h"
#include "jsonwrite.h"
#include "mime.h"
#include "suggest.h"
#include "validate.h"
#include "walk.h"

#define ENUM_ALL 8         /* enums this long are listed whole in messages ... */
#define ENUM_SHOWN 6       /* ... longer ones show this many values and "…" */

static unsigned lookup_enum(struct walk *w, const struct ei_schema *s, const char *str, size_t len)
{
	struct key_hit *h = key_hit(w, s, str);
	if (h->key != str || h->schema != s) {
		const ei_str *e = &ei_spec.enums[s->first];
		unsigned i = 0;
		while (i < s->count && !(EI_STR_LEN(e[i]) == len && memcmp(EI_POOL(e[i]), str, len) == 0))
			i++;
		h->key = str;
		h->schema = s;
		h->found = i < s->count ? i + 1 : 0;
	}
	return h->found;
}
static void format_path(const struct walk *w, struct ei_msg *b)
{
	if (w->depth == 0 || !w->path[1].key)
		ei_msg_str(b, w->o->root);
	for (int i = 1; i <= w->depth; i++) {
		const struct seg *g = &w->path[i];
		if (!g->key) {
			ei_msg_printf(b, "[%lld]", (long long)g->index);
		} else if (ei_is_ident(g->key, g->len)) {
			if (i > 1)
				ei_msg_add(b, ".", 1);
			ei_msg_add(b, g->key, g->len);
		} else {
			ei_msg_add(b, "[", 1);
			ei_msg_quote(b, g->key, g->len);
			ei_msg_add(b, "]", 1);
		}
	}
}

struct ei_msg walk_begin_error(struct walk *w)
{
	struct ei_msg b = { w->o->err, 0, EI_ERRLEN };
	b.p[0] = '\0';
	format_path(w, &b);
	ei_msg_add(&b, ": ", 2);
	return b;
}

int walk_fail(struct walk *w, const char *fmt, ...)
{
	struct ei_msg b = walk_begin_error(w);
	va_list ap;
	va_start(ap, fmt);
	ei_msg_vprintf(&b, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_number(struct walk *w, const char *fmt, double d)
{
	char tmp[32];
	ei_json_format_number(d, tmp);
	return walk_fail(w, fmt, tmp);
}

static const char *got(lua_State *L, int idx)
{
	return ei_json_isnull(L, idx) ? "null" : luaL_typename(L, idx);
}

static void describe(struct ei_msg *b, const struct ei_schema *s)
{
	if (s->kind != EI_K_UNION) {
		ei_msg_str(b, ei_kind_names[s->kind]);
		return;
	}
	unsigned seen = 0;
	for (unsigned i = 0; i < s->count; i++) {
		unsigned k = ei_spec.schemas[ei_spec.branches[s->first + i].schema].kind;
		if (seen & 1u << k)
			continue;
		ei_msg_str(b, seen ? " or " : "");
		ei_msg_str(b, ei_kind_names[k]);
		seen |= 1u << k;
	}
}

int walk_type_error(struct walk *w, int idx, const struct ei_schema *s)
{
	struct ei_msg b = walk_begin_error(w);
	ei_msg_str(&b, "expected ");
	describe(&b, s);
	ei_msg_printf(&b, ", got %s", got(w->L, idx));
	return -1;
}

void walk_note_path(struct walk *w, int slot, const char *hint)
{
	lua_State *L = w->L;
	char buf[EI_ERRLEN];
	struct ei_msg b = { buf, 0, sizeof buf };
	if (!w->collect || !lua_checkstack(L, 2))
		return;
	buf[0] = '\0';
	format_path(w, &b);
	if (lua_type(L, slot) != LUA_TTABLE) {
		lua_newtable(L);
		lua_replace(L, slot);
	}
	lua_pushlstring(L, buf, b.n);
	lua_rawseti(L, slot, (lua_Integer)lua_rawlen(L, slot) + 1);
	if (hint) {
		lua_pushlstring(L, buf, b.n);
		lua_pushstring(L, hint);
		lua_rawset(L, slot);
	}
}

void walk_note_deprecated(struct walk *w)
{
	walk_note_path(w, w->o->deprecated_slot, NULL);
}

int walk_outside_limits(struct walk *w, const struct ei_schema *s, double v, const char *what)
{
	const struct ei_limits *l = &ei_spec.limits[s->extra];
	char a[32], m[32];
	if (v >= l->min && v <= l->max)
		return 0;
	ei_json_format_number(v, a);
	ei_json_format_number(v < l->min ? l->min : l->max, m);
	return walk_fail(w, "%s%s is %s than %s", what, a, v < l->min ? "less" : "greater", m);
}

/* ---- scalars */

static int walk_boolean(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	if (t != LUA_TBOOLEAN)
		return walk_type_error(w, idx, s);
	if (lua_toboolean(w->L, idx))
		walk_out_s(w, "true", 4);
	else
		walk_out_s(w, "false", 5);
	return 0;
}

static int walk_integer(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	int exact;
	if (t != LUA_TNUMBER)
		return walk_type_error(w, idx, s);
	lua_Integer v = lua_tointegerx(L, idx, &exact);  /* also takes floats such as 3.0 */
	if (!exact)
		return fail_number(w, "expected integer, got %s", lua_tonumber(L, idx));
	if (walk_check_limits(w, s, (double)v, ""))
		return -1;
	if (w->out)
		ei_json_write_integer(w->out, v);
	return 0;
}

static int walk_number(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	int exact;
	if (t != LUA_TNUMBER)
		return walk_type_error(w, idx, s);
	lua_Integer v = lua_tointegerx(L, idx, &exact);
	if (exact) {
		if (walk_check_limits(w, s, (double)v, ""))
			return -1;
		if (w->out)
			ei_json_write_integer(w->out, v);
		return 0;
	}
	double d = lua_tonumber(L, idx);
	if (!isfinite(d))
		return fail_number(w, "expected finite number, got %s", d);
	if (walk_check_limits(w, s, d, ""))
		return -1;
	if (w->out)
		ei_json_write_number(w->out, d);
	return 0;
}

static int enum_error(struct walk *w, const struct ei_schema *s, const char *str, size_t len)
{
	const ei_str *e = &ei_spec.enums[s->first];
	unsigned shown = s->count <= ENUM_ALL ? s->count : ENUM_SHOWN;
	struct ei_msg b = walk_begin_error(w);
	ei_msg_quote(&b, str, len);
	ei_msg_str(&b, " is not one of ");
	for (unsigned i = 0; i < shown; i++) {
		ei_msg_str(&b, i ? ", " : "");
		ei_msg_add(&b, EI_POOL(e[i]), EI_STR_LEN(e[i]));
	}
	if (shown < s->count)
		ei_msg_str(&b, ", …");
	int i = ei_suggest_record(str, len, e, s->count, sizeof *e);
	if (i >= 0)
		ei_msg_printf(&b, " (did you mean \"%s\"?)", EI_POOL(e[i]));
	return -1;
}

static int walk_string(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	size_t len;
	if (t == LUA_TTABLE && (s->flags & EI_S_BINARY) && !w->out && walk_has_mt(w->L, idx, w->file_mt))
		return 0; /* a file (core.file) where a multipart body wants binary data */
	if (t != LUA_TSTRING)
		return walk_type_error(w, idx, s);
	const char *str = lua_tolstring(w->L, idx, &len);
	if (s->count && lookup_enum(w, s, str, len)) {
		/* one of the enum's values: valid UTF-8, nothing to escape (the generator checks) */
		if (w->out) {
			char *p = ei_luabuf_reserve(w->out, len + 2);
			p[0] = '"';
			memcpy(p + 1, str, len);
			p[len + 1] = '"';
			w->out->b.len += len + 2;
		}
		return 0;
	}
	size_t bad = ei_utf8_check(str, len);
	if (bad < len && (w->out || !(s->flags & EI_S_BINARY)))
		return walk_fail(w, "invalid UTF-8 at byte %zu", bad + 1);
	if (s->count)
		return enum_error(w, s, str, len);
	if (w->out)
		ei_json_write_string(w->out, str, len);
	return 0;
}
/* ---- unions */

/* The branch the discriminator names: its index, -1 when the value does not say,
 * -2 (error set) when it names no branch. */
static int discriminated(struct walk *w, int idx, const struct ei_schema *s)
{
	lua_State *L = w->L;
	const struct ei_branch *br = &ei_spec.branches[s->first];
	ei_str d = ei_spec.discs[s->extra];
	size_t len;
	if (lua_type(L, idx) != LUA_TTABLE || !lua_checkstack(L, 2))
		return -1;
	lua_pushlstring(L, EI_POOL(d), EI_STR_LEN(d));
	if (lua_rawget(L, idx) != LUA_TSTRING) {
		lua_pop(L, 1);
		return -1;
	}
	const char *tag = lua_tolstring(L, -1, &len);
	for (unsigned i = 0; i < s->count; i++) {
		if (EI_STR_LEN(br[i].tag) == len && memcmp(EI_POOL(br[i].tag), tag, len) == 0) {
			lua_pop(L, 1);
			return (int)i;
		}
	}
	if (walk_push_seg(w, EI_POOL(d), EI_STR_LEN(d), 0) == 0) {
		struct ei_msg b = walk_begin_error(w);
		ei_msg_quote(&b, tag, len);
		ei_msg_str(&b, " is not one of ");
		for (unsigned i = 0; i < s->count; i++) {
			ei_msg_str(&b, i ? ", " : "");
			ei_msg_str(&b, EI_POOL(br[i].tag));
		}
		int i = ei_suggest_record(tag, len, br, s->count, sizeof *br);
		if (i >= 0)
			ei_msg_printf(&b, " (did you mean \"%s\"?)", EI_POOL(br[i].tag));
	}
	lua_pop(L, 1);
	return -2;
}

static int branch_score(lua_State *L, int idx, const struct ei_schema *s)
{
	static const int lua_types[EI_K_COUNT] = {
		LUA_TNONE, LUA_TBOOLEAN, LUA_TNUMBER, LUA_TNUMBER, LUA_TSTRING, LUA_TTABLE, LUA_TTABLE, LUA_TNONE,
	};
	int t = lua_type(L, idx), score = 1;
	if (lua_types[s->kind] != LUA_TNONE && lua_types[s->kind] != t)
		return 0;
	if (s->kind != EI_K_OBJECT)
		return score;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING) {
			size_t len;
			const char *k = lua_tolstring(L, -1, &len);
			score += ei_spec_find_prop(s, k, len) != NULL;
		}
	}
	return score;
}

static int walk_union(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	(void)t;
	const struct ei_branch *br = &ei_spec.branches[s->first];
	int depth = w->depth, pick = -1;
	if (ei_json_isnull(w->L, idx) && (s->flags & EI_S_NULLABLE)) {
		walk_out_s(w, "null", 4);
		return 0;
	}
	if (s->extra != EI_NONE && (pick = discriminated(w, idx, s)) == -2)
		return -1;
	if (pick < 0) {
		/* Probed strictly: a branch that names every field wins over one that would
		 * only take the value with unknown fields passed through. */
		ei_luabuf *out = w->out;
		int collect = w->collect, pass_unknown = w->pass_unknown;
		w->out = NULL;
		w->collect = 0;
		w->pass_unknown = 0;
		for (unsigned i = 0; i < s->count && pick < 0; i++) {
			if (walk_value(w, idx, br[i].schema) == 0)
				pick = (int)i;
			w->depth = depth;
		}
		w->out = out;
		w->collect = collect;
		w->pass_unknown = pass_unknown;
	}
	if (pick < 0) {
		/* no branch takes the value: explain with the branch closest to it */
		int best = 0;
		for (unsigned i = 0; i < s->count; i++) {
			int score = branch_score(w->L, idx, &ei_spec.schemas[br[i].schema]);
			if (score > best)
				best = score, pick = (int)i;
		}
		if (pick < 0)
			return walk_type_error(w, idx, s);
	}
	return walk_value(w, idx, br[pick].schema);
}

/* ---- any value (and encoding without a schema) */

static const struct ei_schema plain[EI_K_COUNT] = {
	[EI_K_BOOLEAN] = { EI_K_BOOLEAN, 0, 0, 0, EI_NONE, 0 },
	[EI_K_NUMBER] = { EI_K_NUMBER, 0, 0, 0, EI_NONE, 0 },
	[EI_K_STRING] = { EI_K_STRING, 0, 0, 0, EI_NONE, 0 },
	[EI_K_ARRAY] = { EI_K_ARRAY, 0, EI_SCHEMA_ANY, 0, EI_NONE, 0 },
	[EI_K_OBJECT] = { EI_K_OBJECT, 0, 0, 0, EI_SCHEMA_ANY, 0 },
};

static int walk_any_table(struct walk *w, int idx)
{
	lua_State *L = w->L;
	if (lua_getmetatable(L, idx)) {
		const void *mt = lua_topointer(L, -1);
		lua_pop(L, 1);
		if (mt == w->array_mt)
			return walk_array(w, idx, LUA_TTABLE, &plain[EI_K_ARRAY]);
		if (mt == w->object_mt)
			return walk_object(w, idx, LUA_TTABLE, &plain[EI_K_OBJECT]);
	}
	lua_Integer n = walk_sequence_length(w, idx, 0);
	if (n > 0)
		return walk_elements(w, idx, n, EI_SCHEMA_ANY);
	return walk_object(w, idx, LUA_TTABLE, &plain[EI_K_OBJECT]);
}

static int walk_any(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	(void)s;
	switch (t) {
	case LUA_TBOOLEAN: return walk_boolean(w, idx, t, &plain[EI_K_BOOLEAN]);
	case LUA_TNUMBER: return walk_number(w, idx, t, &plain[EI_K_NUMBER]);
	case LUA_TSTRING: return walk_string(w, idx, t, &plain[EI_K_STRING]);
	case LUA_TTABLE: return walk_any_table(w, idx);
	default: return walk_fail(w, "expected a JSON value, got %s", got(w->L, idx));
	}
}

const walker ei_walkers[EI_K_COUNT] = {
	walk_any, walk_boolean, walk_integer, walk_number, walk_string, walk_array, walk_object, walk_union,
};

int ei_validate(lua_State *L, int idx, unsigned schema, struct ei_walk_opts *opts)
{
	struct walk w;
	w.L = L;
	w.o = opts;
	w.out = opts->out;
	w.collect = opts->deprecated_slot != 0;
	w.pass_unknown = opts->unknown_slot != 0;
	w.depth = 0;
	w.path[0].key = NULL;
	w.path[0].table = NULL;
	memset(w.keys, 0, sizeof w.keys);
	opts->err[0] = '\0';
	idx = lua_absindex(L, idx);
	if (!lua_checkstack(L, 8))
		return walk_fail(&w, "out of stack space");
	ei_json_markers(L, &w.array_mt, &w.object_mt);
	luaL_getmetatable(L, EI_FILE_MT);
	w.file_mt = lua_topointer(L, -1);
	lua_pop(L, 1);
	int top = lua_gettop(L);
	int rc = walk_value(&w, idx, schema);
	lua_settop(L, top);
	return rc;
}

int ei_json_encode(lua_State *L, int idx, unsigned schema, const char *root)
{
	char small[2048];
	ei_luabuf b;
	struct ei_walk_opts o;  /* fields set one by one: err need not be zeroed */
	o.root = root;
	o.out = &b;
	o.deprecated_slot = 0;
	o.unknown_slot = 0;
	idx = lua_absindex(L, idx);
	ei_luabuf_init(&b, L, small, sizeof small, "JSON text too large");
	if (ei_validate(L, idx, schema, &o) != 0) {
		ei_luabuf_free(&b);
		lua_pushstring(L, o.err);
		lua_replace(L, b.slot);
		return 0;
	}
	ei_luabuf_result(&b);
	return 1;
}
