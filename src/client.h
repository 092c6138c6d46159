/* The client (`ei.Client`): one libcurl multi handle and one readiness set. */
#ifndef EI_CLIENT_H
#define EI_CLIENT_H

#include "core.h"
#include "pollset.h"

#define EI_CLIENT_MT "ei.Client"

typedef struct ei_client ei_client;

/* The open client at idx; raises on anything else or a closed client. */
ei_client *ei_client_check(lua_State *L, int idx);

ei_poll *ei_client_poll(ei_client *c);

/* Options shared by everything the client opens; NULL when not set. */
const char *ei_client_ca_file(ei_client *c);
const char *ei_client_user_agent(ei_client *c);
int ei_client_insecure(ei_client *c);

#endif
