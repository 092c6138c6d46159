/* multipart/form-data bodies from Lua (see mime.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "mime.h"

static const char *opt_field(lua_State *L, int part, const char *key, size_t *len)
{
	lua_getfield(L, part, key);
	luaL_argcheck(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING, 2, "multipart part fields must be strings");
	const char *s = lua_tolstring(L, -1, len);
	lua_pop(L, 1); /* the string stays alive in the part table */
	return s;
}

/* Raise unless the value at part is a well-formed part. */
static void check_part(lua_State *L, int part)
{
	luaL_argcheck(L, lua_istable(L, part), 2, "parts must be a list of tables");
	const char *name = opt_field(L, part, "name", NULL), *data = opt_field(L, part, "data", NULL);
	const char *file = opt_field(L, part, "file", NULL);
	opt_field(L, part, "filename", NULL);
	opt_field(L, part, "type", NULL);
	luaL_argcheck(L, name != NULL, 2, "a multipart part needs a name");
	luaL_argcheck(L, (data != NULL) != (file != NULL), 2, "a multipart part has either data or file");
}

/* One checked part (nothing raises); 0, or -1 with why set. */
static int add_part(lua_State *L, int part, curl_mime *mime, char *why, size_t whylen)
{
	size_t n = 0;
	const char *name = opt_field(L, part, "name", NULL), *data = opt_field(L, part, "data", &n);
	const char *file = opt_field(L, part, "file", NULL), *filename = opt_field(L, part, "filename", NULL);
	const char *type = opt_field(L, part, "type", NULL);
	curl_mimepart *p = curl_mime_addpart(mime);
	if (!p || curl_mime_name(p, name) != CURLE_OK) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (file && (access(file, R_OK) != 0 || curl_mime_filedata(p, file) != CURLE_OK)) {
		snprintf(why, whylen, "%s: cannot read file '%s': %s", name, file, strerror(errno ? errno : EIO));
		return -1;
	}
	if (data && curl_mime_data(p, data, n) != CURLE_OK) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if ((filename && curl_mime_filename(p, filename) != CURLE_OK) || (type && curl_mime_type(p, type) != CURLE_OK)) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

curl_mime *ei_mime_from_lua(lua_State *L, int idx, CURL *easy, char *why, size_t whylen)
{
	luaL_argcheck(L, lua_istable(L, idx), 2, "parts must be a list of tables");
	for (lua_Integer i = 1; lua_geti(L, idx, i) != LUA_TNIL; i++) {
		check_part(L, lua_gettop(L));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	curl_mime *mime = curl_mime_init(easy);
	if (!mime) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	for (lua_Integer i = 1; lua_geti(L, idx, i) != LUA_TNIL; i++) {
		if (add_part(L, lua_gettop(L), mime, why, whylen) < 0) {
			lua_pop(L, 1);
			curl_mime_free(mime);
			return NULL;
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return mime;
}

/* core.file(path[, filename[, content_type]]) -> { path =, filename =, type = } marked as a
 * file, which a multipart body streams from disk where its schema wants binary data. */
static int l_file(lua_State *L)
{
	luaL_checkstring(L, 1);
	luaL_argcheck(L, lua_type(L, 1) == LUA_TSTRING, 1, "path must be a string");
	const char *filename = luaL_optstring(L, 2, NULL), *type = luaL_optstring(L, 3, NULL);
	lua_createtable(L, 0, 3);
	lua_pushvalue(L, 1);
	lua_setfield(L, -2, "path");
	if (filename) {
		lua_pushstring(L, filename);
		lua_setfield(L, -2, "filename");
	}
	if (type) {
		lua_pushstring(L, type);
		lua_setfield(L, -2, "type");
	}
	luaL_setmetatable(L, EI_FILE_MT);
	return 1;
}

static int l_file_tostring(lua_State *L)
{
	lua_getfield(L, 1, "path");
	lua_pushfstring(L, EI_FILE_MT " (%s)", lua_tostring(L, -1));
	return 1;
}

void ei_mime_open(lua_State *L)
{
	luaL_newmetatable(L, EI_FILE_MT);
	lua_pushcfunction(L, l_file_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pop(L, 1);
	lua_pushcfunction(L, l_file);
	lua_setfield(L, -2, "file");
}
