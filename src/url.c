/* Websocket URLs (url.h): the parts libwebsockets takes separately, and the
 * token scrubbed from any message, even one libwebsockets wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

void ei_url_free(ei_url *u)
{
	free(u->path);
	free(u->token);
	memset(u, 0, sizeof *u);
}

void ei_url_scrub(const ei_url *u, char *msg)
{
	const char *t = u->token;
	size_t tl = t ? strlen(t) : 0;
	char *at;
	while (tl >= 4 && (at = strstr(msg, t)))
		memset(at, '*', tl);
}

/* The host, in brackets or not, and the port. */
static const char *parse_authority(const char *p, const char *end, ei_url *u)
{
	const char *hend = end, *colon = NULL;
	if (*p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));
		if (!close)
			return "bad IPv6 address in the URL";
		colon = close[1] == ':' ? close + 1 : NULL;
		hend = close + 1;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
		if (colon)
			hend = colon;
	}
	const char *h = *p == '[' ? p + 1 : p;
	size_t hl = (size_t)(hend - h) - (*p == '[');
	if (hl == 0 || hl >= sizeof u->host)
		return "bad host in the URL";
	memcpy(u->host, h, hl);
	u->port = u->tls ? 443 : 80;
	if (colon) {
		char *e;
		long port = strtol(colon + 1, &e, 10);
		if (e != end || port <= 0 || port > 65535)
			return "bad port in the URL";
		u->port = (int)port;
	}
	int v6 = *p == '[';
	if ((u->tls ? 443 : 80) == u->port)
		snprintf(u->header, sizeof u->header, v6 ? "[%s]" : "%s", u->host);
	else
		snprintf(u->header, sizeof u->header, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
	return NULL;
}

/* The path with its query, and the token in it. */
static const char *parse_path(const char *end, ei_url *u)
{
	u->path = *end == '/' ? strdup(end) : malloc(strlen(end) + 2);
	if (!u->path)
		return "out of memory";
	if (*end != '/')
		sprintf(u->path, "/%s", end);
	const char *t = strstr(u->path, "token=");
	if (t) {
		t += 6;
		u->token = strndup(t, strcspn(t, "&#"));
		if (!u->token)
			return "out of memory";
	}
	return NULL;
}

const char *ei_url_parse(const char *url, ei_url *u)
{
	memset(u, 0, sizeof *u);
	const char *p;
	if (strncmp(url, "ws://", 5) == 0)
		p = url + 5;
	else if (strncmp(url, "wss://", 6) == 0)
		p = url + 6, u->tls = 1;
	else
		return "the URL must start with ws:// or wss://";
	const char *end = p + strcspn(p, "/?#");
	const char *bad = parse_authority(p, end, u);
	return bad ? bad : parse_path(end, u);
}
