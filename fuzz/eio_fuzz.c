/* libFuzzer target: Engine.IO / Socket.IO text frames through ei_eio_parse and
 * ei_eio_event_parse into the job logs of joblog.c, dispatched in the
 * order src/wscallback.c and src/dispatch.c do it (on_receive ->
 * ei_dispatch_message -> packet handler -> event handler), and drained (peek,
 * pop, trim) as l_socket_next/l_socket_drain do. That dispatch works on a
 * websocket tied to libwebsockets, so it is mirrored here over the same
 * public functions.
 *
 * Input: one setup byte, then records, each an operation byte and its operands:
 *   setup  bits 0-1: jobs followed (1 + n % 3), ids 1, 2, 123456789012
 *          bits 2-4: the streams' max_line (a partial line this long is a line)
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

#include "engineio.h"
#include "fuzz.h"
#include "joblog.h"
#include "jsontext.h"

#define MAX_JOBS 3
static const int64_t job_ids[MAX_JOBS] = { 1, 2, 123456789012 };
static const size_t max_lines[8] = { 0, 1, 2, 7, 16, 64, 300, 4096 };

typedef enum { ST_CONNECTING, ST_OPEN, ST_CLOSED } state;

typedef struct {
	state st;
	size_t max_line;
	ei_joblog *jobs[MAX_JOBS]; /* NULL: not followed */
	int ended[MAX_JOBS];	   /* ENDED events drained since the job was followed */
	ei_buf rx, scratch, str;
} sim;

/* ---- websocket.c's subscribe and the checks on what it sends ------------ */

static void subscribe(ei_joblog *st)
{
	char msg[EI_EIO_SUBSCRIBE_MAX];
	ei_joblog_resubscribe(st);
	size_t n = ei_eio_subscribe(msg, st->job, st->has_ts ? st->last_ts : 0);
	FZ_CHECK(n > 0 && n < EI_EIO_SUBSCRIBE_MAX);
	ei_eio_packet pk = ei_eio_parse(msg, n);
	FZ_CHECK(pk.kind == EI_EIO_EVENT);
	cJSON *j = cJSON_ParseWithLength(pk.body, pk.body_len);
	FZ_CHECK(cJSON_IsArray(j));
	cJSON *job = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(j, 1), "jobId");
	FZ_CHECK(cJSON_IsNumber(job) && job->valuedouble == (double)st->job);
	cJSON_Delete(j);
}

static ei_joblog *find_job(sim *s, int64_t job)
{
	for (int i = 0; i < MAX_JOBS; i++)
		if (s->jobs[i] && s->jobs[i]->job == job)
			return s->jobs[i];
	return NULL;
}

static void follow(sim *s, int i)
{
	if (s->jobs[i])
		return;
	s->jobs[i] = malloc(sizeof *s->jobs[i]);
	FZ_CHECK(s->jobs[i] != NULL);
	ei_joblog_init(s->jobs[i], job_ids[i], s->max_line);
	s->ended[i] = 0;
	if (s->st == ST_OPEN)
		subscribe(s->jobs[i]);
}

static void unfollow(sim *s, int i)
{
	if (!s->jobs[i])
		return;
	ei_joblog_free(s->jobs[i]);
	free(s->jobs[i]);
	s->jobs[i] = NULL;
}

/* ---- Draining, as socket_next / push_event ------------------------------- */

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
	ei_joblog *st = s->jobs[i];
	if (!st)
		return;
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
	ei_joblog_trim(st); /* after a sock:drain or sock:await */
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

/* ---- Incoming frames, as dispatch.c's ei_dispatch_message and handlers --- */

static void on_event(sim *s, const ei_eio_packet *pk)
{
	ei_eio_event ev;
	ei_ev_kind kind = ei_eio_event_parse(pk->body, pk->body_len, &s->scratch, &ev);
	FZ_CHECK(kind == ev.kind);
	check_event(pk->body, pk->body_len, &ev);
	check_json_string(s, pk->body, pk->body_len);
	ei_joblog *st;
	switch (kind) {
	case EI_EV_HELLO:
		if (s->st != ST_CONNECTING)
			break;
		if (ev.hello_version != 1) {
			s->st = ST_CLOSED;
			break;
		}
		s->st = ST_OPEN;
		for (int i = 0; i < MAX_JOBS; i++)
			if (s->jobs[i])
				subscribe(s->jobs[i]);
		break;
	case EI_EV_JOB_DATA:
		FZ_CHECK(ev.has_job && ev.data != NULL);
		touch(ev.data, ev.data_len);
		if ((st = find_job(s, ev.job)) && ei_joblog_feed(st, ev.data, ev.data_len, ev.has_ts, ev.ts) < 0)
			s->st = ST_CLOSED;
		break;
	case EI_EV_JOB_FINISHED:
		FZ_CHECK(ev.has_job);
		if ((st = find_job(s, ev.job)) && ei_joblog_end(st, ev.success > 0) < 0)
			s->st = ST_CLOSED;
		break;
	case EI_EV_MALFORMED:
	case EI_EV_OTHER:
		break;
	default:
		FZ_CHECK(!"unknown event kind");
	}
}

static void on_message(sim *s, const char *p, size_t n)
{
	ei_eio_packet pk = ei_eio_parse(p, n);
	FZ_CHECK(pk.kind < EI_EIO_KINDS);
	FZ_CHECK(pk.body_len <= n && (n == 0 || (pk.body >= p && pk.body_len <= (size_t)(p + n - pk.body))));
	switch (pk.kind) {
	case EI_EIO_EVENT:
		on_event(s, &pk);
		break;
	case EI_EIO_CLOSE:
	case EI_EIO_DISCONNECT:
		s->st = ST_CLOSED;
		break;
	case EI_EIO_ERROR:
		if (s->st == ST_CONNECTING)
			s->st = ST_CLOSED;
		break;
	default:
		break; /* ping (answered with "3"), pong, open, connect...: nothing queued */
	}
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

/* A message in two fragments, reassembled in the reused rx buffer. */
static void receive_fragments(sim *s, const char *p, size_t n, size_t cut)
{
	s->rx.len = 0;
	FZ_CHECK(ei_buf_append(&s->rx, p, cut) == 0);
	FZ_CHECK(ei_buf_append(&s->rx, p + cut, n - cut) == 0);
	on_message(s, s->rx.p, s->rx.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_input in = { data, size };
	unsigned setup = fz_u8(&in);
	sim s = { .st = ST_CONNECTING, .max_line = max_lines[setup >> 2 & 7] };
	for (int i = 0; i <= (int)(setup & 3) % MAX_JOBS; i++)
		follow(&s, i);
	while (in.n) {
		unsigned op = fz_u8(&in);
		size_t n, cut;
		const char *p;
		int job;
		switch (op & 7) {
		case 0:
		case 1:
		case 3:
			p = fz_bytes(&in, fz_u16(&in), &n);
			if (s.st != ST_CLOSED) /* after a failure lws closes: nothing more arrives */
				receive_whole(&s, p, n);
			if ((op & 7) == 3)
				drain_all(&s);
			break;
		case 2:
			n = fz_u16(&in);
			cut = fz_u8(&in);
			p = fz_bytes(&in, n, &n);
			if (s.st != ST_CLOSED)
				receive_fragments(&s, p, n, cut < n ? cut : n);
			break;
		case 4:
			drain(&s, (int)(fz_u8(&in) % MAX_JOBS), op >> 3);
			break;
		case 5:
			s.st = ST_CONNECTING;
			break;
		case 6:
			job = (int)(fz_u8(&in) % MAX_JOBS);
			if (op & 8) {
				if (s.jobs[job])
					FZ_CHECK(ei_joblog_flush(s.jobs[job]) == 0);
				break;
			}
			p = fz_bytes(&in, fz_u16(&in), &n);
			if (s.jobs[job])
				FZ_CHECK(ei_joblog_backfill(s.jobs[job], p, n) == 0);
			break;
		case 7:
			job = (int)(fz_u8(&in) % MAX_JOBS);
			if (s.jobs[job])
				unfollow(&s, job);
			else
				follow(&s, job);
			break;
		}
	}
	drain_all(&s);
	for (int i = 0; i < MAX_JOBS; i++)
		unfollow(&s, i);
	ei_buf_free(&s.rx);
	ei_buf_free(&s.scratch);
	ei_buf_free(&s.str);
	return 0;
}
