/* Name resolution on a thread of its own: getaddrinfo blocks, and libwebsockets
 * 4.1 has no asynchronous resolver. The caller polls a descriptor that becomes
 * readable when the answer is there. No Lua here. */
#ifndef EI_RESOLVE_H
#define EI_RESOLVE_H

#include <netinet/in.h>

#define EI_RESOLVE_MAX 4 /* addresses kept, in the resolver's order */

/* An address in text, as libwebsockets takes it. */
typedef char ei_addr[INET6_ADDRSTRLEN];

typedef struct ei_resolve ei_resolve;

/* Start resolving host:port; NULL when no thread could be started. */
ei_resolve *ei_resolve_start(const char *host, int port);

/* Readable once the answer is there. */
int ei_resolve_fd(const ei_resolve *r);

/* Whether the answer is there; until then the functions below say nothing. */
int ei_resolve_done(const ei_resolve *r);

/* The addresses found (at most EI_RESOLVE_MAX); 0 when none, and then
 * *error says why. */
int ei_resolve_addrs(const ei_resolve *r, ei_addr *addrs, const char **error);

/* Give up the caller's reference: the thread may still be resolving and
 * frees the record when it ends. */
void ei_resolve_release(ei_resolve *r);

/* A literal IPv4 or IPv6 address needs no resolver: 1 with it written to out. */
int ei_resolve_numeric(const char *host, ei_addr out);

#endif
