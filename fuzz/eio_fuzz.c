/* libFuzzer target: Engine.IO / Socket.IO text frames through the websocket's
 * own dispatch (dispatch.c: ei_dispatch_message, its packet and event handlers,
 * jobset.c's flow accounting, joblog.c's job logs) on an ei_websocket that has
 * no connection, as libwebsockets' callback hands messages to it (whole, or
 * reassembled from fragments as wscallback.c does), and drained (peek, pop,
 * trim, resume) as socket.c's take_batch does. Every event the parser returns
 * is checked against cJSON, and every subscription the websocket queues is
 * parsed back.
 *
 * Input: one setup byte, then records, each an operation byte and its operands:
 *   setup  bits 0-1: jobs followed (1 + n % 3), ids 1, 2, 123456789012
 *          bits 2-4: max_frame, the longest line kept (a partial line that long is one)
 *          bits 5-6: the flow bounds (see limits below)
 *   op % 8 = 0, 1  a whole message: u16 length, bytes (copied to a buffer of exactly
 *                  that size, as lws hands it over)
 *          2       a fragmented message: u16 length, u8 cut, bytes; reassembled in
 *                  the reused rx buffer as on_receive does
 *          3       a message, then drain every job
 *          4       drain up to op >> 3 events of one job (u8 selects it)
 *          5       the connection drops; the next hello resubscribes
 *          6       REST back-fill of one job (u8 job, u16 length, bytes) or flush
 *          7       unfollow or follow again one job (u8 job)
 */
#include <math.h>

#include <cJSON.h>

#include "dispatch.h"
#include "engineio.h"
#include "fuzz.h"
#include "joblog.h"
#include "jsontext.h"
#include "websocket.h"

#define MAX_JOBS 3
static const int64_t job_ids[MAX_JOBS] = { 1, 2, 123456789012 };
static const size_t max_lines[8] = { 0, 1, 2, 7, 16, 64, 300, 4096 };

typedef struct {
	ei_poll poll;
	ei_websocket ws;
	int ended[MAX_JOBS]; /* ENDED events drained since the job was followed */
	ei_buf scratch, str;
} sim;

/* ---- What the websocket queues to send: subscriptions, pongs, pings ----- */

/* Every queued message ([u32 length][bytes] records) parsed back, then let go. */
static void check_sent(sim *s)
{
	ei_websocket *ws = &s->ws;
	for (size_t at = ws->out_head; at < ws->out.len;) {
		uint32_t len;
		FZ_CHECK(ws->out.len - at >= sizeof len);
		memcpy(&len, ws->out.p + at, sizeof len);
		const char *msg = ws->out.p + at + sizeof len;
		FZ_CHECK(len <= ws->out.len - at - sizeof len);
		at += sizeof len + len;
		ei_eio_packet pk = ei_eio_parse(msg, len);
		if (pk.kind != EI_EIO_EVENT) {
			FZ_CHECK(pk.kind == EI_EIO_PONG || pk.kind == EI_EIO_PING);
			continue;
		}
		FZ_CHECK(len < EI_EIO_SUBSCRIBE_MAX);
		cJSON *j = cJSON_ParseWithLength(pk.body, pk.body_len);
		FZ_CHECK(cJSON_IsArray(j));
		cJSON *job = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 1), "jobId");
		FZ_CHECK(cJSON_IsNumber(job) && ei_jobset_find(&ws->jobs, (int64_t)job->valuedouble));
		cJSON_Delete(j);
	}
	ws->out.len = ws->out_head = 0;
}

static ei_joblog *job_at(sim *s, int i)
{
	return ei_jobset_find(&s->ws.jobs, job_ids[i]);
}

static void follow(sim *s, int i)
{
	if (job_at(s, i))
		return;
	FZ_CHECK(ei_websocket_follow(&s->ws, job_ids[i]) != NULL);
	s->ended[i] = 0;
	check_sent(s);
}

static void unfollow(sim *s, int i)
{
	ei_websocket_unfollow(&s->ws, job_ids[i]);
}

/* ---- Draining, as socket.c's take_batch and push_event ------------------- */

static volatile unsigned sink;

static void touch(const char *p, size_t n)
{
	unsigned h = 0;
	for (size_t i = 0; i < n; i++)
		h = h * 31 + (unsigned char)p[i];
	sink += h;
}

/* push_metric_value: a bounded copy, then a number. */
static void metric_value(const char *p, size_t n)
{
	char buf[64];
	FZ_CHECK(ei_metric_number(p, n));
	snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf ? n : sizeof buf - 1), p);
	double d = strtod(buf, NULL);
	sink += !isnan(d);
}

static void drain(sim *s, int i, size_t max)
{
	ei_joblog *st = job_at(s, i);
	if (!st)
		return;
	ei_queue_mark before = ei_jobset_mark(st);
	for (size_t k = 0; k < max; k++) {
		const ei_sev *e = ei_joblog_peek(st);
		if (!e) {
			FZ_CHECK(ei_joblog_queued(st) == 0);
			break;
		}
		FZ_CHECK(ei_joblog_queued(st) > 0);
		FZ_CHECK(ei_joblog_bytes(st) <= st->text.len);
		FZ_CHECK(e->off <= st->text.len && e->len <= st->text.len - e->off);
		/* socket.c reads the text of LOG and METRICS events only */
		const char *line = e->type == EI_SEV_ENDED ? NULL : ei_joblog_text(st, e);
		size_t pos = 0;
		ei_metric m;
		int64_t epoch, epochs;
		switch (e->type) {
		case EI_SEV_LOG:
			touch(line, e->len);
			break;
		case EI_SEV_PROGRESS:
			FZ_CHECK(ei_line_progress(line, e->len, &epoch, &epochs));
			FZ_CHECK(epoch == e->epoch && epochs == e->epochs && epochs > 0 && epoch >= 0);
			sink += (unsigned)((double)e->epoch / (double)e->epochs > 1);
			break;
		case EI_SEV_METRICS:
			FZ_CHECK(ei_line_is_metrics(line, e->len));
			while (ei_line_metric_next(line, e->len, &pos, &m)) {
				FZ_CHECK(m.name >= line && m.name + m.name_len <= line + e->len);
				FZ_CHECK(m.value >= line && m.value + m.value_len <= line + e->len);
				touch(m.name, m.name_len);
				metric_value(m.value, m.value_len);
			}
			break;
		case EI_SEV_ENDED:
			FZ_CHECK(s->ended[i]++ == 0);
			break;
		default:
			FZ_CHECK(!"unknown event type");
		}
		ei_joblog_pop(st);
	}
	ei_websocket_taken(&s->ws, st, before);
}

static void drain_all(sim *s)
{
	for (int i = 0; i < MAX_JOBS; i++)
		drain(s, i, SIZE_MAX);
}

/* ---- The parsers against cJSON ------------------------------------------- */

static int has_nul(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!p[i] || (n - i >= 6 && memcmp(p + i, "\\u0000", 6) == 0))
			return 1;
	return 0;
}

/* A job-data or job-finished event the parser (fast path or not) returns must
 * be what cJSON reads in the same text. cJSON cuts strings, keys too, at a NUL
 * (raw or escaped): to it, "timestamp" and a NUL and more is "timestamp". */
static void check_event(const char *p, size_t n, const ei_eio_event *ev)
{
	if ((ev->kind != EI_EV_JOB_DATA && ev->kind != EI_EV_JOB_FINISHED) || has_nul(p, n))
		return;
	cJSON *root = cJSON_ParseWithLength(p, n);
	FZ_CHECK(cJSON_IsArray(root) && cJSON_IsString(root->child));
	const cJSON *payload = root->child->next;
	if (ev->kind == EI_EV_JOB_DATA) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(payload, "data");
		const cJSON *ts = cJSON_GetObjectItemCaseSensitive(payload, "timestamp");
		FZ_CHECK(cJSON_IsString(d));
		FZ_CHECK(strlen(d->valuestring) == ev->data_len &&
			 (!ev->data_len || memcmp(d->valuestring, ev->data, ev->data_len) == 0));
		FZ_CHECK(ev->has_ts == cJSON_IsNumber(ts));
		FZ_CHECK(!ev->has_ts || ev->ts == ts->valuedouble);
	} else {
		const cJSON *ok = cJSON_GetObjectItemCaseSensitive(payload, "success");
		FZ_CHECK(ev->success == (cJSON_IsBool(ok) ? cJSON_IsTrue(ok) : -1));
	}
	cJSON_Delete(root);
}

/* ei_json_string_decode (the event parser's string decoder) on the first string
 * of the text: what it accepts, cJSON reads the same. */
static void check_json_string(sim *s, const char *p, size_t n)
{
	const char *q = n ? memchr(p, '"', n) : NULL;
	if (!q)
		return;
	size_t left = n - (size_t)(q - p);
	s->str.len = 0;
	size_t used = ei_buf_reserve(&s->str, left) == 0 ? ei_json_string_decode(q, left, 1, &s->str) : 0;
	FZ_CHECK(used <= left);
	if (!used)
		return;
	FZ_CHECK(used >= 2 && q[used - 1] == '"');
	cJSON *j = cJSON_ParseWithLength(q, used);
	FZ_CHECK(cJSON_IsString(j));
	if (!s->str.len || !memchr(s->str.p, 0, s->str.len))
		FZ_CHECK(strlen(j->valuestring) == s->str.len &&
			 (!s->str.len || memcmp(j->valuestring, s->str.p, s->str.len) == 0));
	cJSON_Delete(j);
}

/* ---- Incoming frames: checked, then dispatch.c's -------------------------- */

/* What the event parser makes of an event packet, against cJSON. */
static void check_packet(sim *s, const char *p, size_t n)
{
	ei_eio_packet pk = ei_eio_parse(p, n);
	FZ_CHECK(pk.kind < EI_EIO_KINDS);
	FZ_CHECK(pk.body_len <= n && (n == 0 || (pk.body >= p && pk.body_len <= (size_t)(p + n - pk.body))));
	if (pk.kind != EI_EIO_EVENT)
		return;
	ei_eio_event ev;
	ei_ev_kind kind = ei_eio_event_parse(pk.body, pk.body_len, &s->scratch, &ev);
	FZ_CHECK(kind == ev.kind && kind <= EI_EV_JOB_FINISHED);
	FZ_CHECK(kind != EI_EV_JOB_DATA || (ev.has_job && ev.data != NULL));
	FZ_CHECK(kind != EI_EV_JOB_FINISHED || ev.has_job);
	if (kind == EI_EV_JOB_DATA)
		touch(ev.data, ev.data_len);
	check_event(pk.body, pk.body_len, &ev);
	check_json_string(s, pk.body, pk.body_len);
}

static void on_message(sim *s, const char *p, size_t n)
{
	check_packet(s, p, n);
	uint64_t frames = s->ws.stats.frames;
	int rc = ei_dispatch_message(&s->ws, p, n);
	FZ_CHECK(s->ws.stats.frames == frames + 1);
	FZ_CHECK(rc == 0 || (rc == -1 && s->ws.state == EI_WS_CLOSED));
	check_sent(s);
}

/* A message as lws hands it over: in a buffer of its exact size. */
static void receive_whole(sim *s, const char *p, size_t n)
{
	char *copy = malloc(n ? n : 1);
	FZ_CHECK(copy != NULL);
	if (n)
		memcpy(copy, p, n);
	on_message(s, copy, n);
	free(copy);
}

/* A message in two fragments, reassembled in the websocket's reused rx buffer. */
static void receive_fragments(sim *s, const char *p, size_t n, size_t cut)
{
	ei_buf *rx = &s->ws.rx;
	rx->len = 0;
	FZ_CHECK(ei_buf_append(rx, p, cut) == 0);
	FZ_CHECK(ei_buf_append(rx, p + cut, n - cut) == 0);
	on_message(s, rx->p, rx->len);
}

/* Flow bounds by the setup's bits 5-6: the defaults, or small enough that jobs
 * overflow and let go of lines (jobset.c). */
static const ei_jobset_limits limits[4] = {
	{ 10000, 8u << 20, 100000, 64u << 20 },
	{ 3, 1u << 20, 100000, 64u << 20 },
	{ 10000, 256, 100000, 64u << 20 },
	{ 10000, 8u << 20, 5, 512 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_input in = { data, size };
	unsigned setup = fz_u8(&in);
	sim s;
	memset(&s, 0, sizeof s);
	FZ_CHECK(ei_poll_init(&s.poll) == 0);
	ei_ws_options opt = { .max_frame = max_lines[setup >> 2 & 7], .ping_ms = 5000, .hello_ms = 10000,
			      .idle_ms = 60000, .limits = limits[setup >> 5 & 3] };
	ei_websocket_init(&s.ws, &opt, &s.poll);
	s.ws.state = EI_WS_CONNECTING; /* as connecting leaves it; no connection behind it */
	for (int i = 0; i <= (int)(setup & 3) % MAX_JOBS; i++)
		follow(&s, i);
	while (in.n) {
		unsigned op = fz_u8(&in);
		size_t n, cut;
		const char *p;
		ei_joblog *jl;
		int job;
		switch (op & 7) {
		case 0:
		case 1:
		case 3:
			p = fz_bytes(&in, fz_u16(&in), &n);
			if (s.ws.state != EI_WS_CLOSED) /* after a failure lws closes: nothing more arrives */
				receive_whole(&s, p, n);
			if ((op & 7) == 3)
				drain_all(&s);
			break;
		case 2:
			n = fz_u16(&in);
			cut = fz_u8(&in);
			p = fz_bytes(&in, n, &n);
			if (s.ws.state != EI_WS_CLOSED)
				receive_fragments(&s, p, n, cut < n ? cut : n);
			break;
		case 4:
			drain(&s, (int)(fz_u8(&in) % MAX_JOBS), op >> 3);
			break;
		case 5:
			s.ws.state = EI_WS_CONNECTING;
			break;
		case 6:
			jl = job_at(&s, (int)(fz_u8(&in) % MAX_JOBS));
			p = op & 8 ? NULL : fz_bytes(&in, fz_u16(&in), &n);
			if (jl) {
				ei_queue_mark before = ei_jobset_mark(jl);
				FZ_CHECK((p ? ei_joblog_backfill(jl, p, n) : ei_joblog_flush(jl)) == 0);
				ei_jobset_changed(&s.ws.jobs, jl, before);
			}
			break;
		case 7:
			job = (int)(fz_u8(&in) % MAX_JOBS);
			if (job_at(&s, job))
				unfollow(&s, job);
			else
				follow(&s, job);
			break;
		}
	}
	drain_all(&s);
	ei_websocket_close(&s.ws);
	ei_poll_free(&s.poll);
	ei_buf_free(&s.scratch);
	ei_buf_free(&s.str);
	return 0;
}
