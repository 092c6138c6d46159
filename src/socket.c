/* The Studio websocket (`ei.Socket`): one libwebsockets connection that
 * follows job logs, serviced from the client's epoll set without blocking.
 *
 * Servicing: the lws socket joins the client's epoll set; when it is ready, or
 * a timer of ours is due, lws_service(ctx, -1) runs lws once without waiting
 * (its own zero-timeout poll, its timers, its buffered input). The deadline
 * covers the hello and ping timers and, while connecting, lws's timers.
 *
 * Callbacks only fill C buffers and the per-job queues of stream.c; Lua tables
 * are built in next/drain. The only thread is the short-lived resolver
 * (getaddrinfo blocks; lws 4.1 here has no async DNS), which shares nothing
 * but its own record with us.
 *
 * Each socket owns its lws context, created at the first connect and kept
 * across reconnects: the TLS settings (CA file) and the callback's user pointer
 * are per context in lws 4.1, and sockets (one per project) stay independent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "client.h"
#include "core.h"
#include "backfill.h"
#include "engineio.h"
#include "pollset.h"
#include "stream.h"

#define EI_SOCKET_MT "ei.Socket"

/* Flow bounds: per job, and over all the jobs of a socket (see check_flow). */
#define DEFAULT_MAX_QUEUE 10000
#define DEFAULT_MAX_QUEUE_BYTES (8u << 20)
#define DEFAULT_MAX_TOTAL 100000
#define DEFAULT_MAX_TOTAL_BYTES (64u << 20)
#define DEFAULT_MAX_FRAME (16u << 20)
#define DEFAULT_PING_MS 5000
#define DEFAULT_HELLO_MS 10000
#define DEFAULT_IDLE_MS 60000
/* How often lws gets serviced while a connection is being set up, for its own
 * timers and the POLLOUT interest we cannot see (see sync_fds). */
#define CONNECTING_POLL_MS 100
/* lws reads one buffer per service; a few rounds per wakeup save steps while
 * a backlog is read (a full buffer each time). */
#define SERVICE_ROUNDS 8
#define RX_CHUNK (64u << 10)

typedef enum { ST_IDLE, ST_CONNECTING, ST_OPEN, ST_CLOSED } ei_state;
static const char *const state_names[] = { "idle", "connecting", "open", "closed" };

/* Where a connection attempt is. */
typedef enum { PH_NONE, PH_RESOLVING, PH_TCP, PH_HANDSHAKE, PH_WEBSOCKET } ei_phase;

typedef struct {
	uint64_t frames, bytes, malformed, ignored, dropped_duplicates, duplicate_bytes;
	uint64_t connects, pings_sent, pongs_received, pings_received, flow_stops, overflows;
} ei_socket_stats;

#define MAX_ADDRS 4
typedef char ei_addr[INET6_ADDRSTRLEN];

/* A name resolution running in its own thread. Both sides hold a reference;
 * the thread signals `efd` when `done`. */
typedef struct {
	atomic_int refs;
	atomic_int done;
	int efd;
	int err;
	char host[256], port[8];
	ei_addr addrs[MAX_ADDRS];
	int n_addrs;
} ei_resolve;

typedef struct {
	char host[256];	  /* without brackets */
	char header[272]; /* Host header value: host[:port] */
	int port;
	int tls;
	char *path; /* with the query: holds the token */
	char *token;
} ei_url;

typedef struct ei_socket {
	ei_watch watch;
	ei_poll *poll;
	int closed; /* close() was called */

	size_t max_queue, max_queue_bytes, max_total, max_total_bytes, max_frame;
	int64_t ping_ms, hello_ms, idle_ms;

	ei_state state;
	const char *code;
	char msg[256];

	ei_url url;
	char ca_file[1024];
	char user_agent[256];
	struct lws_context *ctx;
	int ctx_tls;
	struct lws *wsi;
	ei_phase phase;
	ei_addr addrs[MAX_ADDRS]; /* tried in order until TCP connects */
	int n_addrs, next_addr, try_next;
	int cert_failed;
	int fd;
	unsigned fd_events;
	ei_resolve *resolve;

	int64_t connect_due, next_ping, last_rx, lws_due;
	int rx_stopped;
	int rx_seen; /* read since the last tick, which notes the time */
	uint64_t rx_bytes; /* read from the websocket, complete messages or not */
	int in_message, message_binary;
	ei_bytes rx, scratch;
	ei_bytes out; /* [u32 length][bytes] records */
	size_t out_head;
	unsigned char *tx;
	size_t tx_cap;

	ei_stream **jobs; /* in the order they were followed */
	size_t n_jobs, cap_jobs;
	ei_stream **slots; /* the same jobs by id: open addressing, linear probing */
	size_t n_slots;	   /* a power of two, more than twice n_jobs */
	size_t queued, queued_bytes; /* events and bytes waiting, over all jobs */
	ei_socket_stats stats;
} ei_socket;

static ei_socket *of_watch(ei_watch *w)
{
	return (ei_socket *)((char *)w - offsetof(ei_socket, watch));
}

/* ---- Failure state ----------------------------------------------------- */

/* The token must never leak through a message, even one lws wrote. */
static void scrub(const ei_socket *s, char *msg)
{
	const char *t = s->url.token;
	size_t tl = t ? strlen(t) : 0;
	char *at;
	while (tl >= 4 && (at = strstr(msg, t)))
		memset(at, '*', tl);
}

/* The first failure of a connection is the one reported. */
static void set_closed(ei_socket *s, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_closed(ei_socket *s, const char *code, const char *fmt, ...)
{
	if (s->state == ST_CLOSED)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof s->msg, fmt, ap);
	va_end(ap);
	scrub(s, s->msg);
	s->code = code;
	s->state = ST_CLOSED;
	s->phase = PH_NONE;
}

/* ---- Output queue ------------------------------------------------------ */

static int out_pending(const ei_socket *s)
{
	return s->out_head < s->out.len;
}

static void send_text(ei_socket *s, const char *p, size_t n)
{
	uint32_t len = (uint32_t)n;
	if (ei_bytes_reserve(&s->out, sizeof len + n) < 0)
		return; /* out of memory: the ping timer or the next hello retries */
	ei_bytes_append(&s->out, &len, sizeof len);
	ei_bytes_append(&s->out, p, n);
	if (s->wsi && s->phase == PH_WEBSOCKET)
		lws_callback_on_writable(s->wsi);
}

static int write_one(ei_socket *s, struct lws *wsi)
{
	if (!out_pending(s))
		return 0;
	uint32_t len;
	memcpy(&len, s->out.p + s->out_head, sizeof len);
	if (s->tx_cap < LWS_PRE + len) {
		unsigned char *tx = realloc(s->tx, LWS_PRE + len);
		if (!tx)
			return 0;
		s->tx = tx;
		s->tx_cap = LWS_PRE + len;
	}
	memcpy(s->tx + LWS_PRE, s->out.p + s->out_head + sizeof len, len);
	s->out_head += sizeof len + len;
	if (s->out_head == s->out.len)
		s->out_head = s->out.len = 0;
	if (lws_write(wsi, s->tx + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len)
		return -1;
	if (out_pending(s))
		lws_callback_on_writable(wsi);
	return 0;
}

/* lastReceivedTimestamp is one millisecond before the newest one delivered:
 * several payloads may share that millisecond, and a server that resumes after
 * it would skip those of them the client never got. What comes again is
 * dropped by the de-duplication (stream.c). */
static void subscribe(ei_socket *s, ei_stream *st)
{
	char msg[EI_EIO_SUBSCRIBE_MAX];
	ei_stream_resubscribe(st);
	double from = st->has_ts && st->last_ts >= 1 ? st->last_ts - 1 : 0;
	send_text(s, msg, ei_eio_subscribe(msg, st->job, from));
}

/* ---- Jobs -------------------------------------------------------------- */

static size_t job_slot(int64_t job, size_t n_slots)
{
	return (size_t)(((uint64_t)job * 0x9E3779B97F4A7C15u) >> 32) & (n_slots - 1);
}

static ei_stream *find_job(ei_socket *s, int64_t job)
{
	if (!s->n_slots)
		return NULL;
	for (size_t i = job_slot(job, s->n_slots);; i = (i + 1) & (s->n_slots - 1))
		if (!s->slots[i] || s->slots[i]->job == job)
			return s->slots[i];
}

static void index_add(ei_socket *s, ei_stream *st)
{
	size_t i = job_slot(st->job, s->n_slots);
	while (s->slots[i])
		i = (i + 1) & (s->n_slots - 1);
	s->slots[i] = st;
}

/* Room in the index for one more job. */
static int index_reserve(ei_socket *s)
{
	if (2 * (s->n_jobs + 1) < s->n_slots)
		return 0;
	size_t n = s->n_slots ? 2 * s->n_slots : 8;
	ei_stream **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	free(s->slots);
	s->slots = slots;
	s->n_slots = n;
	for (size_t i = 0; i < s->n_jobs; i++)
		index_add(s, s->jobs[i]);
	return 0;
}

/* Remove a job from the index, moving back the entries its slot displaced. */
static void index_remove(ei_socket *s, const ei_stream *st)
{
	size_t mask = s->n_slots - 1, i = job_slot(st->job, s->n_slots), j;
	while (s->slots[i] != st)
		i = (i + 1) & mask;
	for (j = i;;) {
		s->slots[i] = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (!s->slots[j])
				return;
			size_t k = job_slot(s->slots[j]->job, s->n_slots);
			if (i <= j ? (i >= k || k > j) : (i >= k && k > j))
				break; /* its home is at or before the hole: it moves into it */
		}
		s->slots[i] = s->slots[j];
		i = j;
	}
}

/* A job's queue before a change, to keep the socket's totals in step. */
typedef struct {
	size_t events, bytes;
} ei_queue_mark;

static ei_queue_mark queue_mark(const ei_stream *st)
{
	return (ei_queue_mark){ ei_stream_queued(st), ei_stream_bytes(st) };
}

static void queue_changed(ei_socket *s, const ei_stream *st, ei_queue_mark before)
{
	s->queued = s->queued - before.events + ei_stream_queued(st);
	s->queued_bytes = s->queued_bytes - before.bytes + ei_stream_bytes(st);
}

/* Flow control is per job. A job over its bound stops keeping lines
 * (stream.c, "Overflow") and the socket reads on for the others; only a job
 * alone on its socket pauses reading instead, since no other job waits. Over
 * the socket's total bound, the jobs holding most let go of their queues until
 * a quarter of the bound is free again. */
static int over_bound(const ei_socket *s, const ei_stream *st)
{
	return ei_stream_queued(st) > s->max_queue || ei_stream_bytes(st) > s->max_queue_bytes;
}

static int over_total(const ei_socket *s, size_t events, size_t bytes)
{
	return events > s->max_total || bytes > s->max_total_bytes;
}

static void pause_reading(ei_socket *s)
{
	if (s->rx_stopped || !s->wsi)
		return;
	lws_rx_flow_control(s->wsi, 0);
	s->rx_stopped = 1;
	s->stats.flow_stops++;
}

static void overflow(ei_socket *s, ei_stream *st, int let_go)
{
	ei_queue_mark before = queue_mark(st);
	if (!st->overflow)
		s->stats.overflows++;
	if (let_go)
		ei_stream_let_go(st);
	else
		ei_stream_overflow(st);
	queue_changed(s, st, before);
}

static ei_stream *fullest(const ei_socket *s)
{
	ei_stream *best = NULL;
	for (size_t i = 0; i < s->n_jobs; i++)
		if (ei_stream_queued(s->jobs[i]) && (!best || ei_stream_bytes(s->jobs[i]) > ei_stream_bytes(best)))
			best = s->jobs[i];
	return best;
}

static void check_total(ei_socket *s)
{
	if (!over_total(s, s->queued, s->queued_bytes))
		return;
	if (s->n_jobs <= 1) {
		pause_reading(s);
		return;
	}
	ei_stream *st;
	while (over_total(s, s->queued + s->max_total / 4, s->queued_bytes + s->max_total_bytes / 4) && (st = fullest(s)))
		overflow(s, st, 1);
}

/* After `st` was fed. */
static void check_flow(ei_socket *s, ei_stream *st)
{
	if (!st->overflow && over_bound(s, st)) {
		if (s->n_jobs == 1)
			pause_reading(s);
		else
			overflow(s, st, 0);
	}
	check_total(s);
}

static void sync_fds(ei_socket *s);

/* Reading paused for a job alone goes on once it is half read, or as soon as
 * another job shares the socket (the first then overflows instead). */
static void maybe_resume(ei_socket *s)
{
	if (!s->rx_stopped)
		return;
	if (s->n_jobs > 1) {
		for (size_t i = 0; i < s->n_jobs; i++)
			if (!s->jobs[i]->overflow && over_bound(s, s->jobs[i]))
				overflow(s, s->jobs[i], 0);
	} else if (s->queued > s->max_queue / 2 || s->queued_bytes > s->max_queue_bytes / 2) {
		return;
	}
	s->rx_stopped = 0;
	s->last_rx = ei_now_ms();
	if (s->wsi) {
		lws_rx_flow_control(s->wsi, 1);
		sync_fds(s);
	}
}

/* ---- Incoming frames --------------------------------------------------- */

/* Out of memory inside a libwebsockets callback, where nothing may raise: the
 * connection closes, freeing its buffers, and reports ECLOSED; the stream treats it as
 * any lost connection and reconnects. */
#define OOM_QUEUEING "out of memory queueing job logs; the connection was closed"

static int fail_now(ei_socket *s, const char *code, const char *msg)
{
	set_closed(s, code, "%s", msg);
	return -1; /* lws closes the connection */
}

static int on_hello(ei_socket *s, const ei_eio_event *ev)
{
	if (s->state != ST_CONNECTING)
		return 0;
	if (ev->hello_version != 1)
		return fail_now(s, EI_EAUTH, "the server rejected the socket token (hello without version 1)");
	s->state = ST_OPEN;
	s->next_ping = ei_now_ms() + s->ping_ms;
	for (size_t i = 0; i < s->n_jobs; i++)
		subscribe(s, s->jobs[i]);
	return 0;
}

static int on_job_data(ei_socket *s, const ei_eio_event *ev)
{
	ei_stream *st = find_job(s, ev->job);
	if (!st) {
		s->stats.ignored++;
		return 0;
	}
	uint64_t dups = st->dup_bytes, dup_payloads = st->dup_payloads;
	ei_queue_mark before = queue_mark(st);
	int rc = ei_stream_feed(st, ev->data, ev->data_len, ev->has_ts, ev->ts);
	queue_changed(s, st, before);
	if (rc < 0)
		return fail_now(s, EI_ECLOSED, OOM_QUEUEING);
	s->stats.duplicate_bytes += st->dup_bytes - dups;
	s->stats.dropped_duplicates += st->dup_payloads - dup_payloads;
	check_flow(s, st);
	return 0;
}

static int on_job_finished(ei_socket *s, const ei_eio_event *ev)
{
	ei_stream *st = find_job(s, ev->job);
	if (!st) {
		s->stats.ignored++;
		return 0;
	}
	ei_queue_mark before = queue_mark(st);
	int rc = ei_stream_end(st, ev->success > 0);
	queue_changed(s, st, before);
	if (rc < 0)
		return fail_now(s, EI_ECLOSED, OOM_QUEUEING);
	check_flow(s, st);
	return 0;
}

static int on_malformed_event(ei_socket *s, const ei_eio_event *ev)
{
	(void)ev;
	s->stats.malformed++;
	return 0;
}

static int on_other_event(ei_socket *s, const ei_eio_event *ev)
{
	(void)ev;
	s->stats.ignored++;
	return 0;
}

static int (*const event_handlers[])(ei_socket *, const ei_eio_event *) = {
	[EI_EV_MALFORMED] = on_malformed_event, [EI_EV_OTHER] = on_other_event,
	[EI_EV_HELLO] = on_hello,		[EI_EV_JOB_DATA] = on_job_data,
	[EI_EV_JOB_FINISHED] = on_job_finished,
};

static int on_event(ei_socket *s, const ei_eio_packet *pk)
{
	ei_eio_event ev;
	ei_ev_kind kind = ei_eio_event_parse(pk->body, pk->body_len, &s->scratch, &ev);
	return event_handlers[kind](s, &ev);
}

static int on_ping(ei_socket *s, const ei_eio_packet *pk)
{
	(void)pk;
	s->stats.pings_received++;
	send_text(s, "3", 1);
	return 0;
}

static int on_pong(ei_socket *s, const ei_eio_packet *pk)
{
	(void)pk;
	s->stats.pongs_received++;
	return 0;
}

static int on_close(ei_socket *s, const ei_eio_packet *pk)
{
	(void)pk;
	return fail_now(s, EI_ECLOSED, "the server closed the session");
}

/* A Socket.IO error packet: before the hello it is a refusal. */
static int on_error(ei_socket *s, const ei_eio_packet *pk)
{
	(void)pk;
	if (s->state == ST_CONNECTING)
		return fail_now(s, EI_EAUTH, "the server refused the socket connection");
	s->stats.ignored++;
	return 0;
}

static int on_malformed(ei_socket *s, const ei_eio_packet *pk)
{
	(void)pk;
	s->stats.malformed++;
	return 0;
}

static int on_ignored(ei_socket *s, const ei_eio_packet *pk)
{
	(void)pk;
	s->stats.ignored++;
	return 0;
}

static int (*const packet_handlers[EI_EIO_KINDS])(ei_socket *, const ei_eio_packet *) = {
	[EI_EIO_MALFORMED] = on_malformed, [EI_EIO_OPEN] = on_ignored,	  [EI_EIO_CLOSE] = on_close,
	[EI_EIO_PING] = on_ping,	   [EI_EIO_PONG] = on_pong,	  [EI_EIO_UPGRADE] = on_ignored,
	[EI_EIO_NOOP] = on_ignored,	   [EI_EIO_CONNECT] = on_ignored, [EI_EIO_DISCONNECT] = on_close,
	[EI_EIO_EVENT] = on_event,	   [EI_EIO_ACK] = on_ignored,	  [EI_EIO_ERROR] = on_error,
	[EI_EIO_BINARY] = on_ignored,	   [EI_EIO_OTHER_NSP] = on_ignored,
};

static int on_message(ei_socket *s, const char *p, size_t n)
{
	s->stats.frames++;
	s->stats.bytes += n;
	ei_eio_packet pk = ei_eio_parse(p, n);
	return packet_handlers[pk.kind](s, &pk);
}

/* A piece of a websocket message; messages are reassembled, bounded by max_frame. */
static int on_receive(ei_socket *s, struct lws *wsi, const char *in, size_t len)
{
	int first = !s->in_message, final = lws_is_final_fragment(wsi);
	if (first) {
		s->rx.len = 0;
		s->message_binary = lws_frame_is_binary(wsi);
		s->in_message = 1;
	}
	s->rx_bytes += len; /* service() notes the time of the read */
	size_t ahead = final ? 0 : lws_remaining_packet_payload(wsi);
	if (s->rx.len + len + ahead > s->max_frame) {
		set_closed(s, EI_EPROTO, "the server sent a message of more than %zu bytes", s->max_frame);
		return -1;
	}
	if (final)
		s->in_message = 0;
	if (s->message_binary) {
		if (final)
			s->stats.malformed++;
		return 0;
	}
	if (first && final)
		return on_message(s, in, len);
	if (ei_bytes_append(&s->rx, in, len) < 0)
		return fail_now(s, EI_ECLOSED, "out of memory reading a message; the connection was closed");
	return final ? on_message(s, s->rx.p, s->rx.len) : 0;
}

/* ---- libwebsockets callback -------------------------------------------- */

static void on_connection_error(ei_socket *s, struct lws *wsi, const char *why)
{
	unsigned status = lws_http_client_http_response(wsi);
	why = why && *why ? why : "connection failed";
	if (status == 401 || status == 403)
		set_closed(s, EI_EAUTH, "the server refused the websocket (HTTP %u)", status);
	else if (status >= 300)
		set_closed(s, EI_ECONNECT, "websocket upgrade refused by %s (HTTP %u)", s->url.host, status);
	else if (s->cert_failed)
		set_closed(s, EI_ECONNECT,
			   "TLS certificate of %s not accepted (untrusted issuer, self-signed, expired or another host name)",
			   s->url.host);
	else if (s->phase == PH_TCP && s->next_addr < s->n_addrs)
		s->try_next = 1;
	else
		set_closed(s, EI_ECONNECT, "cannot connect to %s:%d: %s", s->url.host, s->url.port, why);
}

static void on_peer_close(ei_socket *s, const unsigned char *in, size_t len)
{
	unsigned code = len >= 2 ? (unsigned)in[0] << 8 | in[1] : 0;
	int rlen = len > 2 ? (int)(len - 2 > 120 ? 120 : len - 2) : 0;
	set_closed(s, EI_ECLOSED, "the server closed the websocket (code %u%s%.*s)", code, rlen ? ": " : "", rlen,
		   (const char *)in + 2);
}

static int add_user_agent(ei_socket *s, struct lws *wsi, void *in, size_t len)
{
	if (!s->user_agent[0])
		return 0;
	unsigned char **p = in, *end = *p + len;
	return lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_USER_AGENT, (const unsigned char *)s->user_agent,
					    (int)strlen(s->user_agent), p, end)
		       ? -1
		       : 0;
}

static int socket_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	ei_socket *s = ctx ? lws_context_user(ctx) : NULL;
	if (!s || !wsi || wsi != s->wsi)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
		s->cert_failed |= len == 0; /* len is OpenSSL's preverify_ok */
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		s->phase = PH_HANDSHAKE;
		return add_user_agent(s, wsi, in, len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		s->phase = PH_WEBSOCKET;
		s->stats.connects++;
		s->last_rx = ei_now_ms();
		if (out_pending(s))
			lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return on_receive(s, wsi, in, len);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return write_one(s, wsi);
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		on_connection_error(s, wsi, in);
		s->wsi = NULL;
		return 0;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		on_peer_close(s, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (s->phase == PH_WEBSOCKET || s->state == ST_OPEN)
			set_closed(s, EI_ECLOSED, "the server closed the connection");
		else
			set_closed(s, EI_ECONNECT, "cannot connect to %s:%d: connection closed", s->url.host, s->url.port);
		s->wsi = NULL;
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "ei-socket", socket_callback, 0, RX_CHUNK, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

/* ---- Descriptors and servicing ----------------------------------------- */

static void unwatch(ei_socket *s, int fd)
{
	if (s->poll && fd >= 0 && fd < s->poll->n_owners && s->poll->owners[fd] == &s->watch)
		ei_poll_fd(s->poll, fd, 0, &s->watch);
}

/* lws 4.1 without external-poll callbacks does not say which events it waits
 * for. It always wants input; it wants output while the TCP connection is in
 * progress (connected = getpeername works), while we have frames queued (we
 * asked for a writable callback), or while a write was partial. */
static unsigned wanted_events(ei_socket *s, int fd)
{
	unsigned ev = s->rx_stopped ? 0 : EI_POLL_IN;
	if (s->phase == PH_TCP) {
		struct sockaddr_storage peer;
		socklen_t sl = sizeof peer;
		if (getpeername(fd, (struct sockaddr *)&peer, &sl) < 0)
			return ev | EI_POLL_OUT;
		s->phase = PH_HANDSHAKE;
	}
	if (out_pending(s) || lws_partial_buffered(s->wsi))
		ev |= EI_POLL_OUT;
	return ev;
}

/* The lws descriptor can change between attempts: re-check it every time. */
static void sync_fds(ei_socket *s)
{
	if (!s->poll)
		return;
	if (s->resolve) {
		if (s->fd != s->resolve->efd) {
			unwatch(s, s->fd);
			s->fd = s->resolve->efd;
			s->fd_events = EI_POLL_IN;
			ei_poll_fd(s->poll, s->fd, EI_POLL_IN, &s->watch);
		}
		return;
	}
	int fd = s->wsi ? lws_get_socket_fd(s->wsi) : -1;
	unsigned ev = fd >= 0 ? wanted_events(s, fd) : 0;
	if (s->fd != fd) {
		unwatch(s, s->fd);
		s->fd_events = 0;
	}
	s->fd = fd;
	if (fd >= 0 && ev != s->fd_events) {
		if (ev)
			ei_poll_fd(s->poll, fd, ev, &s->watch);
		else
			unwatch(s, fd);
		s->fd_events = ev;
	}
}

static void start_lws(ei_socket *s);

static void service(ei_socket *s, int64_t now)
{
	uint64_t start = s->rx_bytes;
	for (int i = 0; i < SERVICE_ROUNDS && s->ctx; i++) {
		uint64_t before = s->rx_bytes;
		lws_service(s->ctx, -1);
		if (s->try_next)
			start_lws(s);
		if (!s->wsi || s->rx_stopped || s->rx_bytes == before)
			break;
	}
	if (s->rx_bytes != start)
		s->last_rx = ei_now_ms();
	s->lws_due = s->phase == PH_NONE || s->phase == PH_WEBSOCKET ? -1 : now + CONNECTING_POLL_MS;
	sync_fds(s);
}

/* The open websocket's descriptor is ready: lws reads it (one recv) without
 * a poll(2) of its own, as epoll already said what is ready. Input left in
 * the socket makes the next epoll_wait return at once (level-triggered);
 * input lws holds back (flow control) is seen by lws_wants_service. The
 * tick that follows every step notes the time of the read. */
static void service_ready(ei_socket *s, int fd, unsigned revents)
{
	struct lws_pollfd pfd = { .fd = fd };
	pfd.events = (short)(((s->fd_events & EI_POLL_IN) ? POLLIN : 0) | ((s->fd_events & EI_POLL_OUT) ? POLLOUT : 0));
	pfd.revents = (short)(((revents & EI_POLL_IN) ? POLLIN : 0) | ((revents & EI_POLL_OUT) ? POLLOUT : 0) |
			      ((revents & EI_POLL_ERR) ? POLLERR : 0));
	uint64_t start = s->rx_bytes;
	for (int i = 0; i < SERVICE_ROUNDS; i++) {
		uint64_t before = s->rx_bytes;
		lws_service_fd(s->ctx, &pfd);
		/* A read that did not come near filling the buffer emptied the socket. */
		if (!s->wsi || s->rx_stopped || s->rx_bytes - before < RX_CHUNK / 2)
			break;
		pfd.revents = POLLIN;
	}
	s->rx_seen |= s->rx_bytes != start;
	sync_fds(s);
}

static void release_resolve(ei_resolve *r)
{
	if (atomic_fetch_sub(&r->refs, 1) == 1) {
		close(r->efd);
		free(r);
	}
}

/* Drop the current connection attempt or connection without a word to Lua. */
static void drop_connection(ei_socket *s)
{
	struct lws *wsi = s->wsi;
	s->wsi = NULL;
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	if (s->resolve) {
		unwatch(s, s->resolve->efd);
		release_resolve(s->resolve);
		s->resolve = NULL;
		s->fd = -1;
		s->fd_events = 0;
	}
	s->in_message = 0;
	s->rx_stopped = 0;
	s->out.len = s->out_head = 0;
	s->phase = PH_NONE;
	sync_fds(s);
}

static void destroy_context(ei_socket *s)
{
	drop_connection(s);
	if (s->ctx) {
		lws_context_destroy(s->ctx);
		s->ctx = NULL;
	}
}

/* ---- Connecting -------------------------------------------------------- */

static void free_url(ei_url *u)
{
	free(u->path);
	free(u->token);
	memset(u, 0, sizeof *u);
}

/* ws[s]://host[:port][/path]; returns an error text or NULL. */
static const char *parse_url(const char *url, ei_url *u)
{
	memset(u, 0, sizeof *u);
	const char *p;
	if (strncmp(url, "ws://", 5) == 0)
		p = url + 5;
	else if (strncmp(url, "wss://", 6) == 0)
		p = url + 6, u->tls = 1;
	else
		return "the URL must start with ws:// or wss://";
	const char *end = p + strcspn(p, "/?#"), *hend = end, *colon = NULL;
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

static void log_nothing(int level, const char *line)
{
	(void)level;
	(void)line;
}

/* lws logging is process-wide in 4.1: silence it so no URL can be printed.
 * Once per process: its setter writes unlocked globals that lws on another
 * thread (another lua_State's socket) may be writing or reading just then. */
static pthread_once_t lws_log_once = PTHREAD_ONCE_INIT;
static void silence_lws(void)
{
	lws_set_log_level(0, log_nothing);
}

static int make_context(ei_socket *s)
{
	if (s->ctx && s->ctx_tls == s->url.tls)
		return 0;
	destroy_context(s);
	pthread_once(&lws_log_once, silence_lws);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.gid = info.uid = -1;
	info.user = s;
	info.fd_limit_per_thread = 16;
	info.pt_serv_buf_size = RX_CHUNK;
	info.connect_timeout_secs = (unsigned)((s->hello_ms + 999) / 1000);
	if (s->url.tls) {
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		/* Like libcurl's CAINFO, a CA file replaces the system's roots. */
		if (s->ca_file[0]) {
			info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
			info.client_ssl_ca_filepath = s->ca_file;
		}
	}
	s->ctx = lws_create_context(&info);
	s->ctx_tls = s->url.tls;
	return s->ctx ? 0 : -1;
}

/* Connect to the next address of the host. */
static void start_lws(ei_socket *s)
{
	if (make_context(s) < 0) {
		set_closed(s, EI_ECONNECT, "cannot create the websocket context");
		return;
	}
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = s->ctx;
	ci.address = s->addrs[s->next_addr++];
	ci.port = s->url.port;
	ci.path = s->url.path;
	ci.host = s->url.header;
	ci.ssl_connection = s->url.tls ? LCCSCF_USE_SSL : 0;
	ci.ietf_version_or_minus_one = -1;
	ci.pwsi = &s->wsi;
	s->phase = PH_TCP;
	s->lws_due = ei_now_ms();
	s->cert_failed = s->try_next = 0;
	if (!lws_client_connect_via_info(&ci) && s->state != ST_CLOSED)
		set_closed(s, EI_ECONNECT, "cannot connect to %s:%d", s->url.host, s->url.port);
	if (s->state == ST_CLOSED)
		s->wsi = NULL;
}

static void *resolve_main(void *arg)
{
	ei_resolve *r = arg;
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	r->err = getaddrinfo(r->host, r->port, &hints, &res);
	for (const struct addrinfo *ai = r->err ? NULL : res; ai && r->n_addrs < MAX_ADDRS; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET6 ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
							  : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		if (inet_ntop(ai->ai_family, a, r->addrs[r->n_addrs], sizeof r->addrs[0]))
			r->n_addrs++;
	}
	if (!r->err)
		freeaddrinfo(res);
	atomic_store(&r->done, 1);
	uint64_t one = 1;
	ssize_t n = write(r->efd, &one, sizeof one);
	(void)n;
	release_resolve(r);
	return NULL;
}

static int start_resolve(ei_socket *s)
{
	ei_resolve *r = calloc(1, sizeof *r);
	if (!r)
		return -1;
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	atomic_init(&r->refs, 2);
	atomic_init(&r->done, 0);
	snprintf(r->host, sizeof r->host, "%s", s->url.host);
	snprintf(r->port, sizeof r->port, "%d", s->url.port);
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int ok = r->efd >= 0 && pthread_attr_init(&attr) == 0;
	if (ok) {
		/* The host's signals stay with the host's threads. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ok = pthread_create(&th, &attr, resolve_main, r) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (!ok) {
		if (r->efd >= 0)
			close(r->efd);
		free(r);
		return -1;
	}
	s->resolve = r;
	s->phase = PH_RESOLVING;
	return 0;
}

static void on_resolved(ei_socket *s)
{
	ei_resolve *r = s->resolve;
	if (!atomic_load(&r->done))
		return;
	unwatch(s, r->efd);
	s->fd = -1;
	s->fd_events = 0;
	s->resolve = NULL;
	if (r->err || !r->n_addrs) {
		set_closed(s, EI_ECONNECT, "cannot resolve %s: %s", s->url.host,
			   r->err ? gai_strerror(r->err) : "no address");
	} else {
		memcpy(s->addrs, r->addrs, sizeof s->addrs);
		s->n_addrs = r->n_addrs;
		start_lws(s);
	}
	release_resolve(r);
}

/* A literal address needs no resolver: write it to out. */
static int numeric_host(const char *host, ei_addr out)
{
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, host, buf) == 1)
		return inet_ntop(AF_INET, buf, out, sizeof(ei_addr)) != NULL;
	return inet_pton(AF_INET6, host, buf) == 1 && inet_ntop(AF_INET6, buf, out, sizeof(ei_addr)) != NULL;
}

/* ---- The watch --------------------------------------------------------- */

static void watch_ready(ei_watch *w, int fd, unsigned revents)
{
	ei_socket *s = of_watch(w);
	(void)revents;
	if (s->resolve && fd == s->resolve->efd) {
		on_resolved(s);
		sync_fds(s);
		return;
	}
	if (s->ctx && s->wsi && s->phase == PH_WEBSOCKET && fd == s->fd)
		service_ready(s, fd, revents);
	else if (s->ctx)
		service(s, ei_now_ms());
}

static int lws_wants_service(ei_socket *s)
{
	return s->ctx && lws_service_adjust_timeout(s->ctx, 1, 0) == 0;
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int64_t watch_deadline(ei_watch *w)
{
	ei_socket *s = of_watch(w);
	if (s->state == ST_CONNECTING) {
		if (lws_wants_service(s))
			return ei_now_ms();
		return earliest(s->connect_due, s->lws_due);
	}
	if (s->state != ST_OPEN)
		return -1;
	if (lws_wants_service(s))
		return ei_now_ms();
	int64_t d = earliest(s->next_ping, s->lws_due);
	return s->rx_stopped || !s->idle_ms ? d : earliest(d, s->last_rx + s->idle_ms);
}

static void check_timers(ei_socket *s, int64_t now)
{
	if (s->state == ST_CONNECTING && now >= s->connect_due) {
		if (s->phase == PH_WEBSOCKET)
			set_closed(s, EI_ETIMEDOUT, "no hello from the server within %gs", s->hello_ms / 1000.0);
		else
			set_closed(s, EI_ECONNECT, "cannot connect to %s:%d: timed out after %gs", s->url.host, s->url.port,
				   s->hello_ms / 1000.0);
		drop_connection(s);
		return;
	}
	if (s->state != ST_OPEN)
		return;
	if (s->idle_ms && !s->rx_stopped && now >= s->last_rx + s->idle_ms) {
		set_closed(s, EI_ETIMEDOUT, "nothing from the server for %gs", s->idle_ms / 1000.0);
		drop_connection(s);
		return;
	}
	if (now >= s->next_ping) {
		send_text(s, "2", 1);
		s->stats.pings_sent++;
		s->next_ping = now + s->ping_ms;
	}
}

static void watch_tick(ei_watch *w, int64_t now)
{
	ei_socket *s = of_watch(w);
	if (s->rx_seen) {
		s->rx_seen = 0;
		s->last_rx = now;
	}
	check_timers(s, now);
	if (s->ctx && s->wsi && (out_pending(s) || (s->lws_due >= 0 && now >= s->lws_due) || lws_wants_service(s)))
		service(s, now);
	else if (s->state == ST_CLOSED && s->wsi == NULL && s->fd >= 0)
		sync_fds(s);
}

static void watch_orphan(ei_watch *w)
{
	ei_socket *s = of_watch(w);
	s->poll = NULL;
	s->fd = -1;
	destroy_context(s);
	set_closed(s, EI_ECLOSED, "the client was closed");
}

/* ---- Lua --------------------------------------------------------------- */

static ei_socket *check_socket(lua_State *L)
{
	ei_socket *s = luaL_checkudata(L, 1, EI_SOCKET_MT);
	if (s->closed)
		luaL_error(L, "attempt to use a closed " EI_SOCKET_MT);
	return s;
}

static int64_t check_job(lua_State *L, int idx)
{
	lua_Integer id = luaL_checkinteger(L, idx);
	luaL_argcheck(L, id >= 0, idx, "job id must be a non-negative integer");
	return (int64_t)id;
}

static double opt_seconds(lua_State *L, int idx, const char *key, double def)
{
	lua_getfield(L, idx, key);
	double v = lua_isnil(L, -1) ? def : luaL_checknumber(L, -1);
	lua_pop(L, 1);
	if (!(v >= 0 && v < 1e9))
		luaL_error(L, "bad option '%s' (a number of seconds >= 0 expected)", key);
	return v;
}

static size_t opt_size(lua_State *L, int idx, const char *key, size_t def)
{
	lua_getfield(L, idx, key);
	lua_Integer v = lua_isnil(L, -1) ? (lua_Integer)def : luaL_checkinteger(L, -1);
	lua_pop(L, 1);
	if (v <= 0)
		luaL_error(L, "bad option '%s' (a positive integer expected)", key);
	return (size_t)v;
}

static void read_options(lua_State *L, int idx, ei_socket *s)
{
	s->max_queue = DEFAULT_MAX_QUEUE;
	s->max_queue_bytes = DEFAULT_MAX_QUEUE_BYTES;
	s->max_total = DEFAULT_MAX_TOTAL;
	s->max_total_bytes = DEFAULT_MAX_TOTAL_BYTES;
	s->max_frame = DEFAULT_MAX_FRAME;
	s->ping_ms = DEFAULT_PING_MS;
	s->hello_ms = DEFAULT_HELLO_MS;
	s->idle_ms = DEFAULT_IDLE_MS;
	if (lua_isnoneornil(L, idx))
		return;
	luaL_checktype(L, idx, LUA_TTABLE);
	s->max_queue = opt_size(L, idx, "max_queue", s->max_queue);
	s->max_queue_bytes = opt_size(L, idx, "max_queue_bytes", s->max_queue_bytes);
	s->max_total = opt_size(L, idx, "max_total", s->max_total);
	s->max_total_bytes = opt_size(L, idx, "max_total_bytes", s->max_total_bytes);
	s->max_frame = opt_size(L, idx, "max_frame", s->max_frame);
	s->ping_ms = (int64_t)(opt_seconds(L, idx, "ping_interval", s->ping_ms / 1000.0) * 1000);
	s->hello_ms = (int64_t)(opt_seconds(L, idx, "hello_timeout", s->hello_ms / 1000.0) * 1000);
	s->idle_ms = (int64_t)(opt_seconds(L, idx, "idle_timeout", s->idle_ms / 1000.0) * 1000);
	if (s->ping_ms < 10)
		luaL_error(L, "bad option 'ping_interval' (at least 0.01 s)");
}

/* core.socket(client [, opts]) -> ei.Socket, idle. opts: max_queue (events
 * queued for one job before it overflows, 10000), max_queue_bytes (8 MB),
 * max_total and max_total_bytes (over all jobs, 100000 and 64 MB),
 * max_frame (largest message, 16 MB), ping_interval (5 s), hello_timeout
 * (10 s, also bounds connecting), idle_timeout (60 s without any frame while
 * open; 0 disables). */
static int socket_new(lua_State *L)
{
	ei_client *c = ei_client_check(L, 1);
	lua_settop(L, 2);
	ei_socket *s = lua_newuserdatauv(L, sizeof *s, 1);
	memset(s, 0, sizeof *s);
	s->fd = -1;
	s->lws_due = -1;
	s->closed = 1; /* until fully set up, so __gc is harmless */
	luaL_setmetatable(L, EI_SOCKET_MT);
	read_options(L, 2, s);
	lua_pushvalue(L, 1);
	lua_setiuservalue(L, -2, 1); /* the client lives as long as its socket */
	s->watch = (ei_watch){ .ready = watch_ready, .deadline = watch_deadline, .tick = watch_tick, .orphan = watch_orphan };
	s->poll = ei_client_poll(c);
	ei_poll_attach(s->poll, &s->watch);
	s->closed = 0;
	return 1;
}

static void copy_opt(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* sock:connect(url): true, or nil, message, code when it failed at once. */
static int socket_connect(lua_State *L)
{
	ei_socket *s = check_socket(L);
	const char *url = luaL_checkstring(L, 2);
	lua_getiuservalue(L, 1, 1);
	ei_client *c = ei_client_check(L, -1);
	lua_pop(L, 1);
	if (!s->poll)
		return luaL_error(L, "the client of this socket is closed");
	drop_connection(s);
	free_url(&s->url);
	const char *bad = parse_url(url, &s->url);
	if (bad) {
		free_url(&s->url);
		return luaL_argerror(L, 2, bad);
	}
	copy_opt(s->ca_file, sizeof s->ca_file, ei_client_ca_file(c));
	copy_opt(s->user_agent, sizeof s->user_agent, ei_client_user_agent(c));
	s->state = ST_CONNECTING;
	s->code = NULL;
	s->msg[0] = 0;
	s->connect_due = ei_now_ms() + s->hello_ms;
	s->lws_due = -1;
	s->n_addrs = s->next_addr = 0;
	if (numeric_host(s->url.host, s->addrs[0])) {
		s->n_addrs = 1;
		start_lws(s);
	}
	else if (start_resolve(s) < 0)
		set_closed(s, EI_ECONNECT, "cannot start resolving %s", s->url.host);
	sync_fds(s);
	if (s->state == ST_CLOSED)
		return ei_fail(L, s->code, "%s", s->msg);
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:state() -> "idle" | "connecting" | "open" | "closed", message, code */
static int socket_state(lua_State *L)
{
	ei_socket *s = check_socket(L);
	lua_pushstring(L, state_names[s->state]);
	if (s->state != ST_CLOSED)
		return 1;
	lua_pushstring(L, s->msg);
	lua_pushstring(L, s->code);
	return 3;
}

/* sock:follow(job_id): subscribe now if open, and after every reconnect. */
static int socket_follow(lua_State *L)
{
	ei_socket *s = check_socket(L);
	int64_t job = check_job(L, 2);
	if (find_job(s, job)) {
		lua_pushboolean(L, 1);
		return 1;
	}
	if (index_reserve(s) < 0)
		return luaL_error(L, "out of memory");
	if (s->n_jobs == s->cap_jobs) {
		size_t cap = s->cap_jobs ? s->cap_jobs * 2 : 4;
		ei_stream **jobs = realloc(s->jobs, cap * sizeof *jobs);
		if (!jobs)
			return luaL_error(L, "out of memory");
		s->jobs = jobs;
		s->cap_jobs = cap;
	}
	ei_stream *st = malloc(sizeof *st);
	if (!st)
		return luaL_error(L, "out of memory");
	ei_stream_init(st, job, s->max_frame);
	s->jobs[s->n_jobs++] = st;
	index_add(s, st);
	if (s->state == ST_OPEN) {
		subscribe(s, st);
		sync_fds(s);
	}
	maybe_resume(s);
	lua_pushboolean(L, 1);
	return 1;
}

static void free_job(ei_stream *st)
{
	ei_stream_free(st);
	free(st);
}

/* sock:unfollow(job_id) -> true; its queued events are dropped. */
static int socket_unfollow(lua_State *L)
{
	ei_socket *s = check_socket(L);
	int64_t job = check_job(L, 2);
	ei_stream *st = find_job(s, job);
	if (st) {
		size_t i = 0;
		while (s->jobs[i] != st)
			i++;
		s->jobs[i] = s->jobs[--s->n_jobs];
		index_remove(s, st);
		s->queued -= ei_stream_queued(st);
		s->queued_bytes -= ei_stream_bytes(st);
		free_job(st);
	}
	maybe_resume(s);
	lua_pushboolean(L, 1);
	return 1;
}

/* The words of event tables, interned once per Lua state as upvalues of next
 * and drain, so that building an event looks no string up. The types follow
 * the order of ei_sev_type. */
enum { W_TYPE = 1, W_JOB, W_LINE, W_EPOCH, W_EPOCHS, W_FRACTION, W_SUCCESS, W_LOG, W_PROGRESS, W_METRICS, W_ENDED, W_END };
static const char *const event_words[W_END] = {
	[W_TYPE] = "type",    [W_JOB] = "job",	   [W_LINE] = "line",	    [W_EPOCH] = "epoch",
	[W_EPOCHS] = "epochs", [W_FRACTION] = "fraction", [W_SUCCESS] = "success", [W_LOG] = "log",
	[W_PROGRESS] = "progress", [W_METRICS] = "metrics", [W_ENDED] = "ended",
};
#define WORD(w) lua_upvalueindex(w)

/* A metric value as a Lua number: nan and inf too. */
static void push_metric_value(lua_State *L, const char *p, size_t n)
{
	char buf[64];
	const char *q = p + (n && (*p == '-' || *p == '+'));
	double sign = n && *p == '-' ? -1.0 : 1.0;
	if ((*q | 0x20) == 'n') {
		lua_pushnumber(L, (lua_Number)NAN);
		return;
	}
	if ((*q | 0x20) == 'i') {
		lua_pushnumber(L, (lua_Number)(sign * HUGE_VAL));
		return;
	}
	snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), p);
	if (!lua_stringtonumber(L, buf))
		lua_pushnumber(L, (lua_Number)strtod(buf, NULL));
}

static void push_metrics(lua_State *L, const char *line, size_t len)
{
	static const char *const reserved[] = { "type", "job", "epoch" };
	size_t pos = 0;
	ei_metric m;
	while (ei_line_metric_next(line, len, &pos, &m)) {
		int skip = 0;
		for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
			skip |= strlen(reserved[i]) == m.name_len && memcmp(reserved[i], m.name, m.name_len) == 0;
		if (skip)
			continue;
		lua_pushlstring(L, m.name, m.name_len);
		push_metric_value(L, m.value, m.value_len);
		lua_rawset(L, -3);
	}
}

/* t[word] = value on top of the stack, t just below it. */
static void set_word(lua_State *L, int word)
{
	lua_pushvalue(L, WORD(word));
	lua_insert(L, -2);
	lua_rawset(L, -3);
}

static void push_event(lua_State *L, const ei_stream *st, const ei_sev *e)
{
	static const int fields[] = { [EI_SEV_LOG] = 3, [EI_SEV_PROGRESS] = 5, [EI_SEV_METRICS] = 8, [EI_SEV_ENDED] = 3 };
	lua_createtable(L, 0, fields[e->type]);
	lua_pushvalue(L, WORD(W_TYPE));
	lua_pushvalue(L, WORD(W_LOG + e->type));
	lua_rawset(L, -3);
	lua_pushvalue(L, WORD(W_JOB));
	lua_pushinteger(L, (lua_Integer)st->job);
	lua_rawset(L, -3);
	switch (e->type) {
	case EI_SEV_LOG:
		lua_pushvalue(L, WORD(W_LINE));
		lua_pushlstring(L, ei_stream_text(st, e), e->len);
		lua_rawset(L, -3);
		break;
	case EI_SEV_PROGRESS:
		lua_pushinteger(L, (lua_Integer)e->epoch);
		set_word(L, W_EPOCH);
		lua_pushinteger(L, (lua_Integer)e->epochs);
		set_word(L, W_EPOCHS);
		lua_pushnumber(L, (lua_Number)e->epoch / (lua_Number)e->epochs);
		set_word(L, W_FRACTION);
		break;
	case EI_SEV_METRICS:
		if (e->has_epoch) {
			lua_pushinteger(L, (lua_Integer)e->epoch);
			set_word(L, W_EPOCH);
		}
		push_metrics(L, ei_stream_text(st, e), e->len);
		break;
	default:
		lua_pushboolean(L, e->success);
		set_word(L, W_SUCCESS);
		break;
	}
}

/* sock:next(job_id) -> event table or nil */
static int socket_next(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = find_job(s, check_job(L, 2));
	const ei_sev *e = st ? ei_stream_peek(st) : NULL;
	if (!e) {
		lua_pushnil(L);
		return 1;
	}
	ei_queue_mark before = queue_mark(st);
	push_event(L, st, e);
	ei_stream_pop(st);
	ei_stream_trim(st);
	queue_changed(s, st, before);
	maybe_resume(s);
	return 1;
}

/* Take up to max of the job's queued events into the table at `into` (at
 * 1..n, with t[n + 1] = nil; 0: a new table pushed on the stack); returns n.
 * With split, an `ended` event comes alone: the batch stops before it, or
 * holds only it. */
static size_t take_batch(lua_State *L, ei_socket *s, ei_stream *st, lua_Integer max, int split, int into)
{
	size_t n = st ? ei_stream_queued(st) : 0;
	if ((lua_Unsigned)max < n)
		n = (size_t)max;
	int given = into != 0;
	if (!given) {
		lua_createtable(L, n > INT32_MAX ? INT32_MAX : (int)n, 0);
		into = lua_gettop(L);
	}
	size_t i = 0;
	if (n) {
		ei_queue_mark before = queue_mark(st);
		while (i < n) {
			const ei_sev *e = ei_stream_peek(st);
			int alone = split && e->type == EI_SEV_ENDED;
			if (alone && i > 0)
				break;
			push_event(L, st, e);
			ei_stream_pop(st);
			lua_rawseti(L, into, (lua_Integer)++i);
			if (alone)
				break;
		}
		ei_stream_trim(st);
		queue_changed(s, st, before);
		maybe_resume(s);
	}
	if (given) { /* what the table held before ends here */
		lua_pushnil(L);
		lua_rawseti(L, into, (lua_Integer)i + 1);
	}
	return i;
}

/* sock:drain(job_id [, max [, split]]) -> array of up to max events (all by
 * default). With split, an `ended` event comes alone: the array stops before
 * it, or holds only it. */
static int socket_drain(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = find_job(s, check_job(L, 2));
	lua_Integer max = luaL_optinteger(L, 3, LUA_MAXINTEGER);
	luaL_argcheck(L, max >= 0, 3, "must be >= 0");
	take_batch(L, s, st, max, lua_toboolean(L, 4), 0);
	return 1;
}

/* Whether the job is followed the steady way: the socket open, the job
 * keeping its lines. */
static int steady(const ei_socket *s, const ei_stream *st)
{
	return st && s->poll && s->state == ST_OPEN && !st->overflow;
}

/* The events await took into its table: n, or false for none. */
static int push_taken(lua_State *L, size_t n)
{
	if (n)
		lua_pushinteger(L, (lua_Integer)n);
	else
		lua_pushboolean(L, 0);
	return 1;
}

/* sock:await(job_id, max, until, batch) -> n | false | nil: the steady
 * state's wait, in one call. When the job has no event queued, wait in the
 * client's epoll_wait (one round: its descriptors serviced, its timers
 * ticked) until something arrives, at most to `until` (monotonic seconds,
 * core.monotime's clock) or the client's next timer. Then up to max events go
 * into `batch` (a table the caller reuses) as drain(job_id, max, true) would
 * take them: batch[1..n], batch[n + 1] = nil. false when none came (the time
 * passed, a timer or other input woke the wait, a signal interrupted it); nil
 * when the job is not followed the steady way (see steady()), and the caller
 * checks why. It runs no Lua: a caller that may wait through a scheduler
 * never calls it. */
static int socket_await(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = find_job(s, check_job(L, 2));
	lua_Integer max = luaL_checkinteger(L, 3);
	luaL_argcheck(L, max > 0, 3, "must be > 0");
	double until = luaL_checknumber(L, 4);
	luaL_checktype(L, 5, LUA_TTABLE);
	if (st && ei_stream_queued(st))
		return push_taken(L, take_batch(L, s, st, max, 1, 5));
	if (!steady(s, st)) {
		lua_pushnil(L);
		return 1;
	}
	/* Milliseconds rounded up, so that once they have passed, until has. */
	int64_t now = ei_now_ms();
	int64_t until_ms = until < 1e15 ? (int64_t)ceil(until * 1000) : INT64_MAX;
	if (now < until_ms) {
		int64_t timeout = until_ms - now, timer = ei_poll_deadline(s->poll);
		if (timer >= 0 && timer - now < timeout)
			timeout = timer > now ? timer - now : 0;
		if (ei_poll_step(s->poll, timeout < 2000000000 ? (int)timeout : 2000000000) < 0)
			return ei_fail(L, EI_EPROTO, "cannot poll the client's descriptors");
		if (ei_stream_queued(st))
			return push_taken(L, take_batch(L, s, st, max, 1, 5));
		if (!steady(s, st)) {
			lua_pushnil(L);
			return 1;
		}
	}
	lua_pushboolean(L, 0);
	return 1;
}

/* sock:queued(job_id) -> number of events waiting */
static int socket_queued(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = find_job(s, check_job(L, 2));
	lua_pushinteger(L, st ? (lua_Integer)ei_stream_queued(st) : 0);
	return 1;
}

/* sock:position(job_id) -> last timestamp or nil, bytes received */
static int socket_position(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = find_job(s, check_job(L, 2));
	if (st && st->has_ts) {
		double ts = st->last_ts;
		if (ts == floor(ts) && fabs(ts) < 9007199254740992.0)
			lua_pushinteger(L, (lua_Integer)ts);
		else
			lua_pushnumber(L, ts);
	} else {
		lua_pushnil(L);
	}
	lua_pushinteger(L, st ? (lua_Integer)st->total : 0);
	return 2;
}

static ei_stream *check_followed(lua_State *L, ei_socket *s)
{
	ei_stream *st = find_job(s, check_job(L, 2));
	if (!st)
		luaL_argerror(L, 2, "job is not followed");
	return st;
}

/* sock:feed(job_id, text): log text from elsewhere (REST back-fill), parsed
 * like received text and counted in position(). */
static int socket_feed(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = check_followed(L, s);
	size_t len;
	const char *text = luaL_checklstring(L, 3, &len);
	ei_queue_mark before = queue_mark(st);
	int rc = ei_stream_backfill(st, text, len);
	queue_changed(s, st, before);
	if (rc < 0)
		return luaL_error(L, "out of memory");
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:flush(job_id): deliver a partial last line. */
static int socket_flush(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = check_followed(L, s);
	ei_queue_mark before = queue_mark(st);
	int rc = ei_stream_flush(st);
	queue_changed(s, st, before);
	if (rc < 0)
		return luaL_error(L, "out of memory");
	lua_pushboolean(L, 1);
	return 1;
}

/* sock:lag(job_id) -> nil while the job keeps its lines; when it overflowed,
 * the number of lines lost so far (a back-fill brings them). */
static int socket_lag(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = find_job(s, check_job(L, 2));
	if (!st || !st->overflow)
		lua_pushnil(L);
	else
		lua_pushinteger(L, (lua_Integer)st->lost);
	return 1;
}

/* sock:align(job_id, stored_log, last_line|nil, to_end) -> from, to, complete:
 * text:sub(from, to) holds the lines to feed back. Called with the job's queue
 * empty, so that last_line is the last line the stream kept. to_end (the job
 * finished) takes everything after last_line and stops keeping live lines;
 * otherwise the span ends at the last line lost, when the stored log has it. */
static int socket_align(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = check_followed(L, s);
	size_t len;
	const char *text = luaL_checklstring(L, 3, &len);
	ei_backfill_marks m = { .to_end = lua_toboolean(L, 5) };
	if (!lua_isnil(L, 4))
		m.anchor = luaL_checklstring(L, 4, &m.anchor_len);
	m.anchor_index = st->lines ? st->lines - 1 : 0;
	m.end_hash = st->lost_hash;
	m.end_len = st->lost_len;
	m.end_index = st->lines + st->lost - 1;
	ei_backfill_span span = { 0, 0, 1 };
	if (m.to_end || (st->overflow && st->lost))
		span = ei_backfill_align(text, len, &m);
	ei_queue_mark before = queue_mark(st);
	ei_stream_drop_partial(st);
	if (m.to_end)
		ei_stream_overflow(st);
	st->aligned_lost = st->lost;
	queue_changed(s, st, before);
	lua_pushinteger(L, (lua_Integer)span.from + 1);
	lua_pushinteger(L, (lua_Integer)span.to);
	lua_pushboolean(L, span.complete);
	return 3;
}

/* sock:recover(job_id) -> whether the job keeps its lines again (false: lines
 * were lost after the back-fill was aligned; fetch again). */
static int socket_recover(lua_State *L)
{
	ei_socket *s = check_socket(L);
	ei_stream *st = check_followed(L, s);
	lua_pushboolean(L, ei_stream_recover(st));
	return 1;
}

/* sock:stats() -> counters: frames, bytes, malformed, ignored,
 * dropped_duplicates, duplicate_bytes, connects, pings_sent, pongs_received,
 * pings_received, flow_stops, queued, queued_bytes, reading_paused. */
static int socket_stats(lua_State *L)
{
	ei_socket *s = check_socket(L);
	const struct {
		const char *name;
		uint64_t value;
	} fields[] = {
		{ "frames", s->stats.frames },
		{ "bytes", s->stats.bytes },
		{ "malformed", s->stats.malformed },
		{ "ignored", s->stats.ignored },
		{ "dropped_duplicates", s->stats.dropped_duplicates },
		{ "duplicate_bytes", s->stats.duplicate_bytes },
		{ "connects", s->stats.connects },
		{ "pings_sent", s->stats.pings_sent },
		{ "pongs_received", s->stats.pongs_received },
		{ "pings_received", s->stats.pings_received },
		{ "flow_stops", s->stats.flow_stops },
		{ "overflows", s->stats.overflows },
		{ "queued", s->queued },
		{ "queued_bytes", s->queued_bytes },
	};
	lua_createtable(L, 0, (int)(sizeof fields / sizeof *fields) + 1);
	for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
		lua_pushinteger(L, (lua_Integer)fields[i].value);
		lua_setfield(L, -2, fields[i].name);
	}
	lua_pushboolean(L, s->rx_stopped);
	lua_setfield(L, -2, "reading_paused");
	return 1;
}

/* sock:close() -> true; idempotent, also __gc and __close. */
static int socket_close(lua_State *L)
{
	ei_socket *s = luaL_checkudata(L, 1, EI_SOCKET_MT);
	if (s->closed) {
		lua_pushboolean(L, 1);
		return 1;
	}
	destroy_context(s);
	if (s->poll)
		ei_poll_detach(s->poll, &s->watch);
	s->poll = NULL;
	for (size_t i = 0; i < s->n_jobs; i++)
		free_job(s->jobs[i]);
	free(s->jobs);
	s->jobs = NULL;
	s->n_jobs = s->cap_jobs = 0;
	free(s->slots);
	s->slots = NULL;
	s->n_slots = 0;
	s->queued = s->queued_bytes = 0;
	ei_bytes_free(&s->rx);
	ei_bytes_free(&s->scratch);
	ei_bytes_free(&s->out);
	free(s->tx);
	s->tx = NULL;
	free_url(&s->url);
	s->closed = 1;
	lua_pushboolean(L, 1);
	return 1;
}

static int socket_tostring(lua_State *L)
{
	ei_socket *s = luaL_checkudata(L, 1, EI_SOCKET_MT);
	if (s->closed)
		lua_pushfstring(L, EI_SOCKET_MT " (closed): %p", (void *)s);
	else if (s->url.header[0])
		lua_pushfstring(L, EI_SOCKET_MT " (%s %s): %p", state_names[s->state], s->url.header, (void *)s);
	else
		lua_pushfstring(L, EI_SOCKET_MT " (%s): %p", state_names[s->state], (void *)s);
	return 1;
}

void ei_socket_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "connect", socket_connect }, { "state", socket_state },   { "follow", socket_follow },
		{ "unfollow", socket_unfollow }, { "queued", socket_queued },   { "position", socket_position }, { "feed", socket_feed },
		{ "flush", socket_flush },     { "stats", socket_stats },   { "close", socket_close },
		{ "lag", socket_lag },	       { "align", socket_align },   { "recover", socket_recover },
		{ NULL, NULL },
	};
	static const luaL_Reg event_methods[] = {
		{ "next", socket_next }, { "drain", socket_drain }, { "await", socket_await }, { NULL, NULL },
	};
	ei_new_class(L, EI_SOCKET_MT, methods, socket_close, socket_tostring);
	luaL_getmetatable(L, EI_SOCKET_MT);
	lua_getfield(L, -1, "__index");
	for (int w = 1; w < W_END; w++)
		lua_pushstring(L, event_words[w]);
	luaL_setfuncs(L, event_methods, W_END - 1);
	lua_pop(L, 2);
	lua_pushcfunction(L, socket_new);
	lua_setfield(L, -2, "socket");
}
