/* Messages (message.h): the truncating builder, and values quoted as Lua's %q would. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "jsontext.h"
#include "jsonwrite.h"
#include "message.h"

#define QUOTE_MAX 40       /* bytes of a value quoted in a message */

void ei_msg_add(struct ei_msg *b, const char *s, size_t n)
{
	size_t room = b->size - 1 - b->n;
	if (n > room)
		n = room;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

void ei_msg_str(struct ei_msg *b, const char *s)
{
	ei_msg_add(b, s, strlen(s));
}

void ei_msg_vprintf(struct ei_msg *b, const char *fmt, va_list ap)
{
	int n = vsnprintf(b->p + b->n, b->size - b->n, fmt, ap);
	if (n > 0)
		b->n = (size_t)n < b->size - b->n ? b->n + (size_t)n : b->size - 1;
}

void ei_msg_printf(struct ei_msg *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ei_msg_vprintf(b, fmt, ap);
	va_end(ap);
}

void ei_msg_quote(struct ei_msg *b, const char *s, size_t n)
{
	size_t cut = n > QUOTE_MAX ? QUOTE_MAX : n;
	while (cut < n && cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	int raw8 = ei_utf8_check(s, cut) == cut;  /* else bytes >= 0x80 are escaped too */
	ei_msg_add(b, "\"", 1);
	for (size_t i = 0; i < cut; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		if (c == '"' || c == '\\')
			tmp[0] = '\\', tmp[1] = (char)c, ei_msg_add(b, tmp, 2);
		else if (c == '\n')
			ei_msg_add(b, "\\n", 2);
		else if (c == '\r')
			ei_msg_add(b, "\\r", 2);
		else if (c == '\t')
			ei_msg_add(b, "\\t", 2);
		else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !raw8))
			ei_msg_printf(b, i + 1 < cut && s[i + 1] >= '0' && s[i + 1] <= '9' ? "\\%03u" : "\\%u", c);
		else
			ei_msg_add(b, (const char *)&s[i], 1);
	}
	ei_msg_add(b, "\"", 1);
	if (cut < n)
		ei_msg_str(b, "…");
}

int ei_is_ident(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

void ei_msg_key(struct ei_msg *b, lua_State *L, int idx)
{
	size_t n;
	if (lua_type(L, idx) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, idx, &n);
		ei_msg_quote(b, s, n);
	} else if (lua_type(L, idx) == LUA_TNUMBER) {
		char tmp[32];
		if (lua_isinteger(L, idx))
			ei_msg_printf(b, "%lld", (long long)lua_tointeger(L, idx));
		else
			ei_json_format_number(lua_tonumber(L, idx), tmp), ei_msg_str(b, tmp);
	} else {
		ei_msg_str(b, luaL_typename(L, idx));
	}
}
