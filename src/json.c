/* JSON <-> Lua. Decoding parses with cJSON and converts the tree; encoding walks the Lua
 * value (schema.c) and writes text straight into a buffer: building a cJSON tree first
 * would cost one malloc per value plus a second pass, and cJSON cannot print integers
 * beyond 2^53 exactly except as raw nodes, so the tree would buy nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core.h"
#include "json.h"
#include "schema.h"

/* Registry keys: the addresses of these constants. */
static const char array_mt_key = 'a';
static const char object_mt_key = 'o';
static const char tree_mt_key = 't';

/* ---------------------------------------------------------------- null */

void ei_json_pushnull(lua_State *L)
{
	lua_pushlightuserdata(L, NULL);
}

int ei_json_isnull(lua_State *L, int idx)
{
	return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

void ei_json_markers(lua_State *L, const void **array_mt, const void **object_mt)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
	lua_rawgetp(L, LUA_REGISTRYINDEX, &object_mt_key);
	*array_mt = lua_topointer(L, -2);
	*object_mt = lua_topointer(L, -1);
	lua_pop(L, 2);
}

/* ---------------------------------------------------------------- buffer */

void ei_buf_init(struct ei_buf *b, lua_State *L)
{
	b->L = L;
	b->p = b->small;
	b->len = 0;
	b->cap = sizeof b->small;
	lua_pushnil(L);
	b->slot = lua_gettop(L);
}

char *ei_buf_grow(struct ei_buf *b, size_t n)
{
	size_t cap = b->cap;
	while (cap - b->len < n) {
		if (cap > ((size_t)-1) / 2)
			luaL_error(b->L, "JSON text too large");
		cap *= 2;
	}
	char *p = lua_newuserdatauv(b->L, cap, 0);
	memcpy(p, b->p, b->len);
	lua_replace(b->L, b->slot);
	b->p = p;
	b->cap = cap;
	return p + b->len;
}

void ei_buf_result(struct ei_buf *b)
{
	lua_pushlstring(b->L, b->p, b->len);
	lua_replace(b->L, b->slot);
}

/* ---------------------------------------------------------------- writers */

/* 0: copied as is; 'u': \u00XX; otherwise the letter after the backslash. */
static const char escapes[256] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	['"'] = '"', ['\\'] = '\\',
};

void ei_json_write_string(struct ei_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (len > ((size_t)-1) / 8)
		luaL_error(b->L, "string too large");
	char *p = ei_buf_reserve(b, len * 6 + 2);
	size_t i = 0;
	*p++ = '"';
	while (i < len) {
		size_t run = i;
		while (i < len && !escapes[(unsigned char)s[i]])
			i++;
		memcpy(p, s + run, i - run);
		p += i - run;
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i++];
		if (escapes[c] == 'u') {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			p[0] = '\\';
			p[1] = escapes[c];
			p += 2;
		}
	}
	*p++ = '"';
	b->len = (size_t)(p - b->p);
}

/* Decimal digits of u, right-aligned in tmp[24]; returns where they start. Two
 * digits per division. */
static char *utoa(unsigned long long u, char tmp[24])
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	char *p = tmp + 24;
	while (u >= 100) {
		unsigned r = (unsigned)(u % 100);
		u /= 100;
		*--p = pairs[2 * r + 1];
		*--p = pairs[2 * r];
	}
	if (u >= 10) {
		*--p = pairs[2 * u + 1];
		*--p = pairs[2 * u];
	} else {
		*--p = (char)('0' + u);
	}
	return p;
}

void ei_json_write_integer(struct ei_buf *b, lua_Integer i)
{
	char *out = ei_buf_reserve(b, 21);
	unsigned long long u = i < 0 ? 0u - (unsigned long long)i : (unsigned long long)i;
	if (u < 10) {  /* the common small counts, without the copy */
		size_t n = 0;
		if (i < 0)
			out[n++] = '-';
		out[n++] = (char)('0' + u);
		b->len += n;
		return;
	}
	char tmp[24];
	char *p = utoa(u, tmp);
	if (i < 0)
		*--p = '-';
	size_t n = (size_t)(tmp + sizeof tmp - p);
	for (size_t k = 0; k < n; k++)
		out[k] = p[k];
	b->len += n;
}

/* Most numbers people write have a short exact decimal form: find the fewest decimals
 * k with round(|d| * 10^k) / 10^k == |d|. Both operands are exact (10^k for k <= 22,
 * the mantissa below 2^53), so the division is correctly rounded and equal to what
 * strtod gives for the same digits: the text reads back as d. Others go to %.17g. */
static int format_short(double d, char out[32])
{
	double a = fabs(d), p = 1;
	if (!(a >= 1e-5 && a < 1e15))
		return 0;
	for (int k = 0; k <= 17; k++, p *= 10) {
		double x = a * p;
		if (x >= 0x1p53)
			return 0;
		double m = (double)(unsigned long long)(x + 0.5);
		/* m / p == a needs x within a few units in the last place of m (well under
		 * m * 1e-15); the division is only worth doing then */
		if (fabs(x - m) > m * 1e-15 || m / p != a)
			continue;
		char tmp[24], *q = out;
		const char *digits = utoa((unsigned long long)m, tmp);
		int n = (int)(tmp + sizeof tmp - digits);
		if (d < 0)
			*q++ = '-';
		if (n <= k) {
			*q++ = '0';
			*q++ = '.';
			for (int z = n; z < k; z++)
				*q++ = '0';
			memcpy(q, digits, (size_t)n);
			q += n;
		} else {
			memcpy(q, digits, (size_t)(n - k));
			q += n - k;
			if (k) {
				*q++ = '.';
				memcpy(q, digits + n - k, (size_t)k);
				q += k;
			}
		}
		*q = '\0';
		return (int)(q - out);
	}
	return 0;
}

int ei_json_format_number(double d, char out[32])
{
	if (!isfinite(d)) {
		const char *s = isnan(d) ? "nan" : d > 0 ? "inf" : "-inf";
		strcpy(out, s);
		return (int)strlen(s);
	}
	int n = format_short(d, out);
	if (n)
		return n;
	/* The fewest significant digits that read back as d: 17 always do, and a
	 * precision that works keeps working with more digits, so bisect. */
	char tmp[320];  /* what %g may write as far as the compiler can tell; 24 at most */
	int lo = 1, hi = 17;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		snprintf(tmp, sizeof tmp, "%.*g", mid, d);
		if (strtod(tmp, NULL) == d)
			hi = mid;
		else
			lo = mid + 1;
	}
	n = snprintf(tmp, sizeof tmp, "%.*g", lo, d);
	memcpy(out, tmp, (size_t)n + 1);
	/* %g writes the locale's decimal separator; JSON wants '.' */
	for (int i = 0; i < n; i++)
		if (out[i] != '-' && out[i] != '+' && out[i] != 'e' && (out[i] < '0' || out[i] > '9'))
			out[i] = '.';
	return n;
}

void ei_json_write_number(struct ei_buf *b, double d)
{
	char tmp[32];
	ei_buf_add(b, tmp, (size_t)ei_json_format_number(d, tmp));
}

size_t ei_utf8_check(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned c = s[i], cp;
		size_t n;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF)
			n = 1, cp = c & 0x1F;
		else if (c >= 0xE0 && c <= 0xEF)
			n = 2, cp = c & 0x0F;
		else if (c >= 0xF0 && c <= 0xF4)
			n = 3, cp = c & 0x07;
		else
			return i;
		if (len - i <= n)
			return i;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
			return i;
		i += n + 1;
	}
	return len;
}

/* ---------------------------------------------------------------- decoding */

struct dec {
	lua_State *L;
	int array_mt;  /* stack index of the array metatable */
	/* When the text holds an escaped NUL, strings are re-read from the text: the string
	 * tokens of the text come in the same order as a walk of the tree visits keys and
	 * string values. raw is NULL otherwise. */
	const char *raw, *end;
};

/* Below 2^53 every integer is a double, so an integral double is the number written.
 * From 2^53 on, cJSON may already have rounded the text (2^53 + 1 reads as 2^53), so
 * such numbers stay floats rather than posing as exact integers. */
#define MAX_EXACT 9007199254740992.0 /* 2^53 */

static void push_number(lua_State *L, double d)
{
	if (d == floor(d) && fabs(d) < MAX_EXACT)
		lua_pushinteger(L, (lua_Integer)d);
	else
		lua_pushnumber(L, d);
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v = v << 4 | (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static void add_utf8(luaL_Buffer *b, unsigned cp)
{
	char u[4];
	int n;
	if (cp < 0x80)
		u[0] = (char)cp, n = 1;
	else if (cp < 0x800)
		u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	else if (cp < 0x10000)
		u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	else
		u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F)),
		u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	luaL_addlstring(b, u, (size_t)n);
}

/* Unescape a string token (between its quotes) that cJSON has already accepted. */
static void push_token(lua_State *L, const char *s, const char *e)
{
	static const char simple[128] = {
		['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
		['"'] = '"', ['\\'] = '\\', ['/'] = '/',
	};
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	while (s < e) {
		if (*s != '\\') {
			luaL_addchar(&b, *s++);
		} else if (s[1] != 'u') {
			luaL_addchar(&b, simple[s[1] & 0x7F]);
			s += 2;
		} else {
			unsigned cp = hex4(s + 2);
			s += 6;
			if (cp >= 0xD800 && cp <= 0xDBFF && e - s >= 6 && s[0] == '\\' && s[1] == 'u') {
				cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(s + 2) - 0xDC00);
				s += 6;
			}
			add_utf8(&b, cp);
		}
	}
	luaL_pushresult(&b);
}

static void push_string(struct dec *d, const char *value)
{
	if (d->raw) {
		const char *s = memchr(d->raw, '"', (size_t)(d->end - d->raw)), *p;
		if (s) {
			for (p = s + 1; p < d->end && *p != '"'; p++)
				if (*p == '\\')
					p++;
			d->raw = p + 1;
			if (memchr(s + 1, '\\', (size_t)(p - s - 1))) {
				push_token(d->L, s + 1, p);
				return;
			}
		}
	}
	lua_pushstring(d->L, value);
}

static void push_item(struct dec *d, const cJSON *item);

static void push_array(struct dec *d, const cJSON *item)
{
	lua_State *L = d->L;
	lua_createtable(L, cJSON_GetArraySize(item), 0);
	lua_Integer i = 0;
	for (const cJSON *c = item->child; c; c = c->next) {
		push_item(d, c);
		lua_rawseti(L, -2, ++i);
	}
	if (d->array_mt) {
		lua_pushvalue(L, d->array_mt);
		lua_setmetatable(L, -2);
	}
}

static void push_object(struct dec *d, const cJSON *item)
{
	lua_State *L = d->L;
	lua_createtable(L, 0, cJSON_GetArraySize(item));
	for (const cJSON *c = item->child; c; c = c->next) {
		push_string(d, c->string);
		push_item(d, c);
		lua_rawset(L, -3);
	}
}

static void push_item(struct dec *d, const cJSON *item)
{
	lua_State *L = d->L;
	luaL_checkstack(L, 4, "JSON nested too deeply");
	switch (item->type & 0xFF) {
	case cJSON_False: lua_pushboolean(L, 0); break;
	case cJSON_True: lua_pushboolean(L, 1); break;
	case cJSON_Number: push_number(L, item->valuedouble); break;
	case cJSON_String: push_string(d, item->valuestring); break;
	case cJSON_Array: push_array(d, item); break;
	case cJSON_Object: push_object(d, item); break;
	default: ei_json_pushnull(L); break;
	}
}

void ei_json_push_cjson(lua_State *L, const cJSON *item)
{
	lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
	struct dec d = { L, lua_gettop(L), NULL, NULL };
	push_item(&d, item);
	lua_remove(L, d.array_mt);
}

static int tree_gc(lua_State *L)
{
	cJSON **box = lua_touserdata(L, 1);
	cJSON_Delete(*box);
	*box = NULL;
	return 0;
}

static const char *skip_space(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

/* Deepest nesting of the text before stop, outside strings. */
static int nesting(const char *s, const char *stop)
{
	int depth = 0, max = 0, in_string = 0;
	for (; s < stop; s++) {
		if (in_string) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				in_string = 0;
		} else if (*s == '"') {
			in_string = 1;
		} else if (*s == '[' || *s == '{') {
			if (++depth > max)
				max = depth;
		} else if (*s == ']' || *s == '}') {
			depth--;
		}
	}
	return max;
}

static int parse_error(lua_State *L, const char *s, size_t len, const char *at)
{
	if (skip_space(s, s + len) == s + len)
		lua_pushliteral(L, "malformed JSON: empty text");
	else if (nesting(s, at < s + len ? at + 1 : s + len) > CJSON_NESTING_LIMIT)
		lua_pushfstring(L, "malformed JSON: nested deeper than %d levels", CJSON_NESTING_LIMIT);
	else
		lua_pushfstring(L, "malformed JSON at byte %I", (lua_Integer)(at - s) + 1);
	return 0;
}

static int has_escaped_nul(const char *s, size_t len)
{
	static const char pat[] = "\\u0000";
	const char *end = s + len;
	while ((s = memchr(s, '\\', (size_t)(end - s))) != NULL) {
		if ((size_t)(end - s) >= sizeof pat - 1 && memcmp(s, pat, sizeof pat - 1) == 0)
			return 1;
		s += 2;
		if (s >= end)
			break;
	}
	return 0;
}

int ei_json_decode(lua_State *L, const char *s, size_t len)
{
	const char *end = NULL;
	cJSON **box = lua_newuserdatauv(L, sizeof *box, 0);
	*box = NULL;
	lua_rawgetp(L, LUA_REGISTRYINDEX, &tree_mt_key);
	lua_setmetatable(L, -2);
	*box = cJSON_ParseWithLengthOpts(s, len, &end, 0);
	if (!*box) {
		lua_pop(L, 1);
		return parse_error(L, s, len, end ? end : s);
	}
	end = skip_space(end, s + len);
	if (end != s + len) {
		cJSON_Delete(*box);
		*box = NULL;
		lua_pop(L, 1);
		lua_pushfstring(L, "malformed JSON: unexpected data at byte %I", (lua_Integer)(end - s) + 1);
		return 0;
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
	struct dec d = { L, lua_gettop(L), NULL, NULL };
	if (has_escaped_nul(s, len))
		d.raw = s, d.end = s + len;
	push_item(&d, *box);
	cJSON_Delete(*box);
	*box = NULL;
	lua_replace(L, -3);  /* value over the box */
	lua_pop(L, 1);       /* array metatable */
	return 1;
}

/* ---------------------------------------------------------------- Lua functions */

/* core.decode(text) -> value | nil, message, "EPROTO" */
static int l_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	if (ei_json_decode(L, s, len))
		return 1;
	return ei_fail(L, EI_EPROTO, "%s", lua_tostring(L, -1));
}

int ei_json_encode(lua_State *L, int idx, unsigned schema, const char *root)
{
	struct ei_buf b;
	struct ei_walk_opts o;  /* fields set one by one: err need not be zeroed */
	o.root = root;
	o.out = &b;
	o.deprecated_slot = 0;
	o.unknown_slot = 0;
	idx = lua_absindex(L, idx);
	ei_buf_init(&b, L);
	if (ei_schema_walk(L, idx, schema, &o) != 0) {
		lua_pushstring(L, o.err);
		lua_replace(L, b.slot);
		return 0;
	}
	ei_buf_result(&b);
	return 1;
}

/* core.encode(value [, schema_name]) -> text | nil, message, "EINVAL" */
static int l_encode(lua_State *L)
{
	unsigned schema = EI_SCHEMA_ANY;
	const char *root = "value";
	luaL_checkany(L, 1);
	if (!lua_isnoneornil(L, 2)) {
		size_t n;
		const char *name = luaL_checklstring(L, 2, &n);
		int i = ei_schema_find(name, n);
		if (i < 0)
			return ei_schema_name_error(L, 2, "schema", name, 0);
		schema = (unsigned)i;
		root = name;
	}
	lua_settop(L, 2);
	if (ei_json_encode(L, 1, schema, root))
		return 1;
	return ei_fail(L, EI_EINVAL, "%s", lua_tostring(L, -1));
}

static int mark(lua_State *L, const void *key)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	} else {
		luaL_checktype(L, 1, LUA_TTABLE);
		lua_settop(L, 1);
	}
	lua_rawgetp(L, LUA_REGISTRYINDEX, key);
	lua_setmetatable(L, 1);
	return 1;
}

/* core.array([t]) -> t, encoded as a JSON array even when empty */
static int l_array(lua_State *L)
{
	return mark(L, &array_mt_key);
}

/* core.object([t]) -> t, encoded as a JSON object even when it is a sequence */
static int l_object(lua_State *L)
{
	return mark(L, &object_mt_key);
}

static void new_marker(lua_State *L, const void *key, const char *type)
{
	lua_createtable(L, 0, 2);
	lua_pushstring(L, type);
	lua_setfield(L, -2, "__jsontype");
	lua_pushfstring(L, "ei.%s", type);
	lua_setfield(L, -2, "__name");
	lua_rawsetp(L, LUA_REGISTRYINDEX, key);
}

void ei_json_open(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "decode", l_decode },
		{ "encode", l_encode },
		{ "array", l_array },
		{ "object", l_object },
		{ NULL, NULL },
	};
	new_marker(L, &array_mt_key, "array");
	new_marker(L, &object_mt_key, "object");
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, tree_gc);
	lua_setfield(L, -2, "__gc");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &tree_mt_key);
	ei_json_pushnull(L);
	lua_setfield(L, -2, "null");
	luaL_setfuncs(L, funcs, 0);
}
