/* Messages of refused values: a NUL-terminated builder over a fixed array that truncates
 * instead of overflowing, values quoted as Lua's %q would (cut when long), and the
 * test that lets a key be written bare in a path. */
#ifndef EI_MESSAGE_H
#define EI_MESSAGE_H

#include <stdarg.h>
#include <stddef.h>

#include <lua.h>

struct ei_msg { char *p; size_t n, size; };

void ei_msg_add(struct ei_msg *b, const char *s, size_t n);
void ei_msg_str(struct ei_msg *b, const char *s);
void ei_msg_vprintf(struct ei_msg *b, const char *fmt, va_list ap);
void ei_msg_printf(struct ei_msg *b, const char *fmt, ...);
/* Quote like %q; long values are cut (at a character boundary) and marked with "…". */
void ei_msg_quote(struct ei_msg *b, const char *s, size_t n);
/* A table key at stack index idx: strings quoted, numbers as written, else its type. */
void ei_msg_key(struct ei_msg *b, lua_State *L, int idx);
/* Whether s is an identifier, which a path may show without quotes. */
int ei_is_ident(const char *s, size_t n);

#endif
