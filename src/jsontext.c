/* JSON text over bytes (jsontext.h): the UTF-8 check and the string decoder. */
#include "jsontext.h"

/* Write the UTF-8 form of code point cp (at most U+10FFFF) at o; returns its length. */
static size_t utf8_encode(unsigned cp, char o[4])
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The four hex digits of a \u escape at p (n bytes readable) into *out; 0, or -1 when
 * they are not four hex digits. */
static int hex4(const char *p, size_t n, unsigned *out)
{
	if (n < 4)
		return -1;
	unsigned v = 0;
	for (size_t k = 0; k < 4; k++) {
		char c = p[k];
		unsigned d = (c >= '0' && c <= '9')   ? (unsigned)(c - '0')
			     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
			     : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
						      : 16u;
		if (d > 15)
			return -1;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* Simple escapes: the byte each stands for, 0 for none. */
static const char simple_escapes[128] = {
	['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

/* \uXXXX at p[i] (just after the backslash and 'u'), with its low surrogate
 * when it is a high one, written at *o. Returns the index after it, or 0. */
static size_t unicode_escape(const char *p, size_t n, size_t i, char **o)
{
	unsigned cp, lo;
	if (hex4(p + i, n - i, &cp) < 0)
		return 0;
	i += 4;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return 0;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (n - i < 6 || p[i] != '\\' || p[i + 1] != 'u' || hex4(p + i + 2, n - i - 2, &lo) < 0 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return 0;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		i += 6;
	}
	*o += utf8_encode(cp, *o);
	return i;
}

size_t ei_json_string_decode(const char *p, size_t n, size_t i, ei_buf *out)
{
	char *o = out->p + out->len;
	for (;;) {
		size_t run = i;
		i = ei_json_plain_run(p, n, i);
		if (i >= n)
			return 0;
		if (i > run) {
			memcpy(o, p + run, i - run);
			o += i - run;
		}
		if (p[i] == '"') {
			out->len = (size_t)(o - out->p);
			return i + 1;
		}
		if (++i >= n)
			return 0;
		unsigned char e = (unsigned char)p[i++];
		if (e == 'u') {
			if (!(i = unicode_escape(p, n, i, &o)))
				return 0;
		} else if (e < 128 && simple_escapes[e]) {
			*o++ = simple_escapes[e];
		} else {
			return 0;
		}
	}
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
