/* The JSON writer: string literals, integers and numbers appended as JSON text to a
 * Lua-owned buffer. The encoder (validate.c) calls it while it walks a Lua value; the
 * number formatting also serves messages and URL parameters. */
#ifndef EI_JSONWRITE_H
#define EI_JSONWRITE_H

#include <stddef.h>

#include <lua.h>

#include "luabuf.h"

/* A JSON string literal of s, which must be valid UTF-8 (NULs allowed). */
void ei_json_write_string(ei_luabuf *b, const char *s, size_t len);
void ei_json_write_integer(ei_luabuf *b, lua_Integer i);
/* Shortest text that reads back as the same double (d must be finite); '.' whatever
 * the locale. Returns its length; out has room for 32 bytes. Non-finite values give
 * "nan", "inf" or "-inf" (for messages; never written as JSON). */
int ei_json_format_number(double d, char out[32]);
void ei_json_write_number(ei_luabuf *b, double d);

#endif
