/* An operation's call built from its named arguments (operation.h): each argument
 * checked against its parameter's schema, path parameters put into the path template
 * and query parameters appended, both percent-encoded, and the body validated (and
 * written as JSON when the operation sends JSON). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "jsonwrite.h"
#include "lookup.h"
#include "luabuf.h"
#include "message.h"
#include "operation.h"
#include "suggest.h"
#include "validate.h"

struct call {
	lua_State *L;
	const struct ei_op *op;
	struct ei_walk_opts o;  /* args at 2, deprecated paths at 3, unknown fields at 4 */
};

static int call_fail(struct call *r, const char *fmt, ...)
{
	va_list ap;
	struct ei_msg b = { r->o.err, 0, EI_ERRLEN };
	b.p[0] = '\0';
	va_start(ap, fmt);
	ei_msg_vprintf(&b, fmt, ap);
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
	return EI_POOL(s);
}

static int is_arg(const struct ei_op *op, const char *key, size_t len)
{
	return (op->body != EI_NONE && ei_cmp_bytes(key, len, "body", 4) == 0) || ei_spec_find_param(op, key, len);
}

/* Unknown arguments are reported first in byte order, for a stable message. */
static int check_args(struct call *r)
{
	lua_State *L = r->L;
	const struct ei_op *op = r->op;
	struct ei_msg b = { r->o.err, 0, EI_ERRLEN };
	char worst[EI_SUGGEST_MAX * 2];
	size_t wlen = (size_t)-1;
	lua_pushnil(L);
	while (lua_next(L, 2)) {
		size_t len;
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING) {
			ei_msg_str(&b, "args: unexpected key ");
			ei_msg_key(&b, L, -1);
			ei_msg_str(&b, " (arguments are named)");
			lua_pop(L, 1);
			return -1;
		}
		const char *key = lua_tolstring(L, -1, &len);
		if (is_arg(op, key, len))
			continue;
		if (len > sizeof worst)
			len = sizeof worst;
		if (wlen == (size_t)-1 || ei_cmp_bytes(key, len, worst, wlen) < 0)
			memcpy(worst, key, len), wlen = len;
	}
	if (wlen == (size_t)-1)
		return 0;
	if (ei_is_ident(worst, wlen))
		ei_msg_add(&b, worst, wlen);
	else
		ei_msg_quote(&b, worst, wlen);
	ei_msg_str(&b, ": unknown argument");
	int i = ei_suggest(worst, wlen, arg_candidate, op, op->nparams + (op->body != EI_NONE));
	if (i >= 0) {
		size_t n;
		const char *name = arg_candidate(op, (size_t)i, &n);
		ei_msg_printf(&b, " (did you mean \"%s\"?)", name);
	}
	return -1;
}

/* Percent-encode all but RFC 3986 unreserved characters. */
static void add_escaped(ei_luabuf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			ei_luabuf_putc(b, (char)c);
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };
			ei_luabuf_add(b, e, 3);
		}
	}
}

/* A validated scalar as URL text: booleans true/false, integral numbers as integers. */
static void add_param_value(ei_luabuf *b, lua_State *L, int idx)
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
static int param_value(struct call *r, const struct ei_param *p)
{
	lua_State *L = r->L;
	lua_pushlstring(L, EI_POOL(p->name), EI_STR_LEN(p->name));
	if (lua_rawget(L, 2) == LUA_TNIL) {
		lua_pop(L, 1);
		if (!(p->flags & EI_P_REQUIRED))
			return 0;
		return call_fail(r, "%s: missing required %s parameter", EI_POOL(p->name),
			(p->flags & EI_P_PATH) ? "path" : "query");
	}
	r->o.root = EI_POOL(p->name);
	r->o.out = NULL;
	if (!boolean_as_text(L, p) && ei_validate(L, -1, p->schema, &r->o)) {
		lua_pop(L, 1);
		return -1;
	}
	if (p->flags & EI_P_DEPRECATED) {
		lua_pushstring(L, EI_POOL(p->name));
		lua_rawseti(L, 3, (lua_Integer)lua_rawlen(L, 3) + 1);
	}
	return 1;
}

static int build_path(struct call *r, ei_luabuf *b)
{
	const char *t = EI_POOL(r->op->path), *end = t + EI_STR_LEN(r->op->path);
	while (t < end) {
		const char *open = memchr(t, '{', (size_t)(end - t));
		if (!open) {
			ei_luabuf_add(b, t, (size_t)(end - t));
			break;
		}
		const char *close = memchr(open, '}', (size_t)(end - open));
		ei_luabuf_add(b, t, (size_t)(open - t));
		if (param_value(r, ei_spec_find_param(r->op, open + 1, (size_t)(close - open - 1))) < 0)
			return -1;
		add_param_value(b, r->L, -1);
		lua_pop(r->L, 1);
		t = close + 1;
	}
	return 0;
}

static int build_query(struct call *r, ei_luabuf *b)
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
		ei_luabuf_putc(b, sep);
		sep = '&';
		add_escaped(b, EI_POOL(p->name), EI_STR_LEN(p->name));
		ei_luabuf_putc(b, '=');
		add_param_value(b, r->L, -1);
		lua_pop(r->L, 1);
	}
	return 0;
}

/* Push the body (JSON text, the validated table for other content types, or nil) and
 * its content type (or nil). */
static int build_body(struct call *r)
{
	lua_State *L = r->L;
	const struct ei_op *op = r->op;
	int top = lua_gettop(L);
	lua_pushliteral(L, "body");
	if (op->body == EI_NONE || lua_rawget(L, 2) == LUA_TNIL) {
		if (op->body != EI_NONE && (op->flags & EI_OP_BODY_REQUIRED))
			return call_fail(r, "body: missing required request body");
		lua_settop(L, top);
		lua_pushnil(L);
		lua_pushnil(L);
		return 0;
	}
	char small[2048];
	ei_luabuf b;
	r->o.root = "body";
	r->o.out = (op->flags & EI_OP_BODY_JSON) ? &b : NULL;
	ei_luabuf_init(&b, L, small, sizeof small, "JSON text too large");
	if (ei_validate(L, top + 1, op->body, &r->o)) {
		ei_luabuf_free(&b);
		return -1;
	}
	if (r->o.out) {
		ei_luabuf_result(&b);
		lua_replace(L, top + 1);
	} else {
		lua_pop(L, 1);
	}
	lua_pushstring(L, EI_POOL(op->content_type));
	return 0;
}

int ei_operation_build(lua_State *L, const struct ei_op *op, int pass_unknown)
{
	struct call r = { L, op, { .deprecated_slot = 3, .unknown_slot = pass_unknown ? 4 : 0 } };
	char small[2048];
	ei_luabuf path;
	ei_luabuf_init(&path, L, small, sizeof small, "URL too large");
	if (check_args(&r) || build_path(&r, &path) || build_query(&r, &path)) {
		ei_luabuf_free(&path);
		lua_pushstring(L, r.o.err);
		return -1;
	}
	ei_luabuf_result(&path);
	if (build_body(&r)) {
		lua_pushstring(L, r.o.err);
		return -1;
	}
	return 0;
}
