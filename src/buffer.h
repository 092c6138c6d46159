/* A growable byte buffer: the one way the core grows memory as data comes in. It starts
 * empty (all zero) or on storage the caller lends (a C stack array), moves to the heap
 * when it outgrows that, doubles as it grows, and keeps its room when emptied so a buffer
 * reused for each frame or wake-up costs no allocation once warm; ei_buf_shrink gives
 * room back when the caller decides the buffer went quiet. No Lua here: failures return
 * -1 and leave the buffer as it was. */
#ifndef EI_BUFFER_H
#define EI_BUFFER_H

#include <stddef.h>

typedef struct ei_buf {
	char *p;          /* the bytes; NULL while empty and never grown */
	size_t len, cap;  /* bytes in use, bytes there is room for */
	int lent;         /* p is the caller's storage: copied to the heap on growth, never freed */
} ei_buf;

/* The first heap allocation of a buffer that starts empty. */
#define EI_BUF_FIRST 256

/* Start on the caller's storage of `size` bytes, empty. */
void ei_buf_init_on(ei_buf *b, void *storage, size_t size);

/* Room for n more bytes; 0, or -1 (too large or out of memory) with b unchanged. */
int ei_buf_grow(ei_buf *b, size_t n);

static inline int ei_buf_reserve(ei_buf *b, size_t n)
{
	return b->cap - b->len >= n ? 0 : ei_buf_grow(b, n);
}

/* Append n bytes; 0 or -1 as ei_buf_reserve. */
int ei_buf_append(ei_buf *b, const void *p, size_t n);

/* Give back room beyond cap bytes (at least len); keeps the buffer as it is when the
 * system will not shrink it. A buffer on lent storage keeps it. */
void ei_buf_shrink(ei_buf *b, size_t cap);

/* Free the heap storage; the buffer is empty and all zero afterwards. */
void ei_buf_free(ei_buf *b);

#endif
