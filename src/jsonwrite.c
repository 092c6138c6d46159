/* The JSON writer (jsonwrite.h): strings escaped in runs, integers two digits per
 * division, doubles in their shortest exact form. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>

#include "jsonwrite.h"

/* 0: copied as is; 'u': \u00XX; otherwise the letter after the backslash. */
static const char escapes[256] = {
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
	'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
	['"'] = '"', ['\\'] = '\\',
};

void ei_json_write_string(ei_luabuf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (len > ((size_t)-1) / 8)
		luaL_error(b->L, "string too large");
	char *p = ei_luabuf_reserve(b, len * 6 + 2);
	size_t i = 0;
	*p++ = '"';
	while (i < len) {
		size_t run = i;
		while (i < len && !escapes[(unsigned char)s[i]])
			i++;
		memcpy(p, s + run, i - run);
		p += i - run;
		if (i == len)
			break;
		unsigned char c = (unsigned char)s[i++];
		if (escapes[c] == 'u') {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			p[0] = '\\';
			p[1] = escapes[c];
			p += 2;
		}
	}
	*p++ = '"';
	b->b.len = (size_t)(p - b->b.p);
}

/* Decimal digits of u, right-aligned in tmp[24]; returns where they start. Two
 * digits per division. */
static char *utoa(unsigned long long u, char tmp[24])
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	char *p = tmp + 24;
	while (u >= 100) {
		unsigned r = (unsigned)(u % 100);
		u /= 100;
		*--p = pairs[2 * r + 1];
		*--p = pairs[2 * r];
	}
	if (u >= 10) {
		*--p = pairs[2 * u + 1];
		*--p = pairs[2 * u];
	} else {
		*--p = (char)('0' + u);
	}
	return p;
}

void ei_json_write_integer(ei_luabuf *b, lua_Integer i)
{
	char *out = ei_luabuf_reserve(b, 21);
	unsigned long long u = i < 0 ? 0u - (unsigned long long)i : (unsigned long long)i;
	if (u < 10) {  /* the common small counts, without the copy */
		size_t n = 0;
		if (i < 0)
			out[n++] = '-';
		out[n++] = (char)('0' + u);
		b->b.len += n;
		return;
	}
	char tmp[24];
	char *p = utoa(u, tmp);
	if (i < 0)
		*--p = '-';
	size_t n = (size_t)(tmp + sizeof tmp - p);
	for (size_t k = 0; k < n; k++)
		out[k] = p[k];
	b->b.len += n;
}

/* Most numbers people write have a short exact decimal form: find the fewest decimals
 * k with round(|d| * 10^k) / 10^k == |d|. Both operands are exact (10^k for k <= 22,
 * the mantissa below 2^53), so the division is correctly rounded and equal to what
 * strtod gives for the same digits: the text reads back as d. Others go to %.17g. */
static int format_short(double d, char out[32])
{
	double a = fabs(d), p = 1;
	if (!(a >= 1e-5 && a < 1e15))
		return 0;
	for (int k = 0; k <= 17; k++, p *= 10) {
		double x = a * p;
		if (x >= 0x1p53)
			return 0;
		double m = (double)(unsigned long long)(x + 0.5);
		/* m / p == a needs x within a few units in the last place of m (well under
		 * m * 1e-15); the division is only worth doing then */
		if (fabs(x - m) > m * 1e-15 || m / p != a)
			continue;
		char tmp[24], *q = out;
		const char *digits = utoa((unsigned long long)m, tmp);
		int n = (int)(tmp + sizeof tmp - digits);
		if (d < 0)
			*q++ = '-';
		if (n <= k) {
			*q++ = '0';
			*q++ = '.';
			for (int z = n; z < k; z++)
				*q++ = '0';
			memcpy(q, digits, (size_t)n);
			q += n;
		} else {
			memcpy(q, digits, (size_t)(n - k));
			q += n - k;
			if (k) {
				*q++ = '.';
				memcpy(q, digits + n - k, (size_t)k);
				q += k;
			}
		}
		*q = '\0';
		return (int)(q - out);
	}
	return 0;
}

int ei_json_format_number(double d, char out[32])
{
	if (!isfinite(d)) {
		const char *s = isnan(d) ? "nan" : d > 0 ? "inf" : "-inf";
		strcpy(out, s);
		return (int)strlen(s);
	}
	int n = format_short(d, out);
	if (n)
		return n;
	/* The fewest significant digits that read back as d: 17 always do, and a
	 * precision that works keeps working with more digits, so bisect. */
	char tmp[320];  /* what %g may write as far as the compiler can tell; 24 at most */
	int lo = 1, hi = 17;
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		snprintf(tmp, sizeof tmp, "%.*g", mid, d);
		if (strtod(tmp, NULL) == d)
			hi = mid;
		else
			lo = mid + 1;
	}
	n = snprintf(tmp, sizeof tmp, "%.*g", lo, d);
	memcpy(out, tmp, (size_t)n + 1);
	/* %g writes the locale's decimal separator; JSON wants '.' */
	for (int i = 0; i < n; i++)
		if (out[i] != '-' && out[i] != '+' && out[i] != 'e' && (out[i] < '0' || out[i] > '9'))
			out[i] = '.';
	return n;
}

void ei_json_write_number(ei_luabuf *b, double d)
{
	char tmp[32];
	ei_luabuf_add(b, tmp, (size_t)ei_json_format_number(d, tmp));
}
