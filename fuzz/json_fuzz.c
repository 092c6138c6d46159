/* libFuzzer target: JSON text -> Lua through ei_json_decode (core.decode) in a
 * real lua_State; the value is walked, encoded back without a schema
 * (ei_json_encode, core.encode) and decoded again: the round trip must give an
 * equal value and the same text. The text also goes through cJSON's own tree,
 * converted here by a reference written apart from the decoder, which must agree
 * with ei_json_decode; the number
 * writers get the bit patterns of the first bytes. The input is
 * the JSON text itself; each input gets a fresh state, closed after it. */
#include <math.h>

#include <cJSON.h>

#include "fuzz.h"
#include "json.h"
#include "jsontext.h"
#include "jsonvalue.h"
#include "spec.h"
#include "validate.h"

typedef struct {
	const char *text;
	size_t len;
} job;

/* A decoded value: objects have string keys, arrays (marked) keys 1..n. */
static void walk(lua_State *L, int idx, const void *array_mt)
{
	luaL_checkstack(L, 4, "walk");
	size_t len;
	switch (lua_type(L, idx)) {
	case LUA_TSTRING:
		lua_tolstring(L, idx, &len);
		break;
	case LUA_TNUMBER:
	case LUA_TBOOLEAN:
		break;
	case LUA_TLIGHTUSERDATA:
		FZ_CHECK(ei_json_isnull(L, idx));
		break;
	case LUA_TTABLE: {
		int is_array = 0;
		idx = lua_absindex(L, idx);
		if (lua_getmetatable(L, idx)) {
			is_array = lua_topointer(L, -1) == array_mt;
			lua_pop(L, 1);
		}
		lua_Integer count = 0;
		lua_pushnil(L);
		while (lua_next(L, idx)) {
			count++;
			if (is_array)
				FZ_CHECK(lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1);
			else
				FZ_CHECK(lua_type(L, -2) == LUA_TSTRING);
			walk(L, lua_gettop(L), array_mt);
			lua_pop(L, 1);
		}
		if (is_array)
			FZ_CHECK((lua_Integer)lua_rawlen(L, idx) == count);
		break;
	}
	default:
		FZ_CHECK(!"a decoded value of an unexpected type");
	}
}

/* Raw equality of two decoded values, metatables included. */
static int equal(lua_State *L, int a, int b)
{
	luaL_checkstack(L, 6, "equal");
	a = lua_absindex(L, a);
	b = lua_absindex(L, b);
	int t = lua_type(L, a);
	if (t != lua_type(L, b))
		return 0;
	if (t == LUA_TNUMBER)
		return lua_isinteger(L, a) == lua_isinteger(L, b) && lua_rawequal(L, a, b);
	if (t != LUA_TTABLE)
		return lua_rawequal(L, a, b);
	int ma = lua_getmetatable(L, a), mb = lua_getmetatable(L, b);
	int same_mt = ma == mb && (!ma || lua_rawequal(L, -1, -2));
	lua_pop(L, ma + mb);
	if (!same_mt)
		return 0;
	lua_Integer na = 0, nb = 0;
	lua_pushnil(L);
	while (lua_next(L, a)) {
		na++;
		lua_pushvalue(L, -2);
		lua_rawget(L, b);
		int eq = equal(L, -2, -1);
		lua_pop(L, 2);
		if (!eq) {
			lua_pop(L, 1);
			return 0;
		}
	}
	lua_pushnil(L);
	while (lua_next(L, b)) {
		nb++;
		lua_pop(L, 1);
	}
	return na == nb;
}

static int has_escaped_nul(const char *s, size_t n)
{
	for (size_t i = 0; i + 6 <= n; i++)
		if (memcmp(s + i, "\\u0000", 6) == 0)
			return 1;
	return 0;
}

/* cJSON's tree of the text, owned by a userdata so that a Lua error frees it. */
static int tree_gc(lua_State *L)
{
	cJSON **box = lua_touserdata(L, 1);
	cJSON_Delete(*box);
	*box = NULL;
	return 0;
}

/* The reference conversion: cJSON's tree as the decoder's contract describes the
 * value (json.h), the array marker at stack index array_mt. */
static void push_reference(lua_State *L, const cJSON *item, int array_mt)
{
	luaL_checkstack(L, 4, "reference");
	switch (item->type & 0xFF) {
	case cJSON_False:
	case cJSON_True: lua_pushboolean(L, cJSON_IsTrue(item)); break;
	case cJSON_Number:
		if (item->valuedouble == floor(item->valuedouble) && fabs(item->valuedouble) < EI_MAX_EXACT)
			lua_pushinteger(L, (lua_Integer)item->valuedouble);
		else
			lua_pushnumber(L, item->valuedouble);
		break;
	case cJSON_String: lua_pushstring(L, item->valuestring); break;
	case cJSON_Array: {
		lua_Integer i = 0;
		lua_newtable(L);
		for (const cJSON *c = item->child; c; c = c->next) {
			push_reference(L, c, array_mt);
			lua_rawseti(L, -2, ++i);
		}
		lua_pushvalue(L, array_mt);
		lua_setmetatable(L, -2);
		break;
	}
	case cJSON_Object:
		lua_newtable(L);
		for (const cJSON *c = item->child; c; c = c->next) {
			lua_pushstring(L, c->string);
			push_reference(L, c, array_mt);
			lua_rawset(L, -3);
		}
		break;
	default: ei_json_pushnull(L); break;
	}
}

static void push_tree(lua_State *L, job *j)
{
	cJSON **box = lua_newuserdatauv(L, sizeof *box, 0);
	const char *end = NULL;
	*box = NULL;
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, tree_gc);
	lua_setfield(L, -2, "__gc");
	lua_setmetatable(L, -2);
	*box = cJSON_ParseWithLengthOpts(j->text, j->len, &end, 0);
	FZ_CHECK(*box != NULL);
	ei_json_push_marker(L, EI_JSON_ARRAY);
	push_reference(L, *box, lua_gettop(L));
	lua_remove(L, -2);
}

/* The number writers on the bit patterns of the first bytes: an integer comes
 * out as %lld writes it, a finite float reads back as itself, others fail. */
static void check_numbers(lua_State *L, const job *j)
{
	uint64_t bits = 0;
	double d;
	char want[32];
	memcpy(&bits, j->text, j->len < sizeof bits ? j->len : sizeof bits);
	lua_pushinteger(L, (lua_Integer)bits);
	FZ_CHECK(ei_json_encode(L, -1, EI_SCHEMA_ANY, "value"));
	snprintf(want, sizeof want, "%lld", (long long)(lua_Integer)bits);
	FZ_CHECK(strcmp(lua_tostring(L, -1), want) == 0);
	lua_pop(L, 2);
	memcpy(&d, &bits, sizeof d);
	lua_pushnumber(L, d);
	if (ei_json_encode(L, -1, EI_SCHEMA_ANY, "value")) {
		FZ_CHECK(isfinite(d) && strtod(lua_tostring(L, -1), NULL) == d);
	} else {
		FZ_CHECK(!isfinite(d));
	}
	lua_pop(L, 2);
}

static int run(lua_State *L)
{
	job *j = lua_touserdata(L, 2);
	const void *array_mt, *object_mt;
	ei_json_markers(L, &array_mt, &object_mt);
	check_numbers(L, j);

	if (!ei_json_decode(L, j->text, j->len)) {
		FZ_CHECK(lua_type(L, -1) == LUA_TSTRING);
		FZ_CHECK(strncmp(lua_tostring(L, -1), "malformed JSON", 14) == 0);
		return 0;
	}
	int v1 = lua_gettop(L);
	walk(L, v1, array_mt);

	/* cJSON cuts strings at an escaped NUL; ei_json_decode does not. */
	if (!has_escaped_nul(j->text, j->len)) {
		push_tree(L, j);
		FZ_CHECK(equal(L, v1, -1));
		lua_pop(L, 2);
	}

	/* Decoded strings may hold any bytes; only valid UTF-8 encodes. */
	if (!ei_json_encode(L, v1, EI_SCHEMA_ANY, "value")) {
		FZ_CHECK(lua_type(L, -1) == LUA_TSTRING);
		return 0;
	}
	size_t n1, n2;
	int t1_slot = lua_gettop(L);
	const char *t1 = lua_tolstring(L, t1_slot, &n1);
	FZ_CHECK(ei_json_decode(L, t1, n1));
	FZ_CHECK(equal(L, v1, -1));
	FZ_CHECK(ei_json_encode(L, -1, EI_SCHEMA_ANY, "value"));
	const char *t2 = lua_tolstring(L, -1, &n2);
	FZ_CHECK(n1 == n2 && memcmp(t1, t2, n1) == 0);

	/* core.decode and core.encode: the Lua entry points over the same functions. */
	lua_pushvalue(L, v1);
	int nres = fz_call_core(L, "encode", 1);
	FZ_CHECK(nres == 1 && lua_rawequal(L, -1, t1_slot));
	nres = fz_call_core(L, "decode", 1);
	FZ_CHECK(nres == 1 && equal(L, v1, -1));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	job j = { (const char *)data, size };
	lua_State *L = fz_lua_open();
	fz_pcall(L, run, &j);
	lua_close(L);
	return 0;
}
