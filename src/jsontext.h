/* JSON text over bytes: UTF-8 checked and encoded, \uXXXX escapes read, string tokens
 * decoded, and the bound of the integers a JSON number holds exactly. Pure functions,
 * shared by the decoder of Lua values (json.c), the Engine.IO event parser
 * (engineio.c) and the encoder's checks. */
#ifndef EI_JSONTEXT_H
#define EI_JSONTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buffer.h"

/* 2^53: beyond it a JSON number, read as a double, is no longer an exact integer
 * (2^53 + 1 reads as 2^53). */
#define EI_MAX_EXACT 9007199254740992.0

/* Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and values
 * above U+10FFFF included), or len when s is valid. */
size_t ei_utf8_check(const char *s, size_t len);

/* The index of the first quote or backslash from p[i], or n. Eight bytes at a time:
 * the lowest flagged byte of a word is always a true hit. */
static inline size_t ei_json_plain_run(const char *p, size_t n, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	const uint64_t quotes = ones * '"', slashes = ones * '\\';
	for (; n - i >= 8; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		uint64_t q = w ^ quotes, b = w ^ slashes;
		uint64_t hit = (((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
		if (hit)
			return i + (size_t)(__builtin_ctzll(hit) >> 3);
	}
#endif
	while (i < n && p[i] != '"' && p[i] != '\\')
		i++;
	return i;
}

/* Decode string text from p[i] (inside the quotes) to its closing quote, appending to
 * out, which must have room for n - i more bytes: the text decoded never outgrows its
 * JSON form (\uXXXX, 6 bytes, gives at most 3; a surrogate pair, 12, gives 4; any other
 * escape, 2, gives 1). Returns the index just past the quote, or 0 when the string is
 * malformed (a lone surrogate included); out->len is then unspecified. */
size_t ei_json_string_decode(const char *p, size_t n, size_t i, ei_buf *out);

#endif
