/* JSON <-> Lua: the null sentinel, decoding with cJSON, and the output buffer and
 * writers the encoder (schema.c walks the value) uses. */
#ifndef EI_JSON_H
#define EI_JSON_H

#include <stddef.h>
#include <string.h>

#include <cJSON.h>
#include <lua.h>

/* ---- null ---- */

/* core.null is lua_pushlightuserdata(L, NULL), as in lua-cjson. */
void ei_json_pushnull(lua_State *L);
int ei_json_isnull(lua_State *L, int idx);

/* ---- decoding ---- */

/* Decode JSON text and push the Lua value: objects -> tables, arrays -> tables with the
 * shared array metatable, integral numbers of magnitude below 2^53 -> integers, other
 * numbers -> floats, null -> the sentinel. Returns 1; on malformed input pushes a message instead
 * and returns 0. Raises only when Lua itself fails (memory). */
int ei_json_decode(lua_State *L, const char *s, size_t len);

/* Push a value of a tree already parsed with cJSON, with the same conversions. cJSON
 * keeps no string lengths, so a string holding an escaped NUL ends at that NUL here;
 * ei_json_decode reads such strings from the text instead. */
void ei_json_push_cjson(lua_State *L, const cJSON *item);

/* The metatables marking tables as JSON arrays (decoded arrays, core.array) and JSON
 * objects (core.object), as lua_topointer values, for identity comparisons. */
void ei_json_markers(lua_State *L, const void **array_mt, const void **object_mt);

/* ---- encoding ---- */

#define EI_BUF_INLINE 2048

/* An output buffer that starts on the C stack and moves into a userdata anchored at a
 * stack slot when it grows, so a Lua error can never leak it. */
struct ei_buf {
	lua_State *L;
	char *p;
	size_t len, cap;
	int slot;
	char small[EI_BUF_INLINE];
};

/* Pushes one stack slot (nil) that the buffer owns until ei_buf_result. */
void ei_buf_init(struct ei_buf *b, lua_State *L);
/* Make room for n more bytes; returns where they go. */
char *ei_buf_grow(struct ei_buf *b, size_t n);
/* Replace the buffer's slot with the result string. */
void ei_buf_result(struct ei_buf *b);

static inline char *ei_buf_reserve(struct ei_buf *b, size_t n)
{
	return b->cap - b->len >= n ? b->p + b->len : ei_buf_grow(b, n);
}

static inline void ei_buf_add(struct ei_buf *b, const char *s, size_t n)
{
	memcpy(ei_buf_reserve(b, n), s, n);
	b->len += n;
}

static inline void ei_buf_putc(struct ei_buf *b, char c)
{
	*ei_buf_reserve(b, 1) = c;
	b->len++;
}

/* Push the JSON text of the value at idx, checked against schema (EI_SCHEMA_ANY, or
 * an index from ei_schema_find); root names the value itself in messages. Returns 1,
 * or 0 with "path: reason" pushed instead. Without a schema: sequences and tables
 * marked by core.array are arrays, other tables (the empty one too) objects. */
int ei_json_encode(lua_State *L, int idx, unsigned schema, const char *root);

/* A JSON string literal of s, which must be valid UTF-8 (NULs allowed). */
void ei_json_write_string(struct ei_buf *b, const char *s, size_t len);
void ei_json_write_integer(struct ei_buf *b, lua_Integer i);
/* Shortest text that reads back as the same double (d must be finite); '.' whatever
 * the locale. Returns its length; out has room for 32 bytes. Non-finite values give
 * "nan", "inf" or "-inf" (for messages; never written as JSON). */
int ei_json_format_number(double d, char out[32]);
void ei_json_write_number(struct ei_buf *b, double d);

/* Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and values
 * above U+10FFFF included), or len when s is valid. */
size_t ei_utf8_check(const char *s, size_t len);

#endif
