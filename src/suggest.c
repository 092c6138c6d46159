/* Did-you-mean (suggest.h): names compared without case and '_'/'-', then by optimal
 * string alignment distance within a threshold that grows with the name. */
#include <string.h>

#include "suggest.h"

static size_t normalize(const char *s, size_t n, char out[EI_SUGGEST_MAX])
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '_' || c == '-')
			continue;
		if (k == EI_SUGGEST_MAX)
			return (size_t)-1;
		out[k++] = (c >= 'A' && c <= 'Z') ? (char)(c | 0x20) : c;
	}
	return k;
}

/* Optimal string alignment distance (edits and adjacent transpositions). */
static int osa(const char *a, size_t an, const char *b, size_t bn)
{
	int rows[3][EI_SUGGEST_MAX + 1];
	int *pp = rows[0], *p = rows[1], *c = rows[2];
	for (size_t j = 0; j <= bn; j++)
		p[j] = (int)j;
	for (size_t i = 1; i <= an; i++) {
		c[0] = (int)i;
		for (size_t j = 1; j <= bn; j++) {
			int cost = a[i - 1] != b[j - 1];
			int d = p[j - 1] + cost;
			if (p[j] + 1 < d)
				d = p[j] + 1;
			if (c[j - 1] + 1 < d)
				d = c[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			c[j] = d;
		}
		int *t = pp;
		pp = p, p = c, c = t;
	}
	return p[bn];
}

int ei_suggest(const char *key, size_t len, const char *(*candidate)(const void *ud, size_t i, size_t *len),
	const void *ud, size_t n)
{
	char k[EI_SUGGEST_MAX], c[EI_SUGGEST_MAX];
	size_t kn = normalize(key, len, k);
	if (kn == (size_t)-1)
		return -1;
	int limit = kn < 3 ? 1 : kn > 9 ? 3 : (int)kn / 3;
	int best = -1, best_d = limit + 1;
	for (size_t i = 0; i < n; i++) {
		size_t cl, cn;
		const char *s = candidate(ud, i, &cl);
		if ((cn = normalize(s, cl, c)) == (size_t)-1)
			continue;
		if (cn == kn && memcmp(c, k, kn) == 0)
			return (int)i;
		int d = osa(k, kn, c, cn);
		/* a cut or extended name ("warn" for "warning") is close, if nothing is closer */
		size_t shorter = kn < cn ? kn : cn;
		if (d > limit && shorter >= 3 && memcmp(k, c, shorter) == 0)
			d = limit;
		if (d < best_d) {
			best_d = d;
			best = (int)i;
		}
	}
	return best;
}

/* Candidates for ei_suggest: records whose first member is an ei_str. */
struct records { const void *base; size_t size; };

static const char *record_candidate(const void *ud, size_t i, size_t *len)
{
	const struct records *r = ud;
	ei_str s;
	memcpy(&s, (const char *)r->base + i * r->size, sizeof s);
	*len = EI_STR_LEN(s);
	return EI_POOL(s);
}

int ei_suggest_record(const char *key, size_t len, const void *base, size_t n, size_t size)
{
	struct records r = { base, size };
	return ei_suggest(key, len, record_candidate, &r, n);
}
