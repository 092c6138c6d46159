/* JSON <-> Lua, the binding: core.decode, core.encode, core.array, core.object, and
 * the decoder they and the client use. Decoding parses with cJSON and converts the
 * tree; encoding is the validator's walk writing text straight into a buffer
 * (validate.c): building a cJSON tree first would cost one malloc per value plus a
 * second pass, and cJSON cannot print integers beyond 2^53 exactly except as raw nodes,
 * so the tree would buy nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <lauxlib.h>

#include "core.h"
#include "json.h"
#include "jsontext.h"
#include "jsonvalue.h"
#include "lookup.h"
#include "schema.h"
#include "validate.h"

static const char tree_mt_key = 't';

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
static void push_number(lua_State *L, double d)
{
	if (d == floor(d) && fabs(d) < EI_MAX_EXACT)
		lua_pushinteger(L, (lua_Integer)d);
	else
		lua_pushnumber(L, d);
}

/* Push a string token (between its quotes, the closing one at e) that cJSON has already
 * accepted, unescaped; 0 (nothing pushed) should the decoder disagree. */
static int push_token(lua_State *L, const char *s, const char *e)
{
	size_t n = (size_t)(e - s);
	luaL_Buffer b;
	ei_buf out;
	ei_buf_init_on(&out, luaL_buffinitsize(L, &b, n + 1), n + 1);
	if (!ei_json_string_decode(s, n + 1, 0, &out)) {
		luaL_pushresultsize(&b, 0);
		lua_pop(L, 1);
		return 0;
	}
	luaL_pushresultsize(&b, out.len);
	return 1;
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
			if (memchr(s + 1, '\\', (size_t)(p - s - 1)) && push_token(d->L, s + 1, p))
				return;
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

static int l_json_tree_gc(lua_State *L)
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
	ei_json_push_marker(L, EI_JSON_ARRAY);
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
static int l_json_decode(lua_State *L)
{
	size_t len;
	const char *s = luaL_checklstring(L, 1, &len);
	if (ei_json_decode(L, s, len))
		return 1;
	return ei_fail(L, EI_EPROTO, "%s", lua_tostring(L, -1));
}

/* core.encode(value [, schema_name]) -> text | nil, message, "EINVAL" */
static int l_json_encode(lua_State *L)
{
	unsigned schema = EI_SCHEMA_ANY;
	const char *root = "value";
	luaL_checkany(L, 1);
	if (!lua_isnoneornil(L, 2)) {
		size_t n;
		const char *name = luaL_checklstring(L, 2, &n);
		int i = ei_spec_find_schema(name, n);
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

static int mark(lua_State *L, enum ei_json_marker which)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	} else {
		luaL_checktype(L, 1, LUA_TTABLE);
		lua_settop(L, 1);
	}
	ei_json_push_marker(L, which);
	lua_setmetatable(L, 1);
	return 1;
}

/* core.array([t]) -> t, encoded as a JSON array even when empty */
static int l_json_array(lua_State *L)
{
	return mark(L, EI_JSON_ARRAY);
}

/* core.object([t]) -> t, encoded as a JSON object even when it is a sequence */
static int l_json_object(lua_State *L)
{
	return mark(L, EI_JSON_OBJECT);
}

void ei_json_open(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "decode", l_json_decode },
		{ "encode", l_json_encode },
		{ "array", l_json_array },
		{ "object", l_json_object },
		{ NULL, NULL },
	};
	ei_json_markers_open(L);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, l_json_tree_gc);
	lua_setfield(L, -2, "__gc");
	lua_rawsetp(L, LUA_REGISTRYINDEX, &tree_mt_key);
	ei_json_pushnull(L);
	lua_setfield(L, -2, "null");
	luaL_setfuncs(L, funcs, 0);
}
