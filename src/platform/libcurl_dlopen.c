/* libcurl on demand (the Linux build; CMake's EI_LINK_CURL=OFF).
 *
 * ei.core is not linked with libcurl: the first HTTP request opens it with dlopen,
 * by the file name the build gives as EI_LIBCURL (libcurl.so.4, libcurl.4.dylib).
 * libcurl needs some thirty shared libraries (two TLS stacks, Kerberos, LDAP, SSH,
 * RTMP, IDN, ...); loading, relocating and initialising them was about 3.5 ms of
 * the 5 ms that `require "ei"` + `ei.new{}` cost. So a script that only validates
 * parameters, or fails on its options, never pays it, and the first request pays
 * it once, with lazy binding. The functions below carry libcurl's own names and
 * prototypes, so the client and the requests call libcurl as it is documented;
 * each one forwards to the library. Like curl_global_init, which runs in the same
 * once-only step, the loaded library is process-wide. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "libcurl.h"

#ifndef EI_LIBCURL
#define EI_LIBCURL "libcurl.so.4"
#endif

#define LIBCURL_FUNCTIONS(X)                                                                                       \
	X(curl_global_init)                                                                                        \
	X(curl_easy_init) X(curl_easy_cleanup) X(curl_easy_setopt) X(curl_easy_getinfo) X(curl_easy_strerror)     \
	X(curl_free) X(curl_slist_append) X(curl_slist_free_all)                                                   \
	X(curl_url) X(curl_url_cleanup) X(curl_url_set) X(curl_url_get)                                            \
	X(curl_multi_init) X(curl_multi_cleanup) X(curl_multi_setopt) X(curl_multi_add_handle)                     \
	X(curl_multi_remove_handle) X(curl_multi_socket_action) X(curl_multi_info_read)                            \
	X(curl_mime_init) X(curl_mime_free) X(curl_mime_addpart) X(curl_mime_name) X(curl_mime_data)               \
	X(curl_mime_filedata) X(curl_mime_filename) X(curl_mime_type)

static struct {
#define LIBCURL_FIELD(name) __typeof__(name) *name;
	LIBCURL_FUNCTIONS(LIBCURL_FIELD)
#undef LIBCURL_FIELD
} libcurl;
static pthread_once_t libcurl_once = PTHREAD_ONCE_INIT;
static char libcurl_error[256]; /* why it could not be loaded; empty once it is */

static void libcurl_load(void)
{
	void *lib = dlopen(EI_LIBCURL, RTLD_LAZY | RTLD_LOCAL);
	const char *missing = NULL;
	if (lib) {
#define LIBCURL_RESOLVE(name)                                                                                      \
	if (!missing && !(libcurl.name = (__typeof__(libcurl.name))dlsym(lib, #name)))                             \
		missing = #name;
		LIBCURL_FUNCTIONS(LIBCURL_RESOLVE)
#undef LIBCURL_RESOLVE
	}
	if (!lib)
		snprintf(libcurl_error, sizeof libcurl_error, "cannot load libcurl: %s", dlerror());
	else if (missing)
		snprintf(libcurl_error, sizeof libcurl_error, "cannot load libcurl: %s has no %s", EI_LIBCURL, missing);
	else if (libcurl.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		snprintf(libcurl_error, sizeof libcurl_error, "cannot initialise libcurl");
}

const char *ei_libcurl_ready(void)
{
	pthread_once(&libcurl_once, libcurl_load);
	return libcurl_error[0] ? libcurl_error : NULL;
}

/* The forwarders, hidden even where the module is built without
 * -fvisibility=hidden. Every call comes after ei_libcurl_ready() succeeded: a
 * client's multi handle and every easy handle exist only from the first request on. */
#pragma GCC visibility push(hidden)
CURL *curl_easy_init(void)
{
	return libcurl.curl_easy_init();
}
void curl_easy_cleanup(CURL *e)
{
	libcurl.curl_easy_cleanup(e);
}
const char *curl_easy_strerror(CURLcode code)
{
	return libcurl.curl_easy_strerror(code);
}
void curl_free(void *p)
{
	libcurl.curl_free(p);
}
struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return libcurl.curl_slist_append(list, s);
}
void curl_slist_free_all(struct curl_slist *list)
{
	libcurl.curl_slist_free_all(list);
}
CURLU *curl_url(void)
{
	return libcurl.curl_url();
}
void curl_url_cleanup(CURLU *u)
{
	libcurl.curl_url_cleanup(u);
}
CURLUcode curl_url_set(CURLU *u, CURLUPart what, const char *part, unsigned int flags)
{
	return libcurl.curl_url_set(u, what, part, flags);
}
CURLUcode curl_url_get(CURLU *u, CURLUPart what, char **part, unsigned int flags)
{
	return libcurl.curl_url_get(u, what, part, flags);
}
CURLM *curl_multi_init(void)
{
	return libcurl.curl_multi_init();
}
CURLMcode curl_multi_cleanup(CURLM *m)
{
	return libcurl.curl_multi_cleanup(m);
}
CURLMcode curl_multi_add_handle(CURLM *m, CURL *e)
{
	return libcurl.curl_multi_add_handle(m, e);
}
CURLMcode curl_multi_remove_handle(CURLM *m, CURL *e)
{
	return libcurl.curl_multi_remove_handle(m, e);
}
CURLMcode curl_multi_socket_action(CURLM *m, curl_socket_t fd, int mask, int *running)
{
	return libcurl.curl_multi_socket_action(m, fd, mask, running);
}
CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return libcurl.curl_multi_info_read(m, left);
}
curl_mime *curl_mime_init(CURL *e)
{
	return libcurl.curl_mime_init(e);
}
void curl_mime_free(curl_mime *m)
{
	libcurl.curl_mime_free(m);
}
curl_mimepart *curl_mime_addpart(curl_mime *m)
{
	return libcurl.curl_mime_addpart(m);
}
CURLcode curl_mime_name(curl_mimepart *p, const char *name)
{
	return libcurl.curl_mime_name(p, name);
}
CURLcode curl_mime_data(curl_mimepart *p, const char *data, size_t n)
{
	return libcurl.curl_mime_data(p, data, n);
}
CURLcode curl_mime_filedata(curl_mimepart *p, const char *path)
{
	return libcurl.curl_mime_filedata(p, path);
}
CURLcode curl_mime_filename(curl_mimepart *p, const char *name)
{
	return libcurl.curl_mime_filename(p, name);
}
CURLcode curl_mime_type(curl_mimepart *p, const char *type)
{
	return libcurl.curl_mime_type(p, type);
}

/* The option number says the type of its argument (CURLOPTTYPE_*), as libcurl
 * itself reads it. */
#define FORWARD_SETOPT(name, handle_t, option_t, code_t)                                                           \
	code_t(name)(handle_t *h, option_t option, ...)                                                            \
	{                                                                                                          \
		va_list ap;                                                                                        \
		va_start(ap, option);                                                                              \
		code_t rc = option < CURLOPTTYPE_OBJECTPOINT     ? (libcurl.name)(h, option, va_arg(ap, long))     \
			    : option < CURLOPTTYPE_FUNCTIONPOINT ? (libcurl.name)(h, option, va_arg(ap, void *))   \
			    : option < CURLOPTTYPE_OFF_T ? (libcurl.name)(h, option, va_arg(ap, void (*)(void)))   \
			    : option < CURLOPTTYPE_BLOB  ? (libcurl.name)(h, option, va_arg(ap, curl_off_t))       \
							 : (libcurl.name)(h, option, va_arg(ap, void *));          \
		va_end(ap);                                                                                        \
		return rc;                                                                                         \
	}
FORWARD_SETOPT(curl_easy_setopt, CURL, CURLoption, CURLcode)
FORWARD_SETOPT(curl_multi_setopt, CURLM, CURLMoption, CURLMcode)

/* Every CURLINFO argument is a pointer. */
CURLcode(curl_easy_getinfo)(CURL *e, CURLINFO info, ...)
{
	va_list ap;
	va_start(ap, info);
	CURLcode rc = (libcurl.curl_easy_getinfo)(e, info, va_arg(ap, void *));
	va_end(ap);
	return rc;
}
#pragma GCC visibility pop
