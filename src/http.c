/* HTTP requests (`ei.Request`) on the client's multi handle. Callbacks only
 * fill C buffers; Lua sees the response when it asks for the result. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include "buffer.h"
#include "client.h"
#include "download.h"
#include "libcurl.h"
#include "mime.h"


#define EI_REQUEST_MT "ei.Request"
#define DEFAULT_MAX_BODY (64u << 20)

typedef struct ei_request ei_request;

#define REQUEST_OF(t) ((ei_request *)((char *)(t) - offsetof(ei_request, transfer)))

enum { REQ_RUNNING, REQ_DONE, REQ_CLOSED, REQ_ABANDONED };

struct ei_request {
	ei_transfer transfer; /* on the client's multi handle while it runs */
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	curl_mime *mime;
	ei_buf response, head;
	ei_download download; /* file: the 2xx body goes there instead of `response` */
	int to_file;          /* -1: not decided until the status is known, 0: memory, 1: file */
	size_t max_body;
	int state, too_big;
	CURLcode result;
	char errbuf[CURL_ERROR_SIZE];
};

/* How libcurl's failures map onto the codes of the contract. */
static const struct {
	CURLcode curl;
	const char *code;
} curl_errors[] = {
	{ CURLE_OPERATION_TIMEDOUT, EI_ETIMEDOUT },
	{ CURLE_COULDNT_RESOLVE_HOST, EI_ECONNECT },
	{ CURLE_COULDNT_RESOLVE_PROXY, EI_ECONNECT },
	{ CURLE_COULDNT_CONNECT, EI_ECONNECT },
	{ CURLE_SSL_CONNECT_ERROR, EI_ECONNECT },
	{ CURLE_PEER_FAILED_VERIFICATION, EI_ECONNECT },
	{ CURLE_SSL_CACERT_BADFILE, EI_ECONNECT },
	{ CURLE_SSL_CERTPROBLEM, EI_ECONNECT },
	{ CURLE_SEND_ERROR, EI_ECONNECT },
	{ CURLE_RECV_ERROR, EI_ECONNECT },
	{ CURLE_GOT_NOTHING, EI_ECONNECT },
	{ CURLE_PARTIAL_FILE, EI_ECONNECT },
	{ CURLE_WEIRD_SERVER_REPLY, EI_EPROTO },
	{ CURLE_BAD_CONTENT_ENCODING, EI_EPROTO },
	{ CURLE_UNSUPPORTED_PROTOCOL, EI_EINVAL },
	{ CURLE_URL_MALFORMAT, EI_EINVAL },
};

static const char *code_of(CURLcode result)
{
	for (size_t i = 0; i < sizeof curl_errors / sizeof *curl_errors; i++)
		if (curl_errors[i].curl == result)
			return curl_errors[i].code;
	return EI_ECONNECT;
}

static int success(long status)
{
	return status >= 200 && status <= 299;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
	ei_request *r = userp;
	n *= size;
	if (r->to_file < 0) { /* the first bytes of the body: the status is known */
		long status = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		r->to_file = success(status);
	}
	if (r->to_file)
		return ei_download_write(&r->download, data, n);
	if (r->response.len + n > r->max_body) {
		r->too_big = 1;
		return 0;
	}
	return ei_buf_append(&r->response, data, n) < 0 ? 0 : n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
	ei_request *r = userp;
	/* A new status line (after a 100 Continue, say) starts a new header block. */
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
		r->head.len = 0;
	n *= size;
	if (r->head.len + n > 256u * 1024)
		return 0;
	return ei_buf_append(&r->head, data, n) < 0 ? 0 : n;
}

static int is_loopback(const char *host)
{
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 || strcmp(host, "[::1]") == 0 ||
	       strcmp(host, "::1") == 0;
}

/* https anywhere; plain http only to this machine, unless the client is insecure. */
static const char *check_url(ei_client *c, const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	const char *why = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		why = "malformed URL";
	else if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)
		why = "only http and https URLs are supported";
	else if (strcmp(scheme, "http") == 0 && !is_loopback(host) && !ei_client_insecure(c))
		why = "plain http:// is refused for a host that is not loopback (use https, or insecure = true)";
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return why;
}

static void release(ei_request *r)
{
	ei_client_stop(&r->transfer);
	if (r->easy) {
		curl_easy_cleanup(r->easy);
		r->easy = NULL;
	}
	curl_mime_free(r->mime);
	r->mime = NULL;
	ei_download_discard(&r->download);
	curl_slist_free_all(r->headers);
	free(r->body);
	ei_buf_free(&r->response);
	ei_buf_free(&r->head);
	r->headers = NULL;
	r->body = NULL;
}

/* The client closed while the request ran. */
static void abandon(ei_transfer *t)
{
	ei_request *r = REQUEST_OF(t);
	release(r);
	r->state = REQ_ABANDONED;
}

/* The transfer is over; its result stays readable after the client closes. */
static void finish(ei_transfer *t, CURLcode result)
{
	ei_request *r = REQUEST_OF(t);
	if (r->state != REQ_RUNNING)
		return;
	r->state = REQ_DONE;
	r->result = result;
}

static int add_headers(lua_State *L, ei_request *r, int idx)
{
	lua_getfield(L, idx, "headers");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return 0;
	}
	luaL_argcheck(L, lua_istable(L, -1), 2, "headers must be a table");
	for (lua_Integer i = 1; lua_geti(L, -1, i) != LUA_TNIL; i++) {
		const char *line = lua_tostring(L, -1);
		luaL_argcheck(L, line && lua_type(L, -1) == LUA_TSTRING, 2, "headers must be strings \"Name: value\"");
		luaL_argcheck(L, !strpbrk(line, "\r\n"), 2, "a header must not contain a line break");
		struct curl_slist *more = curl_slist_append(r->headers, line);
		if (!more)
			return -1;
		r->headers = more;
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return 0;
}

static void configure(ei_request *r, ei_client *c, const char *method, const char *url, double timeout,
		      double connect_timeout)
{
	CURL *e = r->easy;
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout * 1000));
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ei_client_ca_file(c))
		curl_easy_setopt(e, CURLOPT_CAINFO, ei_client_ca_file(c));
	if (ei_client_user_agent(c))
		curl_easy_setopt(e, CURLOPT_USERAGENT, ei_client_user_agent(c));
	if (r->headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
}

static int set_body(lua_State *L, ei_request *r, int idx)
{
	lua_getfield(L, idx, "body");
	size_t n = 0;
	const char *body = lua_tolstring(L, -1, &n);
	luaL_argcheck(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING, 2, "body must be a string");
	luaL_argcheck(L, !body || !r->mime, 2, "a request has a body or parts, not both");
	if (body) {
		r->body = malloc(n + 1);
		if (!r->body)
			return -1;
		memcpy(r->body, body, n + 1);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	}
	lua_pop(L, 1);
	return 0;
}

/* parts = { {name=, data=} | {name=, file=, filename=, type=}, ... }: a multipart/form-data
 * body; libcurl sets its Content-Type with the boundary. NULL, or why it cannot be sent. */
static const char *set_parts(lua_State *L, ei_request *r, int idx, char *why, size_t whylen)
{
	if (lua_getfield(L, idx, "parts") == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	r->mime = ei_mime_from_lua(L, lua_gettop(L), r->easy, why, whylen);
	lua_pop(L, 1);
	if (!r->mime)
		return why;
	curl_easy_setopt(r->easy, CURLOPT_MIMEPOST, r->mime);
	return NULL;
}

/* output = "path": a 2xx body goes to that file (see download.h). NULL, or why not. */
static const char *set_output(lua_State *L, ei_request *r, int idx, char *why, size_t whylen)
{
	r->to_file = 0;
	if (lua_getfield(L, idx, "output") == LUA_TNIL) {
		lua_pop(L, 1);
		return NULL;
	}
	const char *path = lua_tostring(L, -1);
	luaL_argcheck(L, path && lua_type(L, -1) == LUA_TSTRING && *path, 2, "output must be a file name");
	if (ei_download_open(&r->download, path, r) < 0) {
		snprintf(why, whylen, "cannot write '%s': %s", path,
			 errno == EEXIST ? "it exists and is not a regular file" : strerror(errno));
		lua_pop(L, 1);
		return why;
	}
	lua_pop(L, 1);
	r->to_file = -1;
	return NULL;
}

/* client:request{method=, url=, headers=, body=, parts=, output=, timeout=,
 * connect_timeout=, max_body=} */
static int l_request_new(lua_State *L)
{
	ei_client *c = ei_client_check(L, 1);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "method");
	const char *method = luaL_optstring(L, -1, "GET");
	lua_getfield(L, 2, "url");
	const char *url = lua_tostring(L, -1);
	luaL_argcheck(L, url && lua_type(L, -1) == LUA_TSTRING, 2, "url must be a string");
	const char *why = ei_libcurl_ready();
	if (why)
		return ei_fail(L, EI_ECONNECT, "%s", why);
	why = check_url(c, url);
	if (why)
		return ei_fail(L, EI_EINVAL, "%s", why);
	double timeout = ei_opt_seconds(L, 2, "timeout", 30, 1e7),
	       connect_timeout = ei_opt_seconds(L, 2, "connect_timeout", 10, 1e7);
	lua_getfield(L, 2, "max_body");
	lua_Integer max_body = luaL_optinteger(L, -1, DEFAULT_MAX_BODY);
	luaL_argcheck(L, max_body > 0, 2, "max_body must be positive");
	lua_pop(L, 1);

	ei_request *r = lua_newuserdatauv(L, sizeof *r, 1);
	memset(r, 0, sizeof *r);
	r->state = REQ_CLOSED;
	r->transfer = (ei_transfer){ .finish = finish, .abandon = abandon };
	r->max_body = (size_t)max_body;
	luaL_setmetatable(L, EI_REQUEST_MT);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1); /* the request keeps its client alive */
	r->easy = curl_easy_init();
	if (!r->easy || add_headers(L, r, 2) < 0) {
		release(r);
		return luaL_error(L, "cannot create a request: out of memory");
	}
	char why_io[512];
	configure(r, c, method, url, timeout, connect_timeout);
	if ((why = set_parts(L, r, 2, why_io, sizeof why_io)) || (why = set_output(L, r, 2, why_io, sizeof why_io))) {
		release(r);
		return ei_fail(L, EI_EINVAL, "%s", why);
	}
	if (set_body(L, r, 2) < 0 || ei_client_start(c, &r->transfer, r->easy) < 0) {
		release(r);
		return luaL_error(L, "cannot create a request: out of memory");
	}
	r->state = REQ_RUNNING;
	return 1;
}

static ei_request *check_request(lua_State *L)
{
	ei_request *r = luaL_checkudata(L, 1, EI_REQUEST_MT);
	if (r->state == REQ_CLOSED)
		luaL_error(L, "attempt to use a closed request");
	return r;
}

static int l_request_done(lua_State *L)
{
	lua_pushboolean(L, check_request(L)->state != REQ_RUNNING);
	return 1;
}

static void push_headers(lua_State *L, const ei_buf *head)
{
	lua_newtable(L);
	const char *p = head->p ? head->p : "", *end = p + head->len;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = eol ? eol : end, *colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon) {
			luaL_Buffer name;
			luaL_buffinit(L, &name);
			for (const char *q = p; q < colon; q++)
				luaL_addchar(&name, (char)tolower((unsigned char)*q));
			luaL_pushresult(&name);
			const char *v = colon + 1, *v_end = line_end;
			while (v < v_end && (*v == ' ' || *v == '\t'))
				v++;
			while (v_end > v && (v_end[-1] == '\r' || v_end[-1] == ' '))
				v_end--;
			lua_pushlstring(L, v, (size_t)(v_end - v));
			lua_rawset(L, -3);
		}
		p = line_end + 1;
	}
}

static int push_download(lua_State *L, ei_request *r);

/* status, body, headers | nil, message, code; with output, a 2xx body is
 * { path =, size =, sha256 = } */
static int l_request_result(lua_State *L)
{
	ei_request *r = check_request(L);
	if (r->state == REQ_ABANDONED)
		return ei_fail(L, EI_ECLOSED, "the client was closed");
	if (r->state != REQ_DONE)
		return ei_fail(L, EI_EINVAL, "the request has not finished");
	if (r->too_big)
		return ei_fail(L, EI_EPROTO, "response body larger than %d bytes", (int)r->max_body);
	if (r->result != CURLE_OK)
		return ei_fail(L, code_of(r->result), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(r->result));
	long status = 0;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (r->to_file == 1 && r->download.error)
		return ei_fail(L, EI_EINVAL, "cannot write '%s': %s", r->download.path, strerror(r->download.error));
	lua_pushinteger(L, status);
	if (r->download.path && success(status)) {
		if (push_download(L, r) < 0)
			return ei_fail(L, EI_EINVAL, "cannot write '%s': %s", r->download.path, strerror(errno));
	} else {
		ei_download_discard(&r->download);
		lua_pushlstring(L, r->response.p ? r->response.p : "", r->response.len);
	}
	push_headers(L, &r->head);
	return 3;
}

/* The file a 2xx body went to, now under its own name: { path =, size =, sha256 = }. */
static int push_download(lua_State *L, ei_request *r)
{
	lua_createtable(L, 0, 3);
	lua_pushstring(L, r->download.path);
	lua_setfield(L, -2, "path");
	lua_pushinteger(L, (lua_Integer)r->download.size);
	lua_setfield(L, -2, "size");
	if (ei_download_commit(&r->download) < 0) {
		lua_pop(L, 1);
		return -1;
	}
	lua_pushstring(L, r->download.sha256);
	lua_setfield(L, -2, "sha256");
	return 0;
}

/* Bytes received, expected (nil: unknown), sent and to send (nil: unknown) so far. */
static int l_request_progress(lua_State *L)
{
	ei_request *r = check_request(L);
	static const CURLINFO infos[] = {
		CURLINFO_SIZE_DOWNLOAD_T, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
		CURLINFO_SIZE_UPLOAD_T, CURLINFO_CONTENT_LENGTH_UPLOAD_T,
	};
	for (int i = 0; i < 4; i++) {
		curl_off_t v = -1;
		if (!r->easy || curl_easy_getinfo(r->easy, infos[i], &v) != CURLE_OK || v < 0)
			lua_pushnil(L);
		else
			lua_pushinteger(L, (lua_Integer)v);
	}
	return 4;
}

static int l_request_close(lua_State *L)
{
	ei_request *r = luaL_checkudata(L, 1, EI_REQUEST_MT);
	release(r);
	r->state = REQ_CLOSED;
	return 0;
}

static int l_request_tostring(lua_State *L)
{
	ei_request *r = luaL_checkudata(L, 1, EI_REQUEST_MT);
	static const char *const states[] = { "running", "done", "closed", "closed" };
	lua_pushfstring(L, "%s (%s, %p)", EI_REQUEST_MT, states[r->state], (void *)r);
	return 1;
}

void ei_http_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "done", l_request_done },   { "result", l_request_result },     { "close", l_request_close },
		{ "progress", l_request_progress }, { NULL, NULL },
	};
	ei_new_class(L, EI_REQUEST_MT, methods, l_request_close, l_request_tostring);
	ei_client_add_method(L, "request", l_request_new);
}
