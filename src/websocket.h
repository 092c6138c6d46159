/* One websocket connection to Studio, driven by libwebsockets from the client's
 * poll set without blocking: connecting (through the resolver when the host is
 * a name), the write queue, servicing, the hello, ping and idle timers, and
 * the jobs it follows. No Lua here: socket.c binds it as `ei.Socket`,
 * wscallback.c holds its libwebsockets callback, and dispatch.c handles the
 * Socket.IO packets it receives. */
#ifndef EI_WEBSOCKET_H
#define EI_WEBSOCKET_H

#include <stddef.h>
#include <stdint.h>

#include "engineio.h"
#include "jobset.h"
#include "pollset.h"
#include "resolve.h"
#include "url.h"

typedef enum { EI_WS_IDLE, EI_WS_CONNECTING, EI_WS_OPEN, EI_WS_CLOSED } ei_ws_state;

/* Where a connection attempt is. */
typedef enum { EI_PH_NONE, EI_PH_RESOLVING, EI_PH_TCP, EI_PH_HANDSHAKE, EI_PH_WEBSOCKET } ei_ws_phase;

typedef struct {
	size_t max_frame; /* largest message, and longest line kept */
	int64_t ping_ms, hello_ms, idle_ms;
	int64_t coalesce_ms; /* after a read of several messages, read again this much later (0: at once) */
	ei_jobset_limits limits;
} ei_ws_options;

typedef struct {
	uint64_t frames, bytes, malformed, ignored, dropped_duplicates, duplicate_bytes;
	uint64_t connects, pings_sent, pongs_received, pings_received, flow_stops;
	uint64_t reads, holds; /* reads that took messages; holds that followed them */
} ei_ws_stats;

struct lws;
struct lws_context;
struct lws_protocols;

/* The fields belong to websocket.c, wscallback.c and dispatch.c; socket.c
 * goes through the functions below. */
typedef struct ei_websocket {
	ei_watch watch;
	ei_poll *poll;
	ei_ws_options opt;

	ei_ws_state state;
	const char *code;
	char msg[256];

	ei_url url;
	char ca_file[1024];
	char user_agent[256];
	struct lws_context *ctx;
	int ctx_tls;
	struct lws *wsi;
	ei_ws_phase phase;
	ei_addr addrs[EI_RESOLVE_MAX]; /* tried in order until TCP connects */
	int n_addrs, next_addr, try_next;
	int cert_failed;
	int fd;
	unsigned fd_events;
	ei_resolve *resolve;

	int64_t connect_due, next_ping, last_rx, lws_due;
	int rx_stopped;
	int64_t hold_until; /* not reading until then (coalescing a burst), or -1 */
	int rx_seen;	   /* read since the last tick, which notes the time */
	uint64_t rx_bytes; /* read from the websocket, complete messages or not */
	int in_message, message_binary;
	ei_buf rx, scratch;
	ei_buf out; /* [u32 length][bytes] records */
	size_t out_head;
	ei_buf tx; /* LWS_PRE bytes lws may write into, then the frame being sent */

	ei_jobset jobs;
	ei_ws_stats stats;
} ei_websocket;

/* Idle, and watched by poll (the client's) until ei_websocket_close. */
void ei_websocket_init(ei_websocket *ws, const ei_ws_options *opt, ei_poll *poll);

/* Frees everything and leaves the poll set; idempotent. */
void ei_websocket_close(ei_websocket *ws);

/* Whether the client's poll set still exists (it goes when the client closes). */
int ei_websocket_attached(const ei_websocket *ws);

/* Drop any connection and connect to url. Returns NULL, or a text saying what
 * was wrong with url (nothing was started). A failure found at once leaves the
 * state EI_WS_CLOSED. ca_file and user_agent may be NULL. */
const char *ei_websocket_connect(ei_websocket *ws, const char *url, const char *ca_file, const char *user_agent);

/* The state; when closed, *msg and *code say why (the first failure). */
ei_ws_state ei_websocket_state(const ei_websocket *ws, const char **msg, const char **code);

/* Host[:port] of the URL connected to, or "". */
const char *ei_websocket_address(const ei_websocket *ws);

const ei_ws_stats *ei_websocket_stats(const ei_websocket *ws);
int ei_websocket_reading_paused(const ei_websocket *ws);
ei_jobset *ei_websocket_jobs(ei_websocket *ws);

/* Follow a job, subscribing now when open and after every reconnect; the
 * job's log, or NULL when out of memory. */
ei_joblog *ei_websocket_follow(ei_websocket *ws, int64_t job);
void ei_websocket_unfollow(ei_websocket *ws, int64_t job);

/* Reading paused for flow goes on when the jobs allow it (after events were
 * taken, or a job was followed or let go). */
void ei_websocket_resume(ei_websocket *ws);

/* After events were taken from jl's queue (`before` marked before the taking):
 * the queue gives back room, the jobs' totals follow, reading may resume. */
void ei_websocket_taken(ei_websocket *ws, ei_joblog *jl, ei_queue_mark before);

/* ---- Between the websocket's files (websocket.c, wscallback.c, dispatch.c) */

/* lws reads at most this much per service. */
#define EI_WS_RX_CHUNK (64u << 10)

/* Closed with this failure (the first one only: later ones are not
 * reported); returns -1, for a callback to return. The token is scrubbed. */
int ei_websocket_fail(ei_websocket *ws, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Send the job's subscription (start-log-stream), resuming after what it
 * delivered: at the hello, and when a job is followed on an open socket. */
void ei_websocket_subscribe(ei_websocket *ws, ei_joblog *jl);

/* Queue a text message; written when lws says the connection is writable. */
void ei_websocket_send(ei_websocket *ws, const char *p, size_t n);

static inline int ei_websocket_out_pending(const ei_websocket *ws)
{
	return ws->out_head < ws->out.len;
}

/* Stop reading for flow control (jobset.c decides). */
void ei_websocket_pause(ei_websocket *ws);

/* The protocol table with the callback (wscallback.c), for the lws context. */
const struct lws_protocols *ei_websocket_protocols(void);

#endif
