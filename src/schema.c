/* The Lua binding of the validator and of the operations: core.validate,
 * core.operation_parts (an operation's call from named arguments), core.operation (its
 * description) and core.operations (every id), and the argument error naming an unknown
 * schema or operation with a suggestion. */
#include <string.h>

#include "core.h"
#include "lookup.h"
#include "operation.h"
#include "schema.h"
#include "suggest.h"
#include "validate.h"

int ei_schema_name_error(lua_State *L, int arg, const char *what, const char *name, int operations)
{
	size_t len = strlen(name);
	int i = operations ? ei_suggest_record(name, len, ei_spec.ops, ei_spec.nops, sizeof *ei_spec.ops)
			   : ei_suggest_record(name, len, ei_spec.names, ei_spec.nnames, sizeof *ei_spec.names);
	if (i < 0)
		return luaL_argerror(L, arg, lua_pushfstring(L, "unknown %s \"%s\"", what, name));
	ei_str s = operations ? ei_spec.ops[i].id : ei_spec.names[i].name;
	return luaL_argerror(L, arg,
		lua_pushfstring(L, "unknown %s \"%s\" (did you mean \"%s\"?)", what, name, EI_POOL(s)));
}

/* Values of the unknown_fields argument: what to do with fields the schemas do not name. */
static const char *const unknown_modes[] = { "error", "warn", "send", NULL };

/* core.operation_parts(operation_id, args[, unknown_fields]) -> method, path_and_query,
 * body, content_type, deprecated, unknown | nil, message, "EINVAL"
 * unknown_fields: "error" (default) refuses fields the schemas do not name; "warn" and
 * "send" pass them through as plain JSON and list their paths in `unknown`. */
static int l_operation_build(lua_State *L)
{
	size_t n;
	const char *id = luaL_checklstring(L, 1, &n);
	int pass = luaL_checkoption(L, 3, "error", unknown_modes) != 0;
	const struct ei_op *op = ei_spec_find_op(id, n);
	if (!op)
		return ei_schema_name_error(L, 1, "operation", id, 1);
	if (lua_isnoneornil(L, 2)) {
		lua_settop(L, 1);
		lua_newtable(L);
	}
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lua_newtable(L);
	lua_newtable(L);
	if (ei_operation_build(L, op, pass) < 0)
		return ei_fail(L, EI_EINVAL, "%s", lua_tostring(L, -1));
	lua_pushstring(L, ei_method_names[op->method]);
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
		lua_pushstring(L, EI_POOL(p->name));
		lua_setfield(L, -2, "name");
		lua_pushboolean(L, p->flags & EI_P_REQUIRED);
		lua_setfield(L, -2, "required");
		lua_pushstring(L, ei_kind_names[s->kind]);
		lua_setfield(L, -2, "type");
		if (p->flags & EI_P_DEPRECATED) {
			lua_pushboolean(L, 1);
			lua_setfield(L, -2, "deprecated");
		}
		if (s->kind == EI_K_STRING && s->count) {
			lua_createtable(L, s->count, 0);
			for (unsigned j = 0; j < s->count; j++) {
				lua_pushstring(L, EI_POOL(ei_spec.enums[s->first + j]));
				lua_rawseti(L, -2, j + 1);
			}
			lua_setfield(L, -2, "enum");
		}
		lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	}
}

/* core.operation(operation_id) -> description | nil */
static int l_operation_describe(lua_State *L)
{
	size_t n;
	const char *id = luaL_checklstring(L, 1, &n);
	const struct ei_op *op = ei_spec_find_op(id, n);
	if (!op)
		return 0;
	lua_createtable(L, 0, 9);
	lua_pushstring(L, EI_POOL(op->id));
	lua_setfield(L, -2, "operation_id");
	lua_pushstring(L, ei_method_names[op->method]);
	lua_setfield(L, -2, "method");
	lua_pushstring(L, EI_POOL(op->path));
	lua_setfield(L, -2, "path");
	push_params(L, op, 1);
	lua_setfield(L, -2, "path_params");
	push_params(L, op, 0);
	lua_setfield(L, -2, "query_params");
	if (op->body != EI_NONE) {
		if (op->body_name) {
			lua_pushstring(L, EI_POOL(op->body_name));
			lua_setfield(L, -2, "body_schema");
		}
		lua_pushboolean(L, op->flags & EI_OP_BODY_REQUIRED);
		lua_setfield(L, -2, "body_required");
		lua_pushstring(L, EI_POOL(op->content_type));
		lua_setfield(L, -2, "content_type");
	}
	lua_pushboolean(L, op->flags & EI_OP_DEPRECATED);
	lua_setfield(L, -2, "deprecated");
	return 1;
}

/* core.operations() -> sorted array of operation ids */
static int l_operation_list(lua_State *L)
{
	lua_createtable(L, (int)ei_spec.nops, 0);
	for (uint32_t i = 0; i < ei_spec.nops; i++) {
		lua_pushstring(L, EI_POOL(ei_spec.ops[i].id));
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* core.validate(schema_name, value[, unknown_fields]) -> true, deprecated_paths, unknown
 * | nil, message, "EINVAL" (unknown_fields as for core.operation_parts) */
static int l_schema_validate(lua_State *L)
{
	size_t n;
	const char *name = luaL_checklstring(L, 1, &n);
	int schema = ei_spec_find_schema(name, n);
	if (schema < 0)
		return ei_schema_name_error(L, 1, "schema", name, 0);
	luaL_checkany(L, 2);
	int pass = luaL_checkoption(L, 3, "error", unknown_modes) != 0;
	lua_settop(L, 2);
	lua_newtable(L);
	lua_newtable(L);
	struct ei_walk_opts o = { .root = name, .deprecated_slot = 3, .unknown_slot = pass ? 4 : 0 };
	if (ei_validate(L, 2, (unsigned)schema, &o))
		return ei_fail(L, EI_EINVAL, "%s", o.err);
	lua_pushboolean(L, 1);
	lua_insert(L, 3);
	return 3;
}

void ei_schema_open(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "validate", l_schema_validate },
		{ "operation_parts", l_operation_build },
		{ "operation", l_operation_describe },
		{ "operations", l_operation_list },
		{ NULL, NULL },
	};
	luaL_setfuncs(L, funcs, 0);
}
