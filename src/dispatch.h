/* What a websocket does with each Socket.IO packet it receives: the hello
 * opens it and subscribes its jobs, job-data and job-finished feed the jobs'
 * logs, pings are answered, a refusal or close fails it. No Lua here. */
#ifndef EI_DISPATCH_H
#define EI_DISPATCH_H

#include <stddef.h>

#include "websocket.h"

/* One complete text message; returns -1 when the connection must close
 * (the failure is recorded), else 0. */
int ei_dispatch_message(ei_websocket *ws, const char *p, size_t n);

#endif
