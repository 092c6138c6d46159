/* The validator: one walk over a Lua value guided by the generated descriptors
 * (src/gen/spec.c). The same walk writes the JSON text and lists the deprecated fields
 * it meets. Also the operations: method, path, query and body from request arguments. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "json.h"
#include "mime.h"
#include "schema.h"

#define MAX_DEPTH 64       /* nested tables */
#define SMALL_ENTRIES 24   /* object keys sorted on the C stack before spilling */
#define QUOTE_MAX 40       /* bytes of a value quoted in a message */
#define ENUM_ALL 8         /* enums this long are listed whole in messages ... */
#define ENUM_SHOWN 6       /* ... longer ones show this many values and "…" */
#define SUGGEST_MAX 64     /* longest name considered for did-you-mean */
#define KEY_CACHE 64       /* (schema, key) lookups remembered during one walk */

#define POOL(s) (ei_spec.pool + EI_STR_OFF(s))

static const char *const kind_names[EI_K_COUNT] = {
	"any", "boolean", "integer", "number", "string", "array", "object", "union",
};

static const char *const method_names[] = {
	"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
};

/* ---------------------------------------------------------------- messages */

/* A NUL-terminated string builder that truncates instead of overflowing. */
struct sb { char *p; size_t n, size; };

static void sb_add(struct sb *b, const char *s, size_t n)
{
	size_t room = b->size - 1 - b->n;
	if (n > room)
		n = room;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_vprintf(struct sb *b, const char *fmt, va_list ap)
{
	int n = vsnprintf(b->p + b->n, b->size - b->n, fmt, ap);
	if (n > 0)
		b->n = (size_t)n < b->size - b->n ? b->n + (size_t)n : b->size - 1;
}

static void sb_printf(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(b, fmt, ap);
	va_end(ap);
}

/* Quote like %q; long values are cut (at a character boundary) and marked with "…". */
static void sb_quote(struct sb *b, const char *s, size_t n)
{
	size_t cut = n > QUOTE_MAX ? QUOTE_MAX : n;
	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	int raw8 = ei_utf8_check(s, cut) == cut;  /* else bytes >= 0x80 are escaped too */
	sb_add(b, "\"", 1);
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		if (c == '"' || c == '\\')
			tmp[0] = '\\', tmp[1] = (char)c, sb_add(b, tmp, 2);
		else if (c == '\n')
			sb_add(b, "\\n", 2);
		else if (c == '\r')
			sb_add(b, "\\r", 2);
		else if (c == '\t')
			sb_add(b, "\\t", 2);
		else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !raw8))
			sb_printf(b, i + 1 < cut && s[i + 1] >= '0' && s[i + 1] <= '9' ? "\\%03u" : "\\%u", c);
		else
			sb_add(b, (const char *)&s[i], 1);
	}
	sb_add(b, "\"", 1);
	if (cut < n)
		sb_str(b, "…");
}

static int is_ident(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

/* ---------------------------------------------------------------- did you mean */

static size_t normalize(const char *s, size_t n, char out[SUGGEST_MAX])
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '_' || c == '-')
			continue;
		if (k == SUGGEST_MAX)
			return (size_t)-1;
		out[k++] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
	}
	return k;
}

/* Optimal string alignment distance (edits and adjacent transpositions). */
static int osa(const char *a, size_t an, const char *b, size_t bn)
{
	int rows[3][SUGGEST_MAX + 1];
	int *pp = rows[0], *p = rows[1], *c = rows[2];
	for (size_t j = 0; j <= bn; j++)
		p[j] = (int)j;
	for (size_t i = 1; i <= an; i++) {
		c[0] = (int)i;
		for (size_t j = 1; j <= bn; j++) {
			int cost = a[i - 1] != b[j - 1];
			int d = p[j - 1] + cost;
			if (p[j] + 1 < d)
				d = p[j] + 1;
			if (c[j - 1] + 1 < d)
				d = c[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			c[j] = d;
		}
		int *t = pp;
		pp = p, p = c, c = t;
	}
	return p[bn];
}

int ei_suggest(const char *key, size_t len, const char *(*candidate)(const void *ud, size_t i, size_t *len),
	const void *ud, size_t n)
{
	char k[SUGGEST_MAX], c[SUGGEST_MAX];
	size_t kn = normalize(key, len, k);
	if (kn == (size_t)-1)
		return -1;
	int limit = kn < 3 ? 1 : kn > 9 ? 3 : (int)kn / 3;
	int best = -1, best_d = limit + 1;
	for (size_t i = 0; i < n; i++) {
		size_t cl, cn;
		const char *s = candidate(ud, i, &cl);
		if ((cn = normalize(s, cl, c)) == (size_t)-1)
			continue;
		if (cn == kn && memcmp(c, k, kn) == 0)
			return (int)i;
		int d = osa(k, kn, c, cn);
		/* a cut or extended name ("warn" for "warning") is close, if nothing is closer */
		size_t shorter = kn < cn ? kn : cn;
		if (d > limit && shorter >= 3 && memcmp(k, c, shorter) == 0)
			d = limit;
		if (d < best_d) {
			best_d = d;
			best = (int)i;
		}
	}
	return best;
}

/* Candidates for ei_suggest: records whose first member is an ei_str. */
struct records { const void *base; size_t size; };

static const char *record_candidate(const void *ud, size_t i, size_t *len)
{
	const struct records *r = ud;
	ei_str s;
	memcpy(&s, (const char *)r->base + i * r->size, sizeof s);
	*len = EI_STR_LEN(s);
	return POOL(s);
}

/* Index of the suggestion among n records, or -1. */
static int suggest(const char *key, size_t len, const void *base, size_t n, size_t size)
{
	struct records r = { base, size };
	return ei_suggest(key, len, record_candidate, &r, n);
}

/* ---------------------------------------------------------------- lookups */

/* Byte order; an inline loop, as the names compared are short. */
static inline int bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return (an > bn) - (an < bn);
}

static int keycmp(const char *a, size_t an, ei_str b)
{
	return bytes_cmp(a, an, POOL(b), EI_STR_LEN(b));
}

/* Binary search over n records of the given size whose first member is an ei_str. */
static const void *bsearch_str(const char *key, size_t len, const void *base, size_t n, size_t size)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const void *rec = (const char *)base + mid * size;
		ei_str s;
		memcpy(&s, rec, sizeof s);
		int c = keycmp(key, len, s);
		if (c == 0)
			return rec;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* The hot lookup of the walk, typed rather than through bsearch_str. */
static const struct ei_prop *find_prop(const struct ei_schema *s, const char *key, size_t len)
{
	const struct ei_prop *p = &ei_spec.props[s->first];
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = keycmp(key, len, p[mid].name);
		if (c == 0)
			return &p[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int ei_schema_find(const char *name, size_t len)
{
	const struct ei_named *n = bsearch_str(name, len, ei_spec.names, ei_spec.nnames, sizeof *n);
	return n ? n->schema : -1;
}

static const struct ei_op *find_op(const char *id, size_t len)
{
	return bsearch_str(id, len, ei_spec.ops, ei_spec.nops, sizeof(struct ei_op));
}

static const struct ei_param *find_param(const struct ei_op *op, const char *name, size_t len)
{
	return bsearch_str(name, len, &ei_spec.params[op->params], op->nparams, sizeof(struct ei_param));
}

int ei_schema_name_error(lua_State *L, int arg, const char *what, const char *name, int operations)
{
	size_t len = strlen(name);
	int i = operations ? suggest(name, len, ei_spec.ops, ei_spec.nops, sizeof *ei_spec.ops)
			   : suggest(name, len, ei_spec.names, ei_spec.nnames, sizeof *ei_spec.names);
	if (i < 0)
		return luaL_argerror(L, arg, lua_pushfstring(L, "unknown %s \"%s\"", what, name));
	ei_str s = operations ? ei_spec.ops[i].id : ei_spec.names[i].name;
	return luaL_argerror(L, arg,
		lua_pushfstring(L, "unknown %s \"%s\" (did you mean \"%s\"?)", what, name, POOL(s)));
}

/* ---------------------------------------------------------------- the walk */

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
	struct ei_buf *out;  /* NULL while validating only or probing a union branch */
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
		const struct ei_prop *p = find_prop(s, key, len);
		h->key = key;
		h->schema = s;
		h->found = p ? (unsigned)(p - &ei_spec.props[s->first]) + 1 : 0;
	}
	return h->found;
}

/* 1 + the index of str among the string schema's enum values, or 0. */
static unsigned lookup_enum(struct walk *w, const struct ei_schema *s, const char *str, size_t len)
{
	struct key_hit *h = key_hit(w, s, str);
	if (h->key != str || h->schema != s) {
		const ei_str *e = &ei_spec.enums[s->first];
		unsigned i = 0;
		while (i < s->count && !(EI_STR_LEN(e[i]) == len && memcmp(POOL(e[i]), str, len) == 0))
			i++;
		h->key = str;
		h->schema = s;
		h->found = i < s->count ? i + 1 : 0;
	}
	return h->found;
}

static inline int walk_value(struct walk *w, int idx, unsigned schema);

static void format_path(const struct walk *w, struct sb *b)
{
	if (w->depth == 0 || !w->path[1].key)
		sb_str(b, w->o->root);
	for (int i = 1; i <= w->depth; i++) {
		const struct seg *g = &w->path[i];
		if (!g->key) {
			sb_printf(b, "[%lld]", (long long)g->index);
		} else if (is_ident(g->key, g->len)) {
			if (i > 1)
				sb_add(b, ".", 1);
			sb_add(b, g->key, g->len);
		} else {
			sb_add(b, "[", 1);
			sb_quote(b, g->key, g->len);
			sb_add(b, "]", 1);
		}
	}
}

static struct sb begin_error(struct walk *w)
{
	struct sb b = { w->o->err, 0, EI_ERRLEN };
	b.p[0] = '\0';
	format_path(w, &b);
	sb_add(&b, ": ", 2);
	return b;
}

static int fail(struct walk *w, const char *fmt, ...)
{
	struct sb b = begin_error(w);
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	return -1;
}

static int fail_number(struct walk *w, const char *fmt, double d)
{
	char tmp[32];
	ei_json_format_number(d, tmp);
	return fail(w, fmt, tmp);
}

static const char *got(lua_State *L, int idx)
{
	return ei_json_isnull(L, idx) ? "null" : luaL_typename(L, idx);
}

static void describe(struct sb *b, const struct ei_schema *s)
{
	if (s->kind != EI_K_UNION) {
		sb_str(b, kind_names[s->kind]);
		return;
	}
	unsigned seen = 0;
	for (unsigned i = 0; i < s->count; i++) {
		unsigned k = ei_spec.schemas[ei_spec.branches[s->first + i].schema].kind;
		if (seen & 1u << k)
			continue;
		sb_str(b, seen ? " or " : "");
		sb_str(b, kind_names[k]);
		seen |= 1u << k;
	}
}

static int type_error(struct walk *w, int idx, const struct ei_schema *s)
{
	struct sb b = begin_error(w);
	sb_str(&b, "expected ");
	describe(&b, s);
	sb_printf(&b, ", got %s", got(w->L, idx));
	return -1;
}

static int push_seg(struct walk *w, const char *key, size_t len, lua_Integer index)
{
	if (w->depth == MAX_DEPTH)
		return fail(w, "nested deeper than %d levels", MAX_DEPTH);
	struct seg *g = &w->path[++w->depth];
	g->key = key;
	g->len = len;
	g->index = index;
	return 0;
}

static int enter_table(struct walk *w, int idx)
{
	const void *t = lua_topointer(w->L, idx);
	for (int i = 0; i < w->depth; i++)
		if (w->path[i].table == t)
			return fail(w, "table contains itself (cycle)");
	w->path[w->depth].table = t;
	if (!lua_checkstack(w->L, 8))
		return fail(w, "too deeply nested or too large");
	return 0;
}

static int has_mt(lua_State *L, int idx, const void *mt)
{
	if (!lua_getmetatable(L, idx))
		return 0;
	int r = lua_topointer(L, -1) == mt;
	lua_pop(L, 1);
	return r;
}

static void out_s(struct walk *w, const char *s, size_t n)
{
	if (w->out)
		ei_buf_add(w->out, s, n);
}

static void out_c(struct walk *w, char c)
{
	if (w->out)
		ei_buf_putc(w->out, c);
}

/* Append the path of the current field to the list in the stack slot; with a hint,
 * also list[path] = hint. */
static void note_path(struct walk *w, int slot, const char *hint)
{
	lua_State *L = w->L;
	char buf[EI_ERRLEN];
	struct sb b = { buf, 0, sizeof buf };
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

static void note_deprecated(struct walk *w)
{
	note_path(w, w->o->deprecated_slot, NULL);
}

static int check_limits(struct walk *w, const struct ei_schema *s, double v, const char *what)
{
	if (s->extra == EI_NONE)
		return 0;
	const struct ei_limits *l = &ei_spec.limits[s->extra];
	char a[32], m[32];
	if (v >= l->min && v <= l->max)
		return 0;
	ei_json_format_number(v, a);
	ei_json_format_number(v < l->min ? l->min : l->max, m);
	return fail(w, "%s%s is %s than %s", what, a, v < l->min ? "less" : "greater", m);
}

/* ---- scalars */

static int walk_boolean(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	if (t != LUA_TBOOLEAN)
		return type_error(w, idx, s);
	if (lua_toboolean(w->L, idx))
		out_s(w, "true", 4);
	else
		out_s(w, "false", 5);
	return 0;
}

static int walk_integer(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	int exact;
	if (t != LUA_TNUMBER)
		return type_error(w, idx, s);
	lua_Integer v = lua_tointegerx(L, idx, &exact);  /* also takes floats such as 3.0 */
	if (!exact)
		return fail_number(w, "expected integer, got %s", lua_tonumber(L, idx));
	if (check_limits(w, s, (double)v, ""))
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
		return type_error(w, idx, s);
	lua_Integer v = lua_tointegerx(L, idx, &exact);
	if (exact) {
		if (check_limits(w, s, (double)v, ""))
			return -1;
		if (w->out)
			ei_json_write_integer(w->out, v);
		return 0;
	}
	double d = lua_tonumber(L, idx);
	if (!isfinite(d))
		return fail_number(w, "expected finite number, got %s", d);
	if (check_limits(w, s, d, ""))
		return -1;
	if (w->out)
		ei_json_write_number(w->out, d);
	return 0;
}

static int enum_error(struct walk *w, const struct ei_schema *s, const char *str, size_t len)
{
	const ei_str *e = &ei_spec.enums[s->first];
	unsigned shown = s->count <= ENUM_ALL ? s->count : ENUM_SHOWN;
	struct sb b = begin_error(w);
	sb_quote(&b, str, len);
	sb_str(&b, " is not one of ");
	for (unsigned i = 0; i < shown; i++) {
		sb_str(&b, i ? ", " : "");
		sb_add(&b, POOL(e[i]), EI_STR_LEN(e[i]));
	}
	if (shown < s->count)
		sb_str(&b, ", …");
	int i = suggest(str, len, e, s->count, sizeof *e);
	if (i >= 0)
		sb_printf(&b, " (did you mean \"%s\"?)", POOL(e[i]));
	return -1;
}

static int walk_string(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	size_t len;
	if (t == LUA_TTABLE && (s->flags & EI_S_BINARY) && !w->out && has_mt(w->L, idx, w->file_mt))
		return 0; /* a file (core.file) where a multipart body wants binary data */
	if (t != LUA_TSTRING)
		return type_error(w, idx, s);
	const char *str = lua_tolstring(w->L, idx, &len);
	if (s->count && lookup_enum(w, s, str, len)) {
		/* one of the enum's values: valid UTF-8, nothing to escape (the generator checks) */
		if (w->out) {
			char *p = ei_buf_reserve(w->out, len + 2);
			p[0] = '"';
			memcpy(p + 1, str, len);
			p[len + 1] = '"';
			w->out->len += len + 2;
		}
		return 0;
	}
	size_t bad = ei_utf8_check(str, len);
	if (bad < len && (w->out || !(s->flags & EI_S_BINARY)))
		return fail(w, "invalid UTF-8 at byte %zu", bad + 1);
	if (s->count)
		return enum_error(w, s, str, len);
	if (w->out)
		ei_json_write_string(w->out, str, len);
	return 0;
}

/* ---- arrays */

static void sb_key(struct sb *b, lua_State *L, int idx)
{
	size_t n;
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, idx, &n);
		sb_quote(b, s, n);
	} else if (lua_type(L, idx) == LUA_TNUMBER) {
		char tmp[32];
		if (lua_isinteger(L, idx))
			sb_printf(b, "%lld", (long long)lua_tointeger(L, idx));
		else
			ei_json_format_number(lua_tonumber(L, idx), tmp), sb_str(b, tmp);
	} else {
		sb_str(b, luaL_typename(L, idx));
	}
}

/* The length of the table at idx if its keys are exactly 1..n; otherwise -1, and an
 * error when report is set. */
static lua_Integer sequence_length(struct walk *w, int idx, int report)
{
	lua_State *L = w->L;
	lua_Integer count = 0, max = 0;
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		lua_Integer k = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
		if (k < 1) {
			if (report) {
				struct sb b = begin_error(w);
				sb_str(&b, "expected array, got table with key ");
				sb_key(&b, L, -1);
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
		fail(w, "expected array, got table with nil at index %lld", (long long)i);
	}
	return -1;
}

static int walk_elements(struct walk *w, int idx, lua_Integer n, unsigned items)
{
	lua_State *L = w->L;
	if (enter_table(w, idx))
		return -1;
	out_c(w, '[');
	for (lua_Integer i = 1; i <= n; i++) {
		if (i > 1)
			out_c(w, ',');
		if (push_seg(w, NULL, 0, i))
			return -1;
		lua_rawgeti(L, idx, i);
		int rc = walk_value(w, lua_gettop(L), items);
		lua_pop(L, 1);
		if (rc)
			return -1;
		w->depth--;
	}
	out_c(w, ']');
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
	size_t mark = w->out ? w->out->len : 0;
	int slot = w->o->deprecated_slot;
	lua_Integer noted = w->collect && lua_type(L, slot) == LUA_TTABLE ? (lua_Integer)lua_rawlen(L, slot) : 0;
	lua_Integer i = 0;
	int rc = enter_table(w, idx);
	if (rc == 0) {
		out_c(w, '[');
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			if (!lua_isinteger(L, top + 1) || lua_tointeger(L, top + 1) != ++i) {
				lua_settop(L, top);
				if (w->out)
					w->out->len = mark;
				forget_deprecated(w, noted);
				w->depth = depth;
				return 1;
			}
			if (i > 1)
				out_c(w, ',');
			if ((rc = push_seg(w, NULL, 0, i)) != 0 || (rc = walk_value(w, top + 2, items)) != 0)
				break;
			lua_settop(L, top + 1);
			w->depth--;
		}
	}
	lua_settop(L, top);
	if (rc == 0) {
		out_c(w, ']');
		return 0;
	}
	/* The two passes would first have complained about the keys, if they are wrong
	 * further on; the error of the element stands otherwise. */
	w->depth = depth;
	sequence_length(w, idx, 1);
	return -1;
}

static int walk_array(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	if (t != LUA_TTABLE)
		return type_error(w, idx, s);
	if (has_mt(L, idx, w->object_mt))
		return fail(w, "expected array, got object");
	if (s->extra == EI_NONE) { /* no item count to check before the items */
		int rc = walk_in_order(w, idx, s->first);
		if (rc <= 0)
			return rc;
	}
	lua_Integer n = sequence_length(w, idx, 1);
	if (n < 0 || check_limits(w, s, (double)n, "item count "))
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
static inline void write_name(struct ei_buf *b, const char *name, size_t len, int comma)
{
	char *p = ei_buf_reserve(b, len + 4);
	size_t k = 0;
	if (comma)
		p[k++] = ',';
	p[k++] = '"';
	copy_short(p + k, name, len);
	k += len;
	p[k++] = '"';
	p[k++] = ':';
	b->len += k;
}

static void write_key(struct ei_buf *b, const struct entry *e, int comma)
{
	if (e->flags & KNOWN) {
		write_name(b, e->key, e->len, comma);
		return;
	}
	if (comma)
		ei_buf_putc(b, ',');
	ei_json_write_string(b, e->key, e->len);
	ei_buf_putc(b, ':');
}

struct entries {
	struct entry *e;
	size_t n, cap;
	int slot;  /* stack slot anchoring a spilled array */
	struct entry small[SMALL_ENTRIES];
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return bytes_cmp(x->key, x->len, y->key, y->len);
}

/* The same order: properties are sorted by name, so two of them compare by rank. */
static int entry_before(const struct entry *x, const struct entry *y)
{
	if (x->rank != EI_NONE && y->rank != EI_NONE)
		return x->rank < y->rank;
	return bytes_cmp(x->key, x->len, y->key, y->len) < 0;
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

static void grow_entries(lua_State *L, struct entries *E)
{
	size_t cap = E->cap * 2;
	if (cap > ((size_t)-1) / sizeof *E->e)
		luaL_error(L, "table too large");
	struct entry *e = lua_newuserdatauv(L, cap * sizeof *e, 0);
	memcpy(e, E->e, E->n * sizeof *e);
	lua_replace(L, E->slot);
	E->e = e;
	E->cap = cap;
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
			struct sb b = begin_error(w);
			sb_str(&b, "unexpected key ");
			sb_key(&b, L, -2);
			sb_str(&b, " (object keys must be strings)");
			lua_pop(L, 2);
			return -1;
		}
		if (E->n % 8 == 0 && !lua_checkstack(L, 20)) {
			lua_pop(L, 2);
			return fail(w, "table too large");
		}
		if (E->n == E->cap)
			grow_entries(L, E);
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
	struct sb b = begin_error(w);
	sb_str(&b, "unknown field");
	int i = suggest(e->key, e->len, props, s->count, sizeof *props);
	if (i >= 0)
		sb_printf(&b, " (did you mean \"%s\"?)", POOL(props[i].name));
	return -1;
}

/* A field passed through: its path, and the property it may have meant. */
static void note_unknown(struct walk *w, const struct ei_schema *s, const struct entry *e)
{
	const struct ei_prop *props = &ei_spec.props[s->first];
	int i = suggest(e->key, e->len, props, s->count, sizeof *props);
	note_path(w, w->o->unknown_slot, i >= 0 ? POOL(props[i].name) : NULL);
}

static int walk_entries(struct walk *w, const struct ei_schema *s, const struct entries *E)
{
	out_c(w, '{');
	for (size_t i = 0; i < E->n; i++) {
		const struct entry *e = &E->e[i];
		if (push_seg(w, e->key, e->len, 0))
			return -1;
		if (e->schema == EI_NONE)
			return unknown_field(w, s, e);
		if (!(e->flags & KNOWN)) {
			size_t bad = ei_utf8_check(e->key, e->len);
			if (bad < e->len)
				return fail(w, "invalid UTF-8 at byte %zu of the key", bad + 1);
		}
		if (e->flags & EI_P_DEPRECATED)
			note_deprecated(w);
		if (e->flags & UNKNOWN)
			note_unknown(w, s, e);
		if (w->out)
			write_key(w->out, e, i > 0);
		if (walk_value(w, e->slot, e->schema))
			return -1;
		w->depth--;
	}
	out_c(w, '}');
	return 0;
}

static int missing_field(struct walk *w, const struct ei_prop *p)
{
	struct sb b = begin_error(w);
	sb_str(&b, "missing required field ");
	sb_quote(&b, POOL(p->name), EI_STR_LEN(p->name));
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
		struct entry key = { POOL(p->name), EI_STR_LEN(p->name), 0, 0, 0, 0 };
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
	out_c(w, '{');
	for (uint64_t left = seen; left; left &= left - 1) {
		unsigned r = (unsigned)__builtin_ctzll(left);
		const struct ei_prop *p = &props[r];
		size_t len = EI_STR_LEN(p->name);
		if ((rc = push_seg(w, POOL(p->name), len, 0)) != 0)
			break;
		if (p->flags & EI_P_DEPRECATED)
			note_deprecated(w);
		if (w->out)
			write_name(w->out, POOL(p->name), len, left != seen);
		if ((rc = walk_value(w, slots[r], p->schema)) != 0)
			break;
		w->depth--;
	}
	lua_settop(L, top);
	if (rc)
		return -1;
	out_c(w, '}');
	if (required == s->nreq)
		return 0;
	for (unsigned i = 0;; i++)
		if ((props[i].flags & EI_P_REQUIRED) && !(seen & (uint64_t)1 << i))
			return missing_field(w, &props[i]);
}

static int walk_object(struct walk *w, int idx, int t, const struct ei_schema *s)
{
	lua_State *L = w->L;
	if (t != LUA_TTABLE)
		return type_error(w, idx, s);
	if (has_mt(L, idx, w->array_mt))
		return fail(w, "expected object, got array");
	if (enter_table(w, idx))
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
	lua_pushnil(L);
	E.slot = top + 1;
	int rc = collect(w, idx, s, &E);
	if (rc == 0) {
		sort_entries(&E);
		rc = walk_entries(w, s, &E);
	}
	if (rc == 0)
		rc = check_required(w, s, &E);
	lua_settop(L, top);
	return rc;
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
	lua_pushlstring(L, POOL(d), EI_STR_LEN(d));
	if (lua_rawget(L, idx) != LUA_TSTRING) {
		lua_pop(L, 1);
		return -1;
	}
	const char *tag = lua_tolstring(L, -1, &len);
	for (unsigned i = 0; i < s->count; i++) {
		if (EI_STR_LEN(br[i].tag) == len && memcmp(POOL(br[i].tag), tag, len) == 0) {
			lua_pop(L, 1);
			return (int)i;
		}
	}
	if (push_seg(w, POOL(d), EI_STR_LEN(d), 0) == 0) {
		struct sb b = begin_error(w);
		sb_quote(&b, tag, len);
		sb_str(&b, " is not one of ");
		for (unsigned i = 0; i < s->count; i++) {
			sb_str(&b, i ? ", " : "");
			sb_str(&b, POOL(br[i].tag));
		}
		int i = suggest(tag, len, br, s->count, sizeof *br);
		if (i >= 0)
			sb_printf(&b, " (did you mean \"%s\"?)", POOL(br[i].tag));
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
			score += find_prop(s, k, len) != NULL;
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
		out_s(w, "null", 4);
		return 0;
	}
	if (s->extra != EI_NONE && (pick = discriminated(w, idx, s)) == -2)
		return -1;
	if (pick < 0) {
		/* Probed strictly: a branch that names every field wins over one that would
		 * only take the value with unknown fields passed through. */
		struct ei_buf *out = w->out;
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
			return type_error(w, idx, s);
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
	lua_Integer n = sequence_length(w, idx, 0);
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
	default: return fail(w, "expected a JSON value, got %s", got(w->L, idx));
	}
}

static const walker walkers[EI_K_COUNT] = {
	walk_any, walk_boolean, walk_integer, walk_number, walk_string, walk_array, walk_object, walk_union,
};

static inline int walk_value(struct walk *w, int idx, unsigned schema)
{
	const struct ei_schema *s = &ei_spec.schemas[schema];
	int t = lua_type(w->L, idx);
	if (t == LUA_TLIGHTUSERDATA && s->kind != EI_K_UNION && ei_json_isnull(w->L, idx)) {
		if (s->kind == EI_K_ANY || (s->flags & EI_S_NULLABLE)) {
			out_s(w, "null", 4);
			return 0;
		}
		return type_error(w, idx, s);
	}
	return walkers[s->kind](w, idx, t, s);
}

int ei_schema_walk(lua_State *L, int idx, unsigned schema, struct ei_walk_opts *opts)
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
		return fail(&w, "out of stack space");
	ei_json_markers(L, &w.array_mt, &w.object_mt);
	luaL_getmetatable(L, EI_FILE_MT);
	w.file_mt = lua_topointer(L, -1);
	lua_pop(L, 1);
	int top = lua_gettop(L);
	int rc = walk_value(&w, idx, schema);
	lua_settop(L, top);
	return rc;
}

/* ---------------------------------------------------------------- operations */

struct request {
	lua_State *L;
	const struct ei_op *op;
	struct ei_walk_opts o;  /* args at 2, deprecated paths at 3, unknown fields at 4 */
};

static int request_fail(struct request *r, const char *fmt, ...)
{
	va_list ap;
	struct sb b = { r->o.err, 0, EI_ERRLEN };
	b.p[0] = '\0';
	va_start(ap, fmt);
	sb_vprintf(&b, fmt, ap);
	va_end(ap);
	return -1;
}


/* Argument names of an operation: its parameters, then "body" when it takes one. */
static const char *arg_candidate(const void *ud, size_t i, size_t *len)
{
	const struct ei_op *op = ud;
	if (i == op->nparams) {
		*len = 4;
		return "body";
	}
	ei_str s = ei_spec.params[op->params + i].name;
	*len = EI_STR_LEN(s);
	return POOL(s);
}

static int is_arg(const struct ei_op *op, const char *key, size_t len)
{
	return (op->body != EI_NONE && bytes_cmp(key, len, "body", 4) == 0) || find_param(op, key, len);
}

/* Unknown arguments are reported first in byte order, for a stable message. */
static int check_args(struct request *r)
{
	lua_State *L = r->L;
	const struct ei_op *op = r->op;
	struct sb b = { r->o.err, 0, EI_ERRLEN };
	char worst[SUGGEST_MAX * 2];
	size_t wlen = (size_t)-1;
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		size_t len;
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			sb_str(&b, "args: unexpected key ");
			sb_key(&b, L, -1);
			sb_str(&b, " (arguments are named)");
			lua_pop(L, 1);
			return -1;
		}
		const char *key = lua_tolstring(L, -1, &len);
		if (is_arg(op, key, len))
			continue;
		if (len > sizeof worst)
			len = sizeof worst;
		if (wlen == (size_t)-1 || bytes_cmp(key, len, worst, wlen) < 0)
			memcpy(worst, key, len), wlen = len;
	}
	if (wlen == (size_t)-1)
		return 0;
	if (is_ident(worst, wlen))
		sb_add(&b, worst, wlen);
	else
		sb_quote(&b, worst, wlen);
	sb_str(&b, ": unknown argument");
	int i = ei_suggest(worst, wlen, arg_candidate, op, op->nparams + (op->body != EI_NONE));
	if (i >= 0) {
		size_t n;
		const char *name = arg_candidate(op, (size_t)i, &n);
		sb_printf(&b, " (did you mean \"%s\"?)", name);
	}
	return -1;
}

/* Percent-encode all but RFC 3986 unreserved characters. */
static void add_escaped(struct ei_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			ei_buf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			ei_buf_add(b, e, 3);
		}
	}
}

/* A validated scalar as URL text: booleans true/false, integral numbers as integers. */
static void add_param_value(struct ei_buf *b, lua_State *L, int idx)
{
	char tmp[32];
	size_t n;
	int exact;
	const char *s = tmp;
	if (lua_type(L, idx) == LUA_TBOOLEAN) {
		s = lua_toboolean(L, idx) ? "true" : "false";
		n = strlen(s);
	} else if (lua_type(L, idx) == LUA_TNUMBER) {
		lua_Integer v = lua_tointegerx(L, idx, &exact);
		if (exact)
			n = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)v);
		else
			n = (size_t)ei_json_format_number(lua_tonumber(L, idx), tmp);
	} else {
		s = lua_tolstring(L, idx, &n);
	}
	add_escaped(b, s, n);
}

/* Parameters travel as text: the document types some flags as free strings
 * (cancelJob's forceCancel), so a boolean is accepted there and sent as true/false. */
static int boolean_as_text(lua_State *L, const struct ei_param *p)
{
	const struct ei_schema *s = &ei_spec.schemas[p->schema];
	return lua_type(L, -1) == LUA_TBOOLEAN && s->kind == EI_K_STRING && s->count == 0;
}

/* Push args[name] of a parameter and validate it: 1 present, 0 absent, -1 error. */
static int param_value(struct request *r, const struct ei_param *p)
{
	lua_State *L = r->L;
	lua_pushlstring(L, POOL(p->name), EI_STR_LEN(p->name));
	if (lua_rawget(L, 2) == LUA_TNIL) {
		lua_pop(L, 1);
		if (!(p->flags & EI_P_REQUIRED))
			return 0;
		return request_fail(r, "%s: missing required %s parameter", POOL(p->name),
			(p->flags & EI_P_PATH) ? "path" : "query");
	}
	r->o.root = POOL(p->name);
	r->o.out = NULL;
	if (!boolean_as_text(L, p) && ei_schema_walk(L, -1, p->schema, &r->o)) {
		lua_pop(L, 1);
		return -1;
	}
	if (p->flags & EI_P_DEPRECATED) {
		lua_pushstring(L, POOL(p->name));
		lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
	}
	return 1;
}

static int build_path(struct request *r, struct ei_buf *b)
{
	const char *t = POOL(r->op->path), *end = t + EI_STR_LEN(r->op->path);
	while (t < end) {
		const char *open = memchr(t, '{', (size_t)(end - t));
		if (!open) {
			ei_buf_add(b, t, (size_t)(end - t));
			break;
		}
		const char *close = memchr(open, '}', (size_t)(end - open));
		ei_buf_add(b, t, (size_t)(open - t));
		if (param_value(r, find_param(r->op, open + 1, (size_t)(close - open - 1))) < 0)
			return -1;
		add_param_value(b, r->L, -1);
		lua_pop(r->L, 1);
		t = close + 1;
	}
	return 0;
}

static int build_query(struct request *r, struct ei_buf *b)
{
	char sep = '?';
	for (unsigned i = 0; i < r->op->nparams; i++) {
		const struct ei_param *p = &ei_spec.params[r->op->params + i];
		int rc;
		if (p->flags & EI_P_PATH)
			continue;
		if ((rc = param_value(r, p)) < 0)
			return -1;
		if (rc == 0)
			continue;
		ei_buf_putc(b, sep);
		sep = '&';
		add_escaped(b, POOL(p->name), EI_STR_LEN(p->name));
		ei_buf_putc(b, '=');
		add_param_value(b, r->L, -1);
		lua_pop(r->L, 1);
	}
	return 0;
}

/* Push the body (JSON text, the validated table for other content types, or nil) and
 * its content type (or nil). */
static int build_body(struct request *r)
{
	lua_State *L = r->L;
	const struct ei_op *op = r->op;
	int top = lua_gettop(L);
	lua_pushliteral(L, "body");
	if (op->body == EI_NONE || lua_rawget(L, 2) == LUA_TNIL) {
		if (op->body != EI_NONE && (op->flags & EI_OP_BODY_REQUIRED))
			return request_fail(r, "body: missing required request body");
		lua_settop(L, top);
		lua_pushnil(L);
		lua_pushnil(L);
		return 0;
	}
	struct ei_buf b;
	r->o.root = "body";
	r->o.out = (op->flags & EI_OP_BODY_JSON) ? &b : NULL;
	ei_buf_init(&b, L);
	if (ei_schema_walk(L, top + 1, op->body, &r->o))
		return -1;
	if (r->o.out) {
		ei_buf_result(&b);
		lua_replace(L, top + 1);
	} else {
		lua_pop(L, 1);
	}
	lua_pushstring(L, POOL(op->content_type));
	return 0;
}

/* Values of core.request's third argument: what to do with fields the schemas do not name. */
static const char *const unknown_modes[] = { "error", "warn", "send", NULL };

/* core.request(operation_id, args[, unknown_fields]) -> method, path_and_query, body,
 * content_type, deprecated, unknown | nil, message, "EINVAL"
 * unknown_fields: "error" (default) refuses fields the schemas do not name; "warn" and
 * "send" pass them through as plain JSON and list their paths in `unknown`. */
static int l_request(lua_State *L)
{
	size_t n;
	const char *id = luaL_checklstring(L, 1, &n);
	int pass = luaL_checkoption(L, 3, "error", unknown_modes) != 0;
	struct request r = { L, find_op(id, n), { .deprecated_slot = 3, .unknown_slot = pass ? 4 : 0 } };
	if (!r.op)
		return ei_schema_name_error(L, 1, "operation", id, 1);
	if (lua_isnoneornil(L, 2)) {
		lua_settop(L, 1);
		lua_newtable(L);
	}
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lua_newtable(L);
	lua_newtable(L);
	struct ei_buf path;
	ei_buf_init(&path, L);
	if (check_args(&r) || build_path(&r, &path) || build_query(&r, &path))
		return ei_fail(L, EI_EINVAL, "%s", r.o.err);
	ei_buf_result(&path);
	if (build_body(&r))
		return ei_fail(L, EI_EINVAL, "%s", r.o.err);
	lua_pushstring(L, method_names[r.op->method]);
	lua_insert(L, 5);
	lua_pushvalue(L, 3);
	lua_pushvalue(L, 4);
	return 6;
}

static void push_params(lua_State *L, const struct ei_op *op, int in_path)
{
	lua_newtable(L);
	for (unsigned i = 0; i < op->nparams; i++) {
		const struct ei_param *p = &ei_spec.params[op->params + i];
		const struct ei_schema *s = &ei_spec.schemas[p->schema];
		if (!(p->flags & EI_P_PATH) != !in_path)
			continue;
		lua_createtable(L, 0, 5);
		lua_pushstring(L, POOL(p->name));
		lua_setfield(L, -2, "name");
		lua_pushboolean(L, p->flags & EI_P_REQUIRED);
		lua_setfield(L, -2, "required");
		lua_pushstring(L, kind_names[s->kind]);
		lua_setfield(L, -2, "type");
		if (p->flags & EI_P_DEPRECATED) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "deprecated");
		}
		if (s->kind == EI_K_STRING && s->count) {
			lua_createtable(L, s->count, 0);
			for (unsigned j = 0; j < s->count; j++) {
				lua_pushstring(L, POOL(ei_spec.enums[s->first + j]));
				lua_rawseti(L, -2, j + 1);
			}
			lua_setfield(L, -2, "enum");
		}
		lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	}
}

/* core.operation(operation_id) -> description | nil */
static int l_operation(lua_State *L)
{
	size_t n;
	const char *id = luaL_checklstring(L, 1, &n);
	const struct ei_op *op = find_op(id, n);
	if (!op)
		return 0;
	lua_createtable(L, 0, 9);
	lua_pushstring(L, POOL(op->id));
	lua_setfield(L, -2, "operation_id");
	lua_pushstring(L, method_names[op->method]);
	lua_setfield(L, -2, "method");
	lua_pushstring(L, POOL(op->path));
	lua_setfield(L, -2, "path");
	push_params(L, op, 1);
	lua_setfield(L, -2, "path_params");
	push_params(L, op, 0);
	lua_setfield(L, -2, "query_params");
	if (op->body != EI_NONE) {
		if (op->body_name) {
			lua_pushstring(L, POOL(op->body_name));
			lua_setfield(L, -2, "body_schema");
		}
		lua_pushboolean(L, op->flags & EI_OP_BODY_REQUIRED);
		lua_setfield(L, -2, "body_required");
		lua_pushstring(L, POOL(op->content_type));
		lua_setfield(L, -2, "content_type");
	}
	lua_pushboolean(L, op->flags & EI_OP_DEPRECATED);
	lua_setfield(L, -2, "deprecated");
	return 1;
}

/* core.operations() -> sorted array of operation ids */
static int l_operations(lua_State *L)
{
	lua_createtable(L, (int)ei_spec.nops, 0);
	for (uint32_t i = 0; i < ei_spec.nops; i++) {
		lua_pushstring(L, POOL(ei_spec.ops[i].id));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* core.validate(schema_name, value[, unknown_fields]) -> true, deprecated_paths, unknown
 * | nil, message, "EINVAL" (unknown_fields as for core.request) */
static int l_validate(lua_State *L)
{
	size_t n;
	const char *name = luaL_checklstring(L, 1, &n);
	int schema = ei_schema_find(name, n);
	if (schema < 0)
		return ei_schema_name_error(L, 1, "schema", name, 0);
	luaL_checkany(L, 2);
	int pass = luaL_checkoption(L, 3, "error", unknown_modes) != 0;
	lua_settop(L, 2);
	lua_newtable(L);
	lua_newtable(L);
	struct ei_walk_opts o = { .root = name, .deprecated_slot = 3, .unknown_slot = pass ? 4 : 0 };
	if (ei_schema_walk(L, 2, (unsigned)schema, &o))
		return ei_fail(L, EI_EINVAL, "%s", o.err);
	lua_pushboolean(L, 1);
	lua_insert(L, 3);
	return 3;
}

void ei_schema_open(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "validate", l_validate },
		{ "request", l_request },
		{ "operation", l_operation },
		{ "operations", l_operations },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, funcs, 0);
}
