/* HTTP requests (`ei.Request`): one libcurl easy handle on the client's multi handle. */
#ifndef EI_HTTP_H
#define EI_HTTP_H

#include <curl/curl.h>

#include "client.h"

typedef struct ei_request ei_request;

CURLM *ei_client_multi(ei_client *c);
ei_request **ei_client_requests(ei_client *c);

/* client:request{method=, url=, headers=, body=, timeout=, connect_timeout=, max_body=} */
int ei_request_new(lua_State *L);
/* libcurl says the transfer on easy is over. */
void ei_request_finish(CURL *easy, CURLcode result);
/* The client closes: stop the transfer and forget the client. */
void ei_request_abandon(ei_request *r);

void ei_http_open(lua_State *L);

#endif
