/* The growable byte buffer (buffer.h): growth by doubling, storage lent by the caller
 * until the first growth, shrinking on request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

void ei_buf_init_on(ei_buf *b, void *storage, size_t size)
{
	b->p = storage;
	b->len = 0;
	b->cap = size;
	b->lent = 1;
}

int ei_buf_grow(ei_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len)
		return -1;
	size_t cap = b->cap ? b->cap : EI_BUF_FIRST;
	while (cap - b->len < n)
		cap *= 2;
	char *p;
	if (b->lent) {
		if ((p = malloc(cap)) != NULL && b->len)
			memcpy(p, b->p, b->len);
	} else {
		p = realloc(b->p, cap);
	}
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	b->lent = 0;
	return 0;
}

int ei_buf_append(ei_buf *b, const void *p, size_t n)
{
	if (ei_buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

void ei_buf_shrink(ei_buf *b, size_t cap)
{
	if (b->lent || cap >= b->cap || cap < b->len)
		return;
	if (cap == 0) {
		ei_buf_free(b);
		return;
	}
	char *p = realloc(b->p, cap);
	if (p) {
		b->p = p;
		b->cap = cap;
	}
}

void ei_buf_free(ei_buf *b)
{
	if (!b->lent)
		free(b->p);
	memset(b, 0, sizeof *b);
}
