/* A buffer for the functions Lua calls: an ei_buf that starts on the caller's C stack
 * and, once it outgrows that, has its heap storage owned by a userdata in a stack slot,
 * so a Lua error raised midway (out of memory, a value too large) cannot leak it. Growth
 * raises instead of failing. */
#ifndef EI_LUABUF_H
#define EI_LUABUF_H

#include <stddef.h>
#include <string.h>

#include <lua.h>

#include "buffer.h"

typedef struct ei_luabuf {
	ei_buf b;
	lua_State *L;
	int slot;              /* the stack slot it owns: nil, then the userdata owning b.p */
	const char *too_large; /* the message raised when it would outgrow the address space */
} ei_luabuf;

/* Start on the caller's storage of `size` bytes. Pushes one stack slot (nil) that the
 * buffer owns until ei_luabuf_result, or until the caller drops it (ei_luabuf_free first
 * gives the memory back at once). */
void ei_luabuf_init(ei_luabuf *lb, lua_State *L, void *storage, size_t size, const char *too_large);
/* Make room for n more bytes (raises when it cannot); returns where they go. */
char *ei_luabuf_grow(ei_luabuf *lb, size_t n);
/* Replace the buffer's slot with the string of its bytes, and free its storage. */
void ei_luabuf_result(ei_luabuf *lb);
/* Free its heap storage now rather than when the slot's userdata is collected; the
 * buffer is then empty, and the slot stays. */
void ei_luabuf_free(ei_luabuf *lb);

static inline char *ei_luabuf_reserve(ei_luabuf *lb, size_t n)
{
	return lb->b.cap - lb->b.len >= n ? lb->b.p + lb->b.len : ei_luabuf_grow(lb, n);
}

static inline void ei_luabuf_add(ei_luabuf *lb, const char *s, size_t n)
{
	memcpy(ei_luabuf_reserve(lb, n), s, n);
	lb->b.len += n;
}

static inline void ei_luabuf_putc(ei_luabuf *lb, char c)
{
	*ei_luabuf_reserve(lb, 1) = c;
	lb->b.len++;
}

#endif
