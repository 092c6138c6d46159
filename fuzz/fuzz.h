/* What the fuzz targets share: reading control bytes off the front of an input
 * (in the manner of LLVM's FuzzedDataProvider), and running C code against a
 * real lua_State in protected mode. */
#ifndef EI_FUZZ_H
#define EI_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

/* Stop the run with a message: libFuzzer saves the input as a crash. */
#define FZ_CHECK(cond)                                                                       \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                                             \
		}                                                                            \
	} while (0)

typedef struct {
	const uint8_t *p;
	size_t n;
} fz_input;

/* Every read succeeds: past the end, bytes read as 0 and strings are empty. */
static inline unsigned fz_u8(fz_input *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline unsigned fz_u16(fz_input *in)
{
	unsigned lo = fz_u8(in);
	return lo | fz_u8(in) << 8;
}

static inline uint64_t fz_u64(fz_input *in)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | fz_u8(in);
	return v;
}

/* Up to want bytes, in place. */
static inline const char *fz_bytes(fz_input *in, size_t want, size_t *got)
{
	const char *p = (const char *)in->p;
	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

/* The bytes up to a NUL (consumed too) or the end. */
static inline const char *fz_cstring(fz_input *in, size_t *len)
{
	const uint8_t *nul = memchr(in->p, 0, in->n);
	size_t n = nul ? (size_t)(nul - in->p) : in->n;
	const char *s = fz_bytes(in, n, len);
	fz_u8(in);
	return s;
}

/* ---- Lua --------------------------------------------------------------- */

int luaopen_ei_core(lua_State *L);

/* A state with ei.core at stack index 1. */
static inline lua_State *fz_lua_open(void)
{
	lua_State *L = luaL_newstate();
	FZ_CHECK(L != NULL);
	lua_pushcfunction(L, luaopen_ei_core);
	FZ_CHECK(lua_pcall(L, 0, 1, 0) == LUA_OK);
	return L;
}

/* Run f in protected mode with ei.core at index 1 and ud at index 2; the bugs
 * looked for are the C library's, so a Lua error other than running out of
 * memory stops the run. */
static inline int fz_pcall(lua_State *L, lua_CFunction f, void *ud)
{
	lua_pushcfunction(L, f);
	lua_pushvalue(L, 1);
	lua_pushlightuserdata(L, ud);
	int rc = lua_pcall(L, 2, 0, 0);
	if (rc != LUA_OK && rc != LUA_ERRMEM) {
		fprintf(stderr, "unexpected Lua error: %s\n", lua_tostring(L, -1));
		abort();
	}
	return rc;
}

/* Call core[name] with the nargs values on top of the stack; leaves its results. */
static inline int fz_call_core(lua_State *L, const char *name, int nargs)
{
	int base = lua_gettop(L) - nargs;
	lua_getfield(L, 1, name);
	lua_insert(L, base + 1);
	lua_call(L, nargs, LUA_MULTRET);
	return lua_gettop(L) - base;
}

/* The nil, message, code of a runtime failure at stack index idx. */
static inline void fz_check_failure(lua_State *L, int idx, int nres, const char *code)
{
	FZ_CHECK(nres == 3);
	FZ_CHECK(lua_isnil(L, idx));
	FZ_CHECK(lua_type(L, idx + 1) == LUA_TSTRING);
	FZ_CHECK(lua_type(L, idx + 2) == LUA_TSTRING && strcmp(lua_tostring(L, idx + 2), code) == 0);
}

#endif
