/* libcurl, opened on the first HTTP request instead of linked: the rest of the
 * core calls libcurl's functions by their own names (libcurl.c forwards them). */
#ifndef EI_LIBCURL_H
#define EI_LIBCURL_H

#include <curl/curl.h>

/* Load and initialise libcurl once per process: NULL when it is ready, else
 * why it cannot be (the message of the first request's error). */
const char *ei_libcurl_ready(void);

#endif
