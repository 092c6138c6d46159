/* The transport of a client (`ei.core.Client`): one libcurl multi handle and one
 * readiness set, so a host waits on a single descriptor. The Lua client
 * (`ei.Client`, lua/ei/client.lua) holds one. */
#ifndef EI_CLIENT_H
#define EI_CLIENT_H

#include <curl/curl.h>

#include "core.h"
#include "pollset.h"

typedef struct ei_client ei_client;

/* The open client at idx; raises on anything else or a closed client. */
ei_client *ei_client_check(lua_State *L, int idx);

ei_poll *ei_client_poll(ei_client *c);

/* Options shared by everything the client opens; NULL when not set. */
const char *ei_client_ca_file(ei_client *c);
const char *ei_client_user_agent(ei_client *c);
int ei_client_insecure(ei_client *c);

/* Add a method to the client's class (a class that works on clients, e.g.
 * `request`, registers it so); called when the module opens, after the client's own. */
void ei_client_add_method(lua_State *L, const char *name, lua_CFunction method);

/* A libcurl transfer on the client's multi handle. Its owner embeds it, sets the
 * two callbacks, and says nothing else to the client; the client owns the easy
 * handle's CURLOPT_PRIVATE. Both callbacks come after the client took the transfer
 * off (from a step or a close, never from inside libcurl). */
typedef struct ei_transfer ei_transfer;
struct ei_transfer {
	/* libcurl says the transfer is over (result: how). */
	void (*finish)(ei_transfer *t, CURLcode result);
	/* The client closes while the transfer runs. */
	void (*abandon)(ei_transfer *t);
	/* Kept by the client. */
	CURL *easy;
	ei_client *client; /* NULL when not on a client */
	ei_transfer *next, **prev;
};

/* Start easy as transfer t on the client's multi handle (made on the first
 * transfer). 0, or -1 when the multi handle cannot be made. */
int ei_client_start(ei_client *c, ei_transfer *t, CURL *easy);
/* Take the transfer off its client (if it is still on one); idempotent. */
void ei_client_stop(ei_transfer *t);

#endif
