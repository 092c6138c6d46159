/* The websocket connection (websocket.h).
 *
 * Servicing: the lws socket joins the client's poll set; when it is ready, or
 * a timer of ours is due, lws_service(ctx, -1) runs lws once without waiting
 * (its own zero-timeout poll, its timers, its buffered input). The deadline
 * covers the hello and ping timers and, while connecting, lws's timers.
 *
 * Callbacks only fill C buffers and the jobs' queues (dispatch.c); Lua tables
 * are built by the binding afterwards. The only thread is the resolver's
 * (resolve.c), which shares nothing but its own record with us.
 *
 * Each websocket owns its lws context, created at the first connect and kept
 * across reconnects: the TLS settings (CA file) and the callback's user pointer
 * are per context in lws 4.1, and sockets (one per project) stay independent.
 */
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "errors.h"
#include "websocket.h"

/* How often lws gets serviced while a connection is being set up, for its own
 * timers and the POLLOUT interest we cannot see (see sync_fds). */
#define CONNECTING_POLL_MS 100
/* lws reads one buffer per service; a few rounds per wakeup save steps while
 * a backlog is read (a full buffer each time). */
#define SERVICE_ROUNDS 8

static ei_websocket *of_watch(ei_watch *w)
{
	return (ei_websocket *)((char *)w - offsetof(ei_websocket, watch));
}

static void sync_fds(ei_websocket *ws);

/* ---- Failure state ----------------------------------------------------- */

/* The first failure of a connection is the one reported. */
int ei_websocket_fail(ei_websocket *ws, const char *code, const char *fmt, ...)
{
	if (ws->state == EI_WS_CLOSED)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ws->msg, sizeof ws->msg, fmt, ap);
	va_end(ap);
	ei_url_scrub(&ws->url, ws->msg);
	ws->code = code;
	ws->state = EI_WS_CLOSED;
	ws->phase = EI_PH_NONE;
	return -1; /* lws closes the connection */
}

/* ---- Flow -------------------------------------------------------------- */

void ei_websocket_pause(ei_websocket *ws)
{
	if (ws->rx_stopped || !ws->wsi)
		return;
	lws_rx_flow_control(ws->wsi, 0);
	ws->rx_stopped = 1;
	ws->stats.flow_stops++;
}

void ei_websocket_resume(ei_websocket *ws)
{
	if (!ws->rx_stopped || !ei_jobset_may_resume(&ws->jobs))
		return;
	ws->rx_stopped = 0;
	ws->last_rx = ei_now_ms();
	if (ws->wsi) {
		lws_rx_flow_control(ws->wsi, 1);
		sync_fds(ws);
	}
}

/* ---- Descriptors and servicing ----------------------------------------- */

static void unwatch(ei_websocket *ws, int fd)
{
	if (ws->poll && fd >= 0 && fd < ws->poll->n_owners && ws->poll->owners[fd] == &ws->watch)
		ei_poll_fd(ws->poll, fd, 0, &ws->watch);
}

/* lws 4.1 without external-poll callbacks does not say which events it waits
 * for. It always wants input; it wants output while the TCP connection is in
 * progress (connected = getpeername works), while we have frames queued (we
 * asked for a writable callback), or while a write was partial. */
static unsigned wanted_events(ei_websocket *ws, int fd)
{
	unsigned ev = ws->rx_stopped || ws->hold_until >= 0 ? 0 : EI_POLL_IN;
	if (ws->phase == EI_PH_TCP) {
		struct sockaddr_storage peer;
		socklen_t sl = sizeof peer;
		if (getpeername(fd, (struct sockaddr *)&peer, &sl) < 0)
			return ev | EI_POLL_OUT;
		ws->phase = EI_PH_HANDSHAKE;
	}
	if (ei_websocket_out_pending(ws) || lws_partial_buffered(ws->wsi))
		ev |= EI_POLL_OUT;
	return ev;
}

static void watch_resolver(ei_websocket *ws)
{
	int efd = ei_resolve_fd(ws->resolve);
	if (ws->fd == efd)
		return;
	unwatch(ws, ws->fd);
	ws->fd = efd;
	ws->fd_events = EI_POLL_IN;
	ei_poll_fd(ws->poll, ws->fd, EI_POLL_IN, &ws->watch);
}

/* The lws descriptor can change between attempts: re-check it every time. */
static void sync_fds(ei_websocket *ws)
{
	if (!ws->poll)
		return;
	if (ws->resolve) {
		watch_resolver(ws);
		return;
	}
	int fd = ws->wsi ? lws_get_socket_fd(ws->wsi) : -1;
	unsigned ev = fd >= 0 ? wanted_events(ws, fd) : 0;
	if (ws->fd != fd) {
		unwatch(ws, ws->fd);
		ws->fd_events = 0;
	}
	ws->fd = fd;
	if (fd >= 0 && ev != ws->fd_events) {
		if (ev)
			ei_poll_fd(ws->poll, fd, ev, &ws->watch);
		else
			unwatch(ws, fd);
		ws->fd_events = ev;
	}
}

static void start_lws(ei_websocket *ws);

/* Coalescing: a read that took several messages says they come faster than
 * they are read, one wake-up each. Reading again coalesce_ms later takes what
 * came meanwhile in one read (and the sender's TCP packs it into fewer
 * segments), at most that much later than at once. A pause that ends with a
 * read of several messages is followed by another, so a stream of more than
 * about two messages per coalesce_ms is read in batches; a slower one, one
 * message per read, is read at once. */
static void after_read(ei_websocket *ws, uint64_t frames_before)
{
	uint64_t got = ws->stats.frames - frames_before;
	if (!got)
		return;
	ws->stats.reads++;
	if (got > 1 && ws->opt.coalesce_ms > 0 && ws->state == EI_WS_OPEN) {
		ws->hold_until = ei_now_ms() + ws->opt.coalesce_ms;
		ws->stats.holds++;
	}
}

static void service(ei_websocket *ws, int64_t now)
{
	uint64_t start = ws->rx_bytes, frames = ws->stats.frames;
	for (int i = 0; i < SERVICE_ROUNDS && ws->ctx; i++) {
		uint64_t before = ws->rx_bytes;
		lws_service(ws->ctx, -1);
		if (ws->try_next)
			start_lws(ws);
		if (!ws->wsi || ws->rx_stopped || ws->rx_bytes == before)
			break;
	}
	if (ws->rx_bytes != start)
		ws->last_rx = ei_now_ms();
	after_read(ws, frames);
	ws->lws_due = ws->phase == EI_PH_NONE || ws->phase == EI_PH_WEBSOCKET ? -1 : now + CONNECTING_POLL_MS;
	sync_fds(ws);
}

static short poll_bits(unsigned events)
{
	return (short)(((events & EI_POLL_IN) ? POLLIN : 0) | ((events & EI_POLL_OUT) ? POLLOUT : 0) |
		       ((events & EI_POLL_ERR) ? POLLERR : 0));
}

/* The open websocket's descriptor is ready: lws reads it (one recv) without
 * a poll(2) of its own, as the poll set already said what is ready. Input left
 * in the socket makes the next wait return at once (level-triggered); input
 * lws holds back (flow control) is seen by lws_wants_service. The tick that
 * follows every step notes the time of the read. */
static void service_ready(ei_websocket *ws, int fd, unsigned revents)
{
	struct lws_pollfd pfd = { .fd = fd, .events = poll_bits(ws->fd_events), .revents = poll_bits(revents) };
	uint64_t start = ws->rx_bytes, frames = ws->stats.frames;
	for (int i = 0; i < SERVICE_ROUNDS; i++) {
		uint64_t before = ws->rx_bytes;
		lws_service_fd(ws->ctx, &pfd);
		/* A read that did not come near filling the buffer emptied the socket. */
		if (!ws->wsi || ws->rx_stopped || ws->rx_bytes - before < EI_WS_RX_CHUNK / 2)
			break;
		pfd.revents = POLLIN;
	}
	ws->rx_seen |= ws->rx_bytes != start;
	after_read(ws, frames);
	sync_fds(ws);
}

/* Drop the current connection attempt or connection without a word to Lua. */
static void drop_connection(ei_websocket *ws)
{
	struct lws *wsi = ws->wsi;
	ws->wsi = NULL;
	ws->hold_until = -1;
	if (wsi)
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
	if (ws->resolve) {
		unwatch(ws, ei_resolve_fd(ws->resolve));
		ei_resolve_release(ws->resolve);
		ws->resolve = NULL;
		ws->fd = -1;
		ws->fd_events = 0;
	}
	ws->in_message = 0;
	ws->rx_stopped = 0;
	ws->out.len = ws->out_head = 0;
	ws->phase = EI_PH_NONE;
	sync_fds(ws);
}

static void destroy_context(ei_websocket *ws)
{
	drop_connection(ws);
	if (ws->ctx) {
		lws_context_destroy(ws->ctx);
		ws->ctx = NULL;
	}
}

/* ---- Connecting -------------------------------------------------------- */

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

static int make_context(ei_websocket *ws)
{
	if (ws->ctx && ws->ctx_tls == ws->url.tls)
		return 0;
	destroy_context(ws);
	pthread_once(&lws_log_once, silence_lws);
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ei_websocket_protocols();
	info.gid = info.uid = -1;
	info.user = ws;
	info.fd_limit_per_thread = 16;
	info.pt_serv_buf_size = EI_WS_RX_CHUNK;
	info.connect_timeout_secs = (unsigned)((ws->opt.hello_ms + 999) / 1000);
	if (ws->url.tls) {
		info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		/* Like libcurl's CAINFO, a CA file replaces the system's roots. */
		if (ws->ca_file[0]) {
			info.options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
			info.client_ssl_ca_filepath = ws->ca_file;
		}
	}
	ws->ctx = lws_create_context(&info);
	ws->ctx_tls = ws->url.tls;
	return ws->ctx ? 0 : -1;
}

/* Connect to the next address of the host. */
static void start_lws(ei_websocket *ws)
{
	if (make_context(ws) < 0) {
		ei_websocket_fail(ws, EI_ECONNECT, "cannot create the websocket context");
		return;
	}
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = ws->ctx;
	ci.address = ws->addrs[ws->next_addr++];
	ci.port = ws->url.port;
	ci.path = ws->url.path;
	ci.host = ws->url.header;
	ci.ssl_connection = ws->url.tls ? LCCSCF_USE_SSL : 0;
	ci.ietf_version_or_minus_one = -1;
	ci.pwsi = &ws->wsi;
	ws->phase = EI_PH_TCP;
	ws->lws_due = ei_now_ms();
	ws->cert_failed = ws->try_next = 0;
	if (!lws_client_connect_via_info(&ci) && ws->state != EI_WS_CLOSED)
		ei_websocket_fail(ws, EI_ECONNECT, "cannot connect to %s:%d", ws->url.host, ws->url.port);
	if (ws->state == EI_WS_CLOSED)
		ws->wsi = NULL;
}

static void start_resolve(ei_websocket *ws)
{
	ws->resolve = ei_resolve_start(ws->url.host, ws->url.port);
	if (ws->resolve)
		ws->phase = EI_PH_RESOLVING;
	else
		ei_websocket_fail(ws, EI_ECONNECT, "cannot start resolving %s", ws->url.host);
}

static void on_resolved(ei_websocket *ws)
{
	ei_resolve *r = ws->resolve;
	if (!ei_resolve_done(r))
		return;
	unwatch(ws, ei_resolve_fd(r));
	ws->fd = -1;
	ws->fd_events = 0;
	ws->resolve = NULL;
	const char *error;
	ws->n_addrs = ei_resolve_addrs(r, ws->addrs, &error);
	if (!ws->n_addrs)
		ei_websocket_fail(ws, EI_ECONNECT, "cannot resolve %s: %s", ws->url.host, error);
	else
		start_lws(ws);
	ei_resolve_release(r);
}

static void copy_opt(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

const char *ei_websocket_connect(ei_websocket *ws, const char *url, const char *ca_file, const char *user_agent)
{
	drop_connection(ws);
	ei_url_free(&ws->url);
	const char *bad = ei_url_parse(url, &ws->url);
	if (bad) {
		ei_url_free(&ws->url);
		return bad;
	}
	copy_opt(ws->ca_file, sizeof ws->ca_file, ca_file);
	copy_opt(ws->user_agent, sizeof ws->user_agent, user_agent);
	ws->state = EI_WS_CONNECTING;
	ws->code = NULL;
	ws->msg[0] = 0;
	ws->connect_due = ei_now_ms() + ws->opt.hello_ms;
	ws->lws_due = -1;
	ws->n_addrs = ws->next_addr = 0;
	if (ei_resolve_numeric(ws->url.host, ws->addrs[0])) {
		ws->n_addrs = 1;
		start_lws(ws);
	} else {
		start_resolve(ws);
	}
	sync_fds(ws);
	return NULL;
}

/* ---- Timers and the watch ---------------------------------------------- */

static void watch_ready(ei_watch *w, int fd, unsigned revents)
{
	ei_websocket *ws = of_watch(w);
	if (ws->resolve && fd == ei_resolve_fd(ws->resolve)) {
		on_resolved(ws);
		sync_fds(ws);
		return;
	}
	if (ws->ctx && ws->wsi && ws->phase == EI_PH_WEBSOCKET && fd == ws->fd)
		service_ready(ws, fd, revents);
	else if (ws->ctx)
		service(ws, ei_now_ms());
}

static int lws_wants_service(ei_websocket *ws)
{
	return ws->ctx && lws_service_adjust_timeout(ws->ctx, 1, 0) == 0;
}

static int64_t earliest(int64_t a, int64_t b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int64_t watch_deadline(ei_watch *w)
{
	ei_websocket *ws = of_watch(w);
	if (ws->state == EI_WS_CONNECTING) {
		if (lws_wants_service(ws))
			return ei_now_ms();
		return earliest(ws->connect_due, ws->lws_due);
	}
	if (ws->state != EI_WS_OPEN)
		return -1;
	if (lws_wants_service(ws))
		return ei_now_ms();
	int64_t d = earliest(earliest(ws->next_ping, ws->lws_due), ws->hold_until);
	return ws->rx_stopped || !ws->opt.idle_ms ? d : earliest(d, ws->last_rx + ws->opt.idle_ms);
}

/* The hello (while connecting), then the idle bound and the ping (while open). */
static void check_timers(ei_websocket *ws, int64_t now)
{
	if (ws->state == EI_WS_CONNECTING && now >= ws->connect_due) {
		double secs = ws->opt.hello_ms / 1000.0;
		if (ws->phase == EI_PH_WEBSOCKET)
			ei_websocket_fail(ws, EI_ETIMEDOUT, "no hello from the server within %gs", secs);
		else
			ei_websocket_fail(ws, EI_ECONNECT, "cannot connect to %s:%d: timed out after %gs", ws->url.host,
				   ws->url.port, secs);
		drop_connection(ws);
		return;
	}
	if (ws->state != EI_WS_OPEN)
		return;
	if (ws->opt.idle_ms && !ws->rx_stopped && now >= ws->last_rx + ws->opt.idle_ms) {
		ei_websocket_fail(ws, EI_ETIMEDOUT, "nothing from the server for %gs", ws->opt.idle_ms / 1000.0);
		drop_connection(ws);
		return;
	}
	if (now >= ws->next_ping) {
		ei_websocket_send(ws, "2", 1);
		ws->stats.pings_sent++;
		ws->next_ping = now + ws->opt.ping_ms;
	}
}

static void watch_tick(ei_watch *w, int64_t now)
{
	ei_websocket *ws = of_watch(w);
	if (ws->rx_seen) {
		ws->rx_seen = 0;
		ws->last_rx = now;
	}
	check_timers(ws, now);
	int lws_due = ws->lws_due >= 0 && now >= ws->lws_due;
	int held = ws->hold_until >= 0 && now >= ws->hold_until; /* read what came meanwhile */
	if (held)
		ws->hold_until = -1;
	if (ws->ctx && ws->wsi && (held || ei_websocket_out_pending(ws) || lws_due || lws_wants_service(ws)))
		service(ws, now);
	else if (ws->state == EI_WS_CLOSED && ws->wsi == NULL && ws->fd >= 0)
		sync_fds(ws);
}

static void watch_orphan(ei_watch *w)
{
	ei_websocket *ws = of_watch(w);
	ws->poll = NULL;
	ws->fd = -1;
	destroy_context(ws);
	ei_websocket_fail(ws, EI_ECLOSED, "the client was closed");
}

/* ---- Life and jobs ----------------------------------------------------- */

void ei_websocket_init(ei_websocket *ws, const ei_ws_options *opt, ei_poll *poll)
{
	memset(ws, 0, sizeof *ws);
	ws->opt = *opt;
	ei_jobset_init(&ws->jobs, opt->limits);
	ws->fd = -1;
	ws->lws_due = -1;
	ws->hold_until = -1;
	ws->watch = (ei_watch){ .ready = watch_ready, .deadline = watch_deadline, .tick = watch_tick, .orphan = watch_orphan };
	ws->poll = poll;
	ei_poll_attach(poll, &ws->watch);
}

void ei_websocket_close(ei_websocket *ws)
{
	destroy_context(ws);
	if (ws->poll)
		ei_poll_detach(ws->poll, &ws->watch);
	ws->poll = NULL;
	ei_jobset_free(&ws->jobs);
	ei_buf_free(&ws->rx);
	ei_buf_free(&ws->scratch);
	ei_buf_free(&ws->out);
	ei_buf_free(&ws->tx);
	ei_url_free(&ws->url);
}

int ei_websocket_attached(const ei_websocket *ws)
{
	return ws->poll != NULL;
}

ei_ws_state ei_websocket_state(const ei_websocket *ws, const char **msg, const char **code)
{
	*msg = ws->msg;
	*code = ws->code;
	return ws->state;
}

const char *ei_websocket_address(const ei_websocket *ws)
{
	return ws->url.header;
}

const ei_ws_stats *ei_websocket_stats(const ei_websocket *ws)
{
	return &ws->stats;
}

int ei_websocket_reading_paused(const ei_websocket *ws)
{
	return ws->rx_stopped;
}

ei_jobset *ei_websocket_jobs(ei_websocket *ws)
{
	return &ws->jobs;
}

ei_joblog *ei_websocket_follow(ei_websocket *ws, int64_t job)
{
	ei_joblog *jl = ei_jobset_find(&ws->jobs, job);
	if (jl)
		return jl;
	jl = ei_jobset_add(&ws->jobs, job, ws->opt.max_frame);
	if (!jl)
		return NULL;
	if (ws->state == EI_WS_OPEN) {
		ei_websocket_subscribe(ws, jl);
		sync_fds(ws);
	}
	ei_websocket_resume(ws);
	return jl;
}

void ei_websocket_taken(ei_websocket *ws, ei_joblog *jl, ei_queue_mark before)
{
	ei_joblog_trim(jl);
	ei_jobset_changed(&ws->jobs, jl, before);
	ei_websocket_resume(ws);
}

void ei_websocket_unfollow(ei_websocket *ws, int64_t job)
{
	ei_jobset_remove(&ws->jobs, job);
	ei_websocket_resume(ws);
}

/* lastReceivedTimestamp is one millisecond before the newest one delivered:
 * several payloads may share that millisecond, and a server that resumes after
 * it would skip those of them the client never got. What comes again is
 * dropped by the de-duplication (joblog.c). */
void ei_websocket_subscribe(ei_websocket *ws, ei_joblog *jl)
{
	char msg[EI_EIO_SUBSCRIBE_MAX];
	ei_joblog_resubscribe(jl);
	double from = jl->has_ts && jl->last_ts >= 1 ? jl->last_ts - 1 : 0;
	ei_websocket_send(ws, msg, ei_eio_subscribe(msg, jl->job, from));
}
