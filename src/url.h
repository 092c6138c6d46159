/* A websocket URL (ws[s]://host[:port][/path?query]) taken apart for
 * libwebsockets, and its socket token kept aside so that no message shows it.
 * No Lua here. */
#ifndef EI_URL_H
#define EI_URL_H

typedef struct {
	char host[256];	  /* without brackets */
	char header[272]; /* Host header value: host[:port] */
	int port;
	int tls;
	char *path;  /* with the query: holds the token */
	char *token; /* the query's token=, or NULL */
} ei_url;

/* Fills u; returns NULL, or a text saying what was wrong (then free u all the same). */
const char *ei_url_parse(const char *url, ei_url *u);

/* Idempotent; leaves u empty. */
void ei_url_free(ei_url *u);

/* Overwrite every occurrence of u's token in msg with '*'. */
void ei_url_scrub(const ei_url *u, char *msg);

#endif
