/* libcurl linked at build time (CMake's EI_LINK_CURL, the rockspec off Linux):
 * where a library cannot be opened by a known file name, or loading it lazily
 * buys nothing. The core calls libcurl directly; only the once-only global
 * initialisation is left to do here, on the first request as with dlopen. */
#include <pthread.h>

#include "libcurl.h"

static pthread_once_t libcurl_once = PTHREAD_ONCE_INIT;
static int libcurl_failed;

static void libcurl_init(void)
{
	libcurl_failed = curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK;
}

const char *ei_libcurl_ready(void)
{
	pthread_once(&libcurl_once, libcurl_init);
	return libcurl_failed ? "cannot initialise libcurl" : NULL;
}
