/* core.terminal_size(fd): the width and height of the terminal on a descriptor,
 * read afresh on every call so a drawing follows a resize without a signal handler. */
#include <sys/ioctl.h>
#include <unistd.h>

#include "core.h"

/* Returns columns, rows (0, 0 for a terminal that has no size set); or nil when fd
 * is not a terminal. */
static int l_terminal_size(lua_State *L)
{
	int fd = (int)luaL_checkinteger(L, 1);
	struct winsize ws = { 0 };
	if (fd < 0 || !isatty(fd)) {
		lua_pushnil(L);
		return 1;
	}
	if (ioctl(fd, TIOCGWINSZ, &ws) != 0)
		ws.ws_col = ws.ws_row = 0;
	lua_pushinteger(L, ws.ws_col);
	lua_pushinteger(L, ws.ws_row);
	return 2;
}

void ei_terminal_open(lua_State *L)
{
	static const luaL_Reg fns[] = { { "terminal_size", l_terminal_size }, { NULL, NULL } };
	luaL_setfuncs(L, fns, 0);
}
