/* multipart/form-data bodies from Lua: a list of parts for libcurl's mime API. */
#ifndef EI_MIME_H
#define EI_MIME_H

#include <curl/curl.h>
#include <lua.h>

/* Metatable of the file markers core.file makes (registry name). */
#define EI_FILE_MT "ei.File"

/* Build a mime body for easy from the list of parts at idx:
 * { name = "field", data = "bytes" } or { name = "field", file = "path"[, filename =][, type =] }.
 * Files are streamed from disk when sent. Raises on misuse; returns NULL with why set
 * when a file cannot be read (why names the path) or memory runs out. */
curl_mime *ei_mime_from_lua(lua_State *L, int idx, CURL *easy, char *why, size_t whylen);

#endif
