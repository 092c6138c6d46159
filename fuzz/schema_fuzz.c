/* libFuzzer target: the schema validator (validate.c walking the generated tables
 * of src/gen/spec.c) fed Lua values that a small generator builds from the input,
 * guided by the schema so that the walk goes deep: keys are mostly the schema's
 * own property names (sometimes misspelt), strings mostly its enum values,
 * numbers near its limits, union branches tagged by their discriminator, and
 * now and then noise: the null sentinel, NaN, infinities, invalid UTF-8,
 * non-string keys, cycles, functions, userdata, marked arrays and objects,
 * nesting past the depth limit. The value goes through the entry points Lua
 * uses: core.validate, core.encode (with and without a schema), core.operation_parts.
 *
 * Input: an operation byte (% 4: 0 and 1 validate and encode with the schema,
 * which must agree; 2 encode without one; 3 request), a schema name or
 * operationId up to a NUL (one chosen by hash when it names none), then the
 * generator's bytes; a request takes one more byte last, its unknown-fields mode
 * (% 3: error, warn, send). */
#include <math.h>

#include "fuzz.h"
#include "json.h"
#include "jsonvalue.h"
#include "lookup.h"

#define POOL(s) EI_POOL(s)
#define MAX_NODES 3000
#define MAX_GEN_DEPTH 72 /* past the validator's 64 */
#define MAX_STRING 300

typedef struct {
	fz_input in;
	int nodes;
	int ancestors[MAX_GEN_DEPTH + 2]; /* stack slots of the tables being filled */
	int depth;
	const void *array_mt, *object_mt;
} gen;

static void gen_value(lua_State *L, gen *g, unsigned schema);

static unsigned hash(const char *s, size_t n)
{
	unsigned h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* ---- scalars ------------------------------------------------------------- */

static void push_random_string(lua_State *L, gen *g)
{
	size_t n;
	const char *p = fz_bytes(&g->in, fz_u8(&g->in) % 48, &n);
	if (n && (unsigned char)p[0] == 0xFF) { /* long: past the 40 bytes quoted in messages */
		luaL_Buffer b;
		luaL_buffinit(L, &b);
		for (size_t i = 0; i < MAX_STRING / (n ? n : 1); i++)
			luaL_addlstring(&b, p, n);
		luaL_pushresult(&b);
		return;
	}
	lua_pushlstring(L, p, n);
}

/* A string close to s: one byte changed, dropped or doubled, or the case flipped. */
static void push_misspelt(lua_State *L, gen *g, const char *s, size_t n)
{
	char buf[256];
	unsigned how = fz_u8(&g->in);
	size_t at = n ? fz_u8(&g->in) % n : 0;
	if (n > sizeof buf - 2)
		n = sizeof buf - 2;
	memcpy(buf, s, n);
	switch (how % 4) {
	case 0:
		if (n)
			buf[at] = (char)fz_u8(&g->in);
		break;
	case 1:
		if (n)
			memmove(buf + at, buf + at + 1, n - at - 1), n--;
		break;
	case 2:
		memmove(buf + at + 1, buf + at, n - at), n++;
		break;
	default:
		for (size_t i = 0; i < n; i++)
			if ((buf[i] | 0x20) >= 'a' && (buf[i] | 0x20) <= 'z')
				buf[i] ^= 0x20;
		break;
	}
	lua_pushlstring(L, buf, n);
}

static double special_double(unsigned c)
{
	static const double specials[] = { 0.0, -0.0, 0.5, -1.5, 1e-7, 1e15, 1e300, -1e300, 9007199254740992.0,
					   9223372036854775808.0, 4.9e-324, 0.1, 123456.789 };
	switch (c % 16) {
	case 13: return NAN;
	case 14: return HUGE_VAL;
	case 15: return -HUGE_VAL;
	default: return specials[c % 13];
	}
}

static void push_number(lua_State *L, gen *g, const struct ei_schema *s)
{
	unsigned c = fz_u8(&g->in);
	const struct ei_limits *lim = s->extra != EI_NONE ? &ei_spec.limits[s->extra] : NULL;
	double d;
	uint64_t bits;
	switch (c % 10) {
	case 0:
	case 1:
		lua_pushinteger(L, (lua_Integer)(int8_t)fz_u8(&g->in));
		break;
	case 2: /* at a limit, or just past it */
	case 3:
		d = lim ? ((c & 16) ? lim->max : lim->min) : 0;
		if (c % 10 == 3)
			d += (c & 16) ? 1 : -1;
		if (isfinite(d) && d == floor(d) && fabs(d) < 9e18)
			lua_pushinteger(L, (lua_Integer)d);
		else
			lua_pushnumber(L, d);
		break;
	case 4:
		lua_pushinteger(L, (lua_Integer)fz_u64(&g->in));
		break;
	case 5:
		lua_pushnumber(L, (double)(int8_t)fz_u8(&g->in)); /* a float with an integral value */
		break;
	case 6:
		bits = fz_u64(&g->in);
		memcpy(&d, &bits, sizeof d);
		lua_pushnumber(L, d);
		break;
	case 7:
		lua_pushinteger(L, (c & 16) ? LUA_MAXINTEGER : LUA_MININTEGER);
		break;
	default:
		lua_pushnumber(L, special_double(fz_u8(&g->in)));
		break;
	}
}

static void push_string(lua_State *L, gen *g, const struct ei_schema *s)
{
	unsigned c = fz_u8(&g->in);
	if (s->count && c % 4 != 3) {
		ei_str e = ei_spec.enums[s->first + fz_u8(&g->in) % s->count];
		if (c % 4 == 2)
			push_misspelt(L, g, POOL(e), EI_STR_LEN(e));
		else
			lua_pushlstring(L, POOL(e), EI_STR_LEN(e));
		return;
	}
	push_random_string(L, g);
}

/* ---- tables -------------------------------------------------------------- */

static void mark(lua_State *L, gen *g, unsigned c)
{
	const void *mt = c % 8 == 0 ? g->array_mt : c % 8 == 1 ? g->object_mt : NULL;
	if (!mt)
		return;
	lua_pushstring(L, c % 8 == 0 ? "array" : "object");
	lua_gettable(L, 1); /* core.array / core.object */
	lua_pushvalue(L, -2);
	lua_call(L, 1, 0);
}

static int enter(lua_State *L, gen *g)
{
	luaL_checkstack(L, 16, "generator");
	lua_newtable(L);
	g->ancestors[g->depth++] = lua_gettop(L);
	return lua_gettop(L);
}

static void leave(gen *g)
{
	g->depth--;
}

/* t[key] = value, the key and value on top of the stack; a NaN or nil key is dropped. */
static void set(lua_State *L, int t)
{
	if (lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2))) {
		lua_pop(L, 2);
		return;
	}
	lua_rawset(L, t);
}

static void push_key(lua_State *L, gen *g, const struct ei_schema *s)
{
	unsigned c = fz_u8(&g->in);
	const struct ei_prop *props = s->kind == EI_K_OBJECT ? &ei_spec.props[s->first] : NULL;
	size_t n = props ? s->count : 0;
	if (c < 200 && n) {
		ei_str name = props[fz_u8(&g->in) % n].name;
		lua_pushlstring(L, POOL(name), EI_STR_LEN(name));
	} else if (c < 225 && n) {
		ei_str name = props[fz_u8(&g->in) % n].name;
		push_misspelt(L, g, POOL(name), EI_STR_LEN(name));
	} else if (c < 250) {
		push_random_string(L, g);
	} else if (c == 250) {
		lua_pushinteger(L, (lua_Integer)(int8_t)fz_u8(&g->in));
	} else if (c == 251) {
		lua_pushnumber(L, special_double(fz_u8(&g->in)));
	} else if (c == 252) {
		lua_pushboolean(L, fz_u8(&g->in) & 1);
	} else {
		lua_pushstring(L, "a-key-longer-than-any-name-the-suggestions-look-at-and-than-what-an-unknown-"
				  "argument-message-quotes-0123456789012345678901234567890123456789");
	}
}

static void push_object(lua_State *L, gen *g, const struct ei_schema *s)
{
	unsigned c = fz_u8(&g->in);
	int t = enter(L, g);
	/* the required properties first, mostly */
	if (c & 1)
		for (unsigned i = 0; i < s->count && s->nreq; i++) {
			const struct ei_prop *p = &ei_spec.props[s->first + i];
			if (!(p->flags & EI_P_REQUIRED) || fz_u8(&g->in) == 0)
				continue;
			lua_pushlstring(L, POOL(p->name), EI_STR_LEN(p->name));
			gen_value(L, g, p->schema);
			set(L, t);
		}
	size_t n = (c >> 1) % 8 == 7 ? 40 : (c >> 1) % 8;
	for (size_t i = 0; i < n && g->in.n; i++) {
		push_key(L, g, s);
		unsigned schema = EI_SCHEMA_ANY;
		if (lua_type(L, -1) == LUA_TSTRING && s->kind == EI_K_OBJECT) {
			size_t len;
			const char *k = lua_tolstring(L, -1, &len);
			schema = s->extra != EI_NONE ? s->extra : EI_SCHEMA_ANY;
			for (unsigned j = 0; j < s->count; j++) {
				ei_str name = ei_spec.props[s->first + j].name;
				if (EI_STR_LEN(name) == len && memcmp(POOL(name), k, len) == 0)
					schema = ei_spec.props[s->first + j].schema;
			}
		}
		gen_value(L, g, schema);
		set(L, t);
	}
	mark(L, g, c >> 4);
	leave(g);
}

static void push_array(lua_State *L, gen *g, unsigned items, const struct ei_schema *s)
{
	unsigned c = fz_u8(&g->in);
	int t = enter(L, g);
	size_t n = c % 8;
	if (c % 8 == 7) {
		const struct ei_limits *lim = s && s->extra != EI_NONE ? &ei_spec.limits[s->extra] : NULL;
		n = lim && lim->max < 60 ? (size_t)lim->max + 1 : 60;
	}
	for (size_t i = 1; i <= n && g->in.n; i++) {
		gen_value(L, g, items);
		lua_rawseti(L, t, (lua_Integer)i);
	}
	if ((c >> 3) % 8 == 0) { /* a hole, or a key that is not an index */
		lua_pushinteger(L, 0);
		if (c & 64)
			lua_rawseti(L, t, (lua_Integer)n + 2);
		else
			lua_setfield(L, t, "n");
	}
	mark(L, g, c >> 5);
	leave(g);
}

/* A free-form JSON-ish value. */
static void push_any(lua_State *L, gen *g)
{
	static const struct ei_schema open_object = { EI_K_OBJECT, 0, 0, 0, EI_SCHEMA_ANY, 0 };
	static const struct ei_schema number = { EI_K_NUMBER, 0, 0, 0, EI_NONE, 0 };
	static const struct ei_schema string = { EI_K_STRING, 0, 0, 0, EI_NONE, 0 };
	switch (fz_u8(&g->in) % 7) {
	case 0: ei_json_pushnull(L); break;
	case 1: lua_pushboolean(L, fz_u8(&g->in) & 1); break;
	case 2: push_number(L, g, &number); break;
	case 3: push_string(L, g, &string); break;
	case 4: push_array(L, g, EI_SCHEMA_ANY, NULL); break;
	default: push_object(L, g, &open_object); break;
	}
}

static int a_function(lua_State *L)
{
	(void)L;
	return 0;
}

/* Values no JSON document holds, and shapes the validator must refuse. */
static void push_noise(lua_State *L, gen *g)
{
	static int somewhere;
	unsigned c = fz_u8(&g->in);
	switch (c % 12) {
	case 0: ei_json_pushnull(L); break;
	case 1: lua_pushnumber(L, NAN); break;
	case 2: lua_pushnumber(L, (c & 16) ? HUGE_VAL : -HUGE_VAL); break;
	case 3: push_random_string(L, g); break;
	case 4: lua_pushcfunction(L, a_function); break;
	case 5: lua_newuserdatauv(L, 8, 0); break;
	case 6: lua_pushlightuserdata(L, &somewhere); break;
	case 7: lua_newthread(L); break;
	case 8: /* a cycle: one of the tables being built */
		if (g->depth)
			lua_pushvalue(L, g->ancestors[fz_u8(&g->in) % g->depth]);
		else
			lua_newtable(L);
		break;
	case 9: /* nested past the validator's limit */
		luaL_checkstack(L, 4, "generator");
		lua_newtable(L);
		for (int i = 0; i < 70; i++) {
			lua_newtable(L);
			lua_pushvalue(L, -2);
			lua_rawseti(L, -2, 1);
			lua_remove(L, -2);
		}
		break;
	case 10: lua_pushboolean(L, c & 16); break;
	default: push_any(L, g); break;
	}
}

static void gen_value(lua_State *L, gen *g, unsigned schema)
{
	const struct ei_schema *s = &ei_spec.schemas[schema];
	luaL_checkstack(L, 16, "generator");
	if (++g->nodes > MAX_NODES || g->depth >= MAX_GEN_DEPTH || !g->in.n) {
		lua_pushinteger(L, 1);
		return;
	}
	unsigned c = fz_u8(&g->in);
	if (c >= 232) {
		push_noise(L, g);
		return;
	}
	if (c >= 224 && (s->flags & EI_S_NULLABLE)) {
		ei_json_pushnull(L);
		return;
	}
	switch (s->kind) {
	case EI_K_BOOLEAN: lua_pushboolean(L, c & 1); break;
	case EI_K_INTEGER:
	case EI_K_NUMBER: push_number(L, g, s); break;
	case EI_K_STRING: push_string(L, g, s); break;
	case EI_K_ARRAY: push_array(L, g, s->first, s); break;
	case EI_K_OBJECT: push_object(L, g, s); break;
	case EI_K_UNION: {
		const struct ei_branch *br = &ei_spec.branches[s->first + fz_u8(&g->in) % s->count];
		gen_value(L, g, br->schema);
		if (s->extra != EI_NONE && lua_type(L, -1) == LUA_TTABLE && !(c & 1)) {
			ei_str d = ei_spec.discs[s->extra];
			lua_pushlstring(L, POOL(d), EI_STR_LEN(d));
			if (c & 2)
				push_misspelt(L, g, POOL(br->tag), EI_STR_LEN(br->tag));
			else
				lua_pushlstring(L, POOL(br->tag), EI_STR_LEN(br->tag));
			lua_rawset(L, -3);
		}
		break;
	}
	default: push_any(L, g); break;
	}
}

/* ---- the calls ----------------------------------------------------------- */

/* Text an encoder produced is JSON that decodes. */
static void check_json(lua_State *L, int idx)
{
	size_t n;
	const char *s = lua_tolstring(L, idx, &n);
	FZ_CHECK(s != NULL);
	FZ_CHECK(ei_json_decode(L, s, n));
	lua_pop(L, 1);
}

static void check_deprecated(lua_State *L, int idx)
{
	FZ_CHECK(lua_type(L, idx) == LUA_TTABLE);
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	for (lua_Integer i = 1; i <= n; i++) {
		FZ_CHECK(lua_rawgeti(L, idx, i) == LUA_TSTRING);
		lua_pop(L, 1);
	}
}

static const struct ei_op *find_op(const char *name, size_t len)
{
	for (uint32_t i = 0; i < ei_spec.nops; i++)
		if (EI_STR_LEN(ei_spec.ops[i].id) == len && memcmp(POOL(ei_spec.ops[i].id), name, len) == 0)
			return &ei_spec.ops[i];
	return NULL;
}

/* The operation named, or one chosen by the name's hash. */
static const struct ei_op *pick_op(const char *name, size_t len)
{
	const struct ei_op *op = find_op(name, len);
	return op ? op : &ei_spec.ops[hash(name, len) % ei_spec.nops];
}

static void call_request(lua_State *L, gen *g, const char *name, size_t len)
{
	const struct ei_op *op = pick_op(name, len);
	lua_pushstring(L, POOL(op->id));
	int args = enter(L, g);
	for (unsigned i = 0; i < op->nparams; i++) {
		const struct ei_param *p = &ei_spec.params[op->params + i];
		if (fz_u8(&g->in) >= 224)
			continue;
		lua_pushlstring(L, POOL(p->name), EI_STR_LEN(p->name));
		gen_value(L, g, p->schema);
		set(L, args);
	}
	unsigned c = fz_u8(&g->in);
	if (op->body != EI_NONE ? c < 224 : c == 224) {
		lua_pushliteral(L, "body");
		gen_value(L, g, op->body != EI_NONE ? op->body : EI_SCHEMA_ANY);
		set(L, args);
	}
	if (c % 8 == 1 && op->nparams) { /* an argument misspelt */
		ei_str pn = ei_spec.params[op->params + fz_u8(&g->in) % op->nparams].name;
		push_misspelt(L, g, POOL(pn), EI_STR_LEN(pn));
		lua_pushinteger(L, 1);
		set(L, args);
	} else if (c % 8 == 2) {
		lua_pushinteger(L, 1);
		lua_pushboolean(L, 1);
		set(L, args);
	}
	leave(g);
	/* the unknown-fields mode: read last, so that inputs without it mean "error" */
	static const char *const modes[] = { "error", "warn", "send" };
	unsigned mode = fz_u8(&g->in) % 3;
	lua_pushstring(L, modes[mode]);
	int base = lua_gettop(L) - 3;
	int nres = fz_call_core(L, "operation_parts", 3);
	if (lua_isnil(L, base + 1)) {
		fz_check_failure(L, base + 1, nres, "EINVAL");
		return;
	}
	FZ_CHECK(nres == 6);
	FZ_CHECK(lua_istable(L, base + 6));
	FZ_CHECK(mode != 0 || lua_rawlen(L, base + 6) == 0);
	FZ_CHECK(lua_type(L, base + 1) == LUA_TSTRING);
	FZ_CHECK(lua_type(L, base + 2) == LUA_TSTRING && lua_tostring(L, base + 2)[0] == '/');
	FZ_CHECK(!strchr(lua_tostring(L, base + 2), '{'));
	if (lua_type(L, base + 4) == LUA_TSTRING && strstr(lua_tostring(L, base + 4), "json") &&
	    lua_type(L, base + 3) == LUA_TSTRING)
		check_json(L, base + 3);
	check_deprecated(L, base + 5);
}

/* An unknown schema or operation name is misuse: core[fn] raises an argument
 * error (with a suggestion, when one is close). */
static void check_unknown_name(lua_State *L, const char *fn, const char *name, size_t len, int arg)
{
	lua_getfield(L, 1, fn);
	if (arg == 2)
		lua_newtable(L);
	lua_pushlstring(L, name, len);
	if (arg == 1)
		lua_newtable(L);
	FZ_CHECK(lua_pcall(L, 2, 0, 0) == LUA_ERRRUN);
	FZ_CHECK(lua_type(L, -1) == LUA_TSTRING && strstr(lua_tostring(L, -1), "unknown"));
	lua_pop(L, 1);
}

static int run(lua_State *L)
{
	gen *g = lua_touserdata(L, 2);
	unsigned raw = fz_u8(&g->in), op = raw % 4;
	size_t len;
	const char *name = fz_cstring(&g->in, &len);
	ei_json_markers(L, &g->array_mt, &g->object_mt);
	if (op == 3) {
		int known = find_op(name, len) != NULL;
		lua_getfield(L, 1, "operation");
		lua_pushlstring(L, name, len);
		lua_call(L, 1, 1);
		FZ_CHECK(known ? lua_istable(L, -1) : lua_isnil(L, -1));
		lua_pop(L, 1);
		if (!known && (raw & 0x1C) == 4)
			check_unknown_name(L, "operation_parts", name, len, 1);
		call_request(L, g, name, len);
		return 0;
	}
	int schema = ei_spec_find_schema(name, len);
	const char *sname;
	if (schema < 0 && (raw & 0x1C) == 4)
		check_unknown_name(L, op == 0 ? "validate" : "encode", name, len, op == 0 ? 1 : 2);
	if (schema < 0) {
		const struct ei_named *nm = &ei_spec.names[hash(name, len) % ei_spec.nnames];
		schema = nm->schema;
		sname = POOL(nm->name);
	} else {
		lua_pushlstring(L, name, len);
		sname = lua_tostring(L, -1);
	}
	gen_value(L, g, (unsigned)schema);
	int value = lua_gettop(L), nres;
	if (op == 2) {
		lua_pushvalue(L, value);
		nres = fz_call_core(L, "encode", 1);
		if (lua_isnil(L, value + 1)) {
			fz_check_failure(L, value + 1, nres, "EINVAL");
		} else {
			FZ_CHECK(nres == 1);
			check_json(L, value + 1);
		}
		return 0;
	}
	/* core.validate and core.encode walk the value the same way, so they agree:
	 * the same message, except that validating accepts any bytes in a binary
	 * string, which JSON text cannot hold (encoding stops there, validating may
	 * find another error further on). */
	lua_pushstring(L, sname);
	lua_pushvalue(L, value);
	nres = fz_call_core(L, "validate", 2);
	int valid = !lua_isnil(L, value + 1);
	if (valid) {
		FZ_CHECK(nres == 3 && lua_toboolean(L, value + 1));
		check_deprecated(L, value + 2);
	} else {
		fz_check_failure(L, value + 1, nres, "EINVAL");
	}
	int enc = lua_gettop(L) + 1;
	lua_pushvalue(L, value);
	lua_pushstring(L, sname);
	nres = fz_call_core(L, "encode", 2);
	if (!lua_isnil(L, enc)) {
		FZ_CHECK(nres == 1 && valid);
		check_json(L, enc);
	} else {
		fz_check_failure(L, enc, nres, "EINVAL");
		const char *why = lua_tostring(L, enc + 1);
		if (valid)
			FZ_CHECK(strstr(why, "invalid UTF-8"));
		else if (strcmp(why, lua_tostring(L, value + 2)) != 0 && !strstr(why, "invalid UTF-8")) {
			fprintf(stderr, "validate: %s\nencode:   %s\n", lua_tostring(L, value + 2),
				lua_tostring(L, enc + 1));
			FZ_CHECK(!"core.validate and core.encode disagree");
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gen g = { .in = { data, size } };
	lua_State *L = fz_lua_open();
	fz_pcall(L, run, &g);
	lua_close(L);
	return 0;
}
