/* Socket.IO dispatch (dispatch.h): tables from packet kind and event kind to
 * handler, each returning 0, or -1 to close the connection. Handlers run
 * inside libwebsockets callbacks: they fill C buffers and queues only. */
#include "errors.h"
#include "dispatch.h"

/* Out of memory inside a libwebsockets callback, where nothing may raise: the
 * connection closes, freeing its buffers, and reports ECLOSED; the stream treats it as
 * any lost connection and reconnects. */
#define OOM_QUEUEING "out of memory queueing job logs; the connection was closed"

/* ---- Socket.IO events -------------------------------------------------- */

static int on_hello(ei_websocket *ws, const ei_eio_event *ev)
{
	if (ws->state != EI_WS_CONNECTING)
		return 0;
	if (ev->hello_version != 1)
		return ei_websocket_fail(ws, EI_EAUTH, "the server rejected the socket token (hello without version 1)");
	ws->state = EI_WS_OPEN;
	ws->next_ping = ei_now_ms() + ws->opt.ping_ms;
	for (size_t i = 0; i < ei_jobset_count(&ws->jobs); i++)
		ei_websocket_subscribe(ws, ei_jobset_at(&ws->jobs, i));
	return 0;
}

/* After jl was fed. */
static void check_flow(ei_websocket *ws, ei_joblog *jl)
{
	if (ei_jobset_check_flow(&ws->jobs, jl))
		ei_websocket_pause(ws);
}

static int on_job_data(ei_websocket *ws, const ei_eio_event *ev)
{
	ei_joblog *jl = ei_jobset_find(&ws->jobs, ev->job);
	if (!jl) {
		ws->stats.ignored++;
		return 0;
	}
	uint64_t dups = jl->dup_bytes, dup_payloads = jl->dup_payloads;
	ei_queue_mark before = ei_jobset_mark(jl);
	int rc = ei_joblog_feed(jl, ev->data, ev->data_len, ev->has_ts, ev->ts);
	ei_jobset_changed(&ws->jobs, jl, before);
	if (rc < 0)
		return ei_websocket_fail(ws, EI_ECLOSED, "%s", OOM_QUEUEING);
	ws->stats.duplicate_bytes += jl->dup_bytes - dups;
	ws->stats.dropped_duplicates += jl->dup_payloads - dup_payloads;
	check_flow(ws, jl);
	return 0;
}

static int on_job_finished(ei_websocket *ws, const ei_eio_event *ev)
{
	ei_joblog *jl = ei_jobset_find(&ws->jobs, ev->job);
	if (!jl) {
		ws->stats.ignored++;
		return 0;
	}
	ei_queue_mark before = ei_jobset_mark(jl);
	int rc = ei_joblog_end(jl, ev->success > 0);
	ei_jobset_changed(&ws->jobs, jl, before);
	if (rc < 0)
		return ei_websocket_fail(ws, EI_ECLOSED, "%s", OOM_QUEUEING);
	check_flow(ws, jl);
	return 0;
}

static int on_malformed_event(ei_websocket *ws, const ei_eio_event *ev)
{
	(void)ev;
	ws->stats.malformed++;
	return 0;
}

static int on_other_event(ei_websocket *ws, const ei_eio_event *ev)
{
	(void)ev;
	ws->stats.ignored++;
	return 0;
}

static int (*const event_handlers[])(ei_websocket *, const ei_eio_event *) = {
	[EI_EV_MALFORMED] = on_malformed_event, [EI_EV_OTHER] = on_other_event,
	[EI_EV_HELLO] = on_hello,		[EI_EV_JOB_DATA] = on_job_data,
	[EI_EV_JOB_FINISHED] = on_job_finished,
};

/* ---- Engine.IO / Socket.IO packets ------------------------------------- */

static int on_event(ei_websocket *ws, const ei_eio_packet *pk)
{
	ei_eio_event ev;
	ei_ev_kind kind = ei_eio_event_parse(pk->body, pk->body_len, &ws->scratch, &ev);
	return event_handlers[kind](ws, &ev);
}

static int on_ping(ei_websocket *ws, const ei_eio_packet *pk)
{
	(void)pk;
	ws->stats.pings_received++;
	ei_websocket_send(ws, "3", 1);
	return 0;
}

static int on_pong(ei_websocket *ws, const ei_eio_packet *pk)
{
	(void)pk;
	ws->stats.pongs_received++;
	return 0;
}

static int on_close(ei_websocket *ws, const ei_eio_packet *pk)
{
	(void)pk;
	return ei_websocket_fail(ws, EI_ECLOSED, "the server closed the session");
}

/* A Socket.IO error packet: before the hello it is a refusal. */
static int on_error(ei_websocket *ws, const ei_eio_packet *pk)
{
	(void)pk;
	if (ws->state == EI_WS_CONNECTING)
		return ei_websocket_fail(ws, EI_EAUTH, "the server refused the socket connection");
	ws->stats.ignored++;
	return 0;
}

static int on_malformed(ei_websocket *ws, const ei_eio_packet *pk)
{
	(void)pk;
	ws->stats.malformed++;
	return 0;
}

static int on_ignored(ei_websocket *ws, const ei_eio_packet *pk)
{
	(void)pk;
	ws->stats.ignored++;
	return 0;
}

static int (*const packet_handlers[EI_EIO_KINDS])(ei_websocket *, const ei_eio_packet *) = {
	[EI_EIO_MALFORMED] = on_malformed, [EI_EIO_OPEN] = on_ignored,	  [EI_EIO_CLOSE] = on_close,
	[EI_EIO_PING] = on_ping,	   [EI_EIO_PONG] = on_pong,	  [EI_EIO_UPGRADE] = on_ignored,
	[EI_EIO_NOOP] = on_ignored,	   [EI_EIO_CONNECT] = on_ignored, [EI_EIO_DISCONNECT] = on_close,
	[EI_EIO_EVENT] = on_event,	   [EI_EIO_ACK] = on_ignored,	  [EI_EIO_ERROR] = on_error,
	[EI_EIO_BINARY] = on_ignored,	   [EI_EIO_OTHER_NSP] = on_ignored,
};

int ei_dispatch_message(ei_websocket *ws, const char *p, size_t n)
{
	ws->stats.frames++;
	ws->stats.bytes += n;
	ei_eio_packet pk = ei_eio_parse(p, n);
	return packet_handlers[pk.kind](ws, &pk);
}
