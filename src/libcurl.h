/* libcurl as the build provides it: opened on the first HTTP request
 * (platform/libcurl_dlopen.c, which forwards libcurl's functions by their own
 * names) or linked (platform/libcurl_linked.c). Either way the rest of the
 * core calls libcurl as it is documented. */
#ifndef EI_LIBCURL_H
#define EI_LIBCURL_H

#include <curl/curl.h>

/* Load (unless linked) and initialise libcurl once per process: NULL when it
 * is ready, else why it cannot be (the message of the first request's error). */
const char *ei_libcurl_ready(void);

#endif
