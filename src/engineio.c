/* Engine.IO v3 / Socket.IO v2 framing: classify text frames, parse the events
 * of the websocket API, encode the subscription. Pure functions over bytes. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "engineio.h"
#include "jsontext.h"

/* ---- Frame classification ---------------------------------------------- */

static const ei_eio_kind eio_kinds[7] = {
	EI_EIO_OPEN, EI_EIO_CLOSE, EI_EIO_PING, EI_EIO_PONG, EI_EIO_MALFORMED /* '4' */, EI_EIO_UPGRADE, EI_EIO_NOOP,
};

static const ei_eio_kind sio_kinds[7] = {
	EI_EIO_CONNECT, EI_EIO_DISCONNECT, EI_EIO_EVENT, EI_EIO_ACK, EI_EIO_ERROR, EI_EIO_BINARY, EI_EIO_BINARY,
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A Socket.IO packet after its type digit: [/nsp,][ack id]body */
static ei_eio_packet sio_parse(ei_eio_kind kind, const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && p[i] == '/') {
		const char *comma = memchr(p, ',', n);
		size_t end = comma ? (size_t)(comma - p) : n;
		if (end != 1)
			return (ei_eio_packet){ EI_EIO_OTHER_NSP, p, n };
		i = comma ? end + 1 : n;
	}
	while (i < n && is_digit(p[i]))
		i++;
	return (ei_eio_packet){ kind, p + i, n - i };
}

ei_eio_packet ei_eio_parse(const char *p, size_t n)
{
	ei_eio_packet bad = { EI_EIO_MALFORMED, p, n };
	if (n == 0 || p[0] < '0' || p[0] > '6')
		return bad;
	if (p[0] != '4')
		return (ei_eio_packet){ eio_kinds[p[0] - '0'], p + 1, n - 1 };
	if (n < 2 || p[1] < '0' || p[1] > '6')
		return bad;
	ei_eio_kind kind = sio_kinds[p[1] - '0'];
	if (kind == EI_EIO_BINARY)
		return (ei_eio_packet){ kind, p + 2, n - 2 };
	return sio_parse(kind, p + 2, n - 2);
}

/* ---- Events ------------------------------------------------------------ */

static const struct {
	const char *name;
	size_t len;
	ei_ev_kind kind;
	int has_id; /* the name goes on with the job id */
} event_names[] = {
	{ "job-data-", 9, EI_EV_JOB_DATA, 1 },
	{ "job-finished-", 13, EI_EV_JOB_FINISHED, 1 },
	{ "job-finished", 12, EI_EV_JOB_FINISHED, 0 },
	{ "hello", 5, EI_EV_HELLO, 0 },
};

/* A positive decimal integer that fits int64 exactly; -1 otherwise. */
static int64_t parse_id(const char *p, size_t n)
{
	if (n == 0 || n > 18 || (p[0] == '0' && n > 1))
		return -1;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static ei_ev_kind classify_name(const char *name, size_t len, ei_eio_event *ev)
{
	for (size_t i = 0; i < sizeof event_names / sizeof *event_names; i++) {
		size_t nl = event_names[i].len;
		if (len < nl || name[0] != event_names[i].name[0] || memcmp(name, event_names[i].name, nl) != 0)
			continue;
		if (!event_names[i].has_id) {
			if (len == nl)
				return ev->kind = event_names[i].kind;
			continue;
		}
		int64_t id = parse_id(name + nl, len - nl);
		if (id < 0)
			continue;
		ev->job = id;
		ev->has_job = 1;
		return ev->kind = event_names[i].kind;
	}
	return ev->kind = EI_EV_OTHER;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

/* The fast path gives up (FAST_NO) on anything it does not handle; the
 * cJSON path then decides. */
#define FAST_NO ((size_t)0)

/* A JSON string value: zero-copy when it has no escapes. */
static size_t fast_string(const char *p, size_t n, size_t i, ei_buf *scratch, const char **s, size_t *len)
{
	if (i >= n || p[i] != '"')
		return FAST_NO;
	size_t j = ei_json_plain_run(p, n, i + 1);
	if (j >= n)
		return FAST_NO;
	if (p[j] == '"') {
		*s = p + i + 1;
		*len = j - i - 1;
		return j + 1;
	}
	/* An escape: decode from there on, after the plain text before it. */
	size_t start = scratch->len;
	if (ei_buf_reserve(scratch, n - i) < 0)
		return FAST_NO;
	memcpy(scratch->p + start, p + i + 1, j - i - 1);
	scratch->len += j - i - 1;
	size_t end;
	if (n - j >= 3 && p[j + 1] == 'n' && p[j + 2] == '"') {
		scratch->p[scratch->len++] = '\n'; /* a line and its end: by far the most common */
		end = j + 3;
	} else {
		end = ei_json_string_decode(p, n, j, scratch);
	}
	if (!end) {
		scratch->len = start;
		return FAST_NO;
	}
	*s = scratch->p + start;
	*len = scratch->len - start;
	return end;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Eight ASCII digits at p as their number, or -1 when one is not a digit
 * (the SWAR parse of simdjson and fast_float). */
static int64_t eight_digits(const char *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	if (((w & 0xF0F0F0F0F0F0F0F0u) | (((w + 0x0606060606060606u) & 0xF0F0F0F0F0F0F0F0u) >> 4)) !=
	    0x3333333333333333u)
		return -1;
	w -= 0x3030303030303030u;
	w = w * 10 + (w >> 8);
	w = (((w & 0x000000FF000000FFu) * (100 + (1000000ull << 32))) +
	     (((w >> 16) & 0x000000FF000000FFu) * (1 + (10000ull << 32)))) >>
	    32;
	return (int64_t)(uint32_t)w;
}
#endif

/* An integer of at most 15 digits, exact as a double. */
static size_t fast_int(const char *p, size_t n, size_t i, double *out)
{
	int neg = i < n && p[i] == '-';
	size_t j = i + (size_t)neg, start = j, end = n - j > 15 ? j + 15 : n;
	int64_t v = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (end - j >= 8 && (v = eight_digits(p + j)) >= 0)
		j += 8; /* a millisecond timestamp has 13 */
	else
		v = 0;
#endif
	for (unsigned d; j < end && (d = (unsigned)(unsigned char)p[j] - '0') < 10; j++)
		v = v * 10 + d;
	if (j == start || (j < n && (is_digit(p[j]) || p[j] == '.' || p[j] == 'e' || p[j] == 'E')))
		return FAST_NO;
	if (p[start] == '0' && j - start > 1)
		return FAST_NO;
	*out = (double)(neg ? -v : v);
	return j;
}

static size_t literal_at(const char *p, size_t n, size_t i, const char *lit, size_t l)
{
	return n - i >= l && memcmp(p + i, lit, l) == 0 ? i + l : FAST_NO;
}
#define fast_literal(p, n, i, lit) literal_at(p, n, i, lit, sizeof lit - 1)

/* Skip a scalar value of a key we do not use. */
static size_t fast_skip(const char *p, size_t n, size_t i, ei_buf *scratch)
{
	const char *s;
	size_t len;
	double d;
	if (i >= n)
		return FAST_NO;
	if (p[i] == '"') {
		size_t mark = scratch->len, j = fast_string(p, n, i, scratch, &s, &len);
		scratch->len = mark;
		return j;
	}
	if (p[i] == 't')
		return fast_literal(p, n, i, "true");
	if (p[i] == 'f')
		return fast_literal(p, n, i, "false");
	if (p[i] == 'n')
		return fast_literal(p, n, i, "null");
	return fast_int(p, n, i, &d);
}

enum { KEY_DATA = 1, KEY_TIMESTAMP = 2, KEY_SUCCESS = 4, KEY_JOBID = 8 };

static const struct {
	const char *name;
	size_t len;
	unsigned bit;
} payload_keys[] = { { "data", 4, KEY_DATA }, { "timestamp", 9, KEY_TIMESTAMP }, { "success", 7, KEY_SUCCESS }, { "jobId", 5, KEY_JOBID } };

static unsigned key_bit(const char *key, size_t klen)
{
	for (size_t k = 0; k < sizeof payload_keys / sizeof *payload_keys; k++)
		if (payload_keys[k].len == klen && memcmp(payload_keys[k].name, key, klen) == 0)
			return payload_keys[k].bit;
	return 0;
}

static size_t fast_member(const char *p, size_t n, size_t i, const char *key, size_t klen, ei_buf *scratch,
			  ei_eio_event *ev, unsigned *seen)
{
	unsigned bit = key_bit(key, klen);
	if (bit & *seen)
		return FAST_NO; /* a duplicate key: let cJSON's rule apply */
	*seen |= bit;
	double d;
	size_t j;
	switch (bit) {
	case KEY_DATA:
		return fast_string(p, n, i, scratch, &ev->data, &ev->data_len);
	case KEY_TIMESTAMP:
		if ((j = fast_int(p, n, i, &ev->ts)))
			ev->has_ts = 1;
		return j;
	case KEY_SUCCESS:
		if ((j = fast_literal(p, n, i, "true")))
			ev->success = 1;
		else if ((j = fast_literal(p, n, i, "false")))
			ev->success = 0;
		return j;
	case KEY_JOBID:
		if ((j = fast_int(p, n, i, &d)) && d >= 0) {
			ev->bare_job = (int64_t)d;
			ev->has_bare_job = 1;
		}
		return j;
	default:
		return fast_skip(p, n, i, scratch);
	}
}

/* {"key":value,...} of scalars; returns the index after '}'. */
static size_t fast_object(const char *p, size_t n, size_t i, ei_buf *scratch, ei_eio_event *ev)
{
	unsigned seen = 0;
	if (i >= n || p[i] != '{')
		return FAST_NO;
	i = skip_ws(p, n, i + 1);
	if (i < n && p[i] == '}')
		return i + 1;
	for (;;) {
		if (i >= n || p[i] != '"')
			return FAST_NO;
		size_t kend = ei_json_plain_run(p, n, i + 1);
		if (kend >= n || p[kend] != '"')
			return FAST_NO;
		const char *key = p + i + 1, *q = p + kend;
		i = skip_ws(p, n, kend + 1);
		if (i >= n || p[i] != ':')
			return FAST_NO;
		i = skip_ws(p, n, i + 1);
		if (!(i = fast_member(p, n, i, key, (size_t)(q - key), scratch, ev, &seen)))
			return FAST_NO;
		i = skip_ws(p, n, i);
		if (i < n && p[i] == '}')
			return i + 1;
		if (i >= n || p[i] != ',')
			return FAST_NO;
		i = skip_ws(p, n, i + 1);
	}
}

/* The payload of the event and the closing bracket; 0 when not handled. */
static int fast_payload(const char *p, size_t n, size_t i, ei_buf *scratch, ei_eio_event *ev)
{
	i = skip_ws(p, n, i);
	if (i >= n || p[i] != ',')
		return 0;
	i = skip_ws(p, n, i + 1);
	if (!(i = fast_object(p, n, i, scratch, ev)))
		return 0;
	i = skip_ws(p, n, i);
	if (i >= n || p[i] != ']')
		return 0;
	return skip_ws(p, n, i + 1) == n;
}

static void reset_event(ei_eio_event *ev)
{
	memset(ev, 0, sizeof *ev);
	ev->success = -1;
	ev->hello_version = -1;
}

static int exact_int(const cJSON *v, int64_t *out)
{
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > EI_MAX_EXACT)
		return 0;
	*out = (int64_t)v->valuedouble;
	return 1;
}

static ei_ev_kind slow_payload(const cJSON *payload, ei_buf *scratch, ei_eio_event *ev)
{
	const cJSON *v;
	int64_t id;
	switch (ev->kind) {
	case EI_EV_HELLO:
		v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(payload, "hello"), "version");
		ev->hello_version = cJSON_IsNumber(v) && v->valuedouble == 1.0 ? 1 : 0;
		break;
	case EI_EV_JOB_DATA:
		v = cJSON_GetObjectItemCaseSensitive(payload, "data");
		if (!cJSON_IsString(v))
			return ev->kind = EI_EV_MALFORMED;
		ev->data_len = strlen(v->valuestring);
		/* reserved first so that an empty text still points into a buffer */
		if (ei_buf_reserve(scratch, ev->data_len + 1) < 0 ||
		    ei_buf_append(scratch, v->valuestring, ev->data_len) < 0)
			return ev->kind = EI_EV_MALFORMED;
		ev->data = scratch->p + scratch->len - ev->data_len;
		v = cJSON_GetObjectItemCaseSensitive(payload, "timestamp");
		if ((ev->has_ts = cJSON_IsNumber(v)))
			ev->ts = v->valuedouble;
		break;
	case EI_EV_JOB_FINISHED:
		v = cJSON_GetObjectItemCaseSensitive(payload, "success");
		ev->success = cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
		if (exact_int(cJSON_GetObjectItemCaseSensitive(payload, "jobId"), &id) && id >= 0) {
			ev->bare_job = id;
			ev->has_bare_job = 1;
		}
		break;
	default:
		break;
	}
	return ev->kind;
}

static ei_ev_kind slow_event(const char *p, size_t n, ei_buf *scratch, ei_eio_event *ev)
{
	reset_event(ev);
	scratch->len = 0;
	cJSON *root = cJSON_ParseWithLength(p, n);
	const cJSON *name = root && cJSON_IsArray(root) ? root->child : NULL;
	if (!cJSON_IsString(name)) {
		cJSON_Delete(root);
		return ev->kind = EI_EV_MALFORMED;
	}
	if (classify_name(name->valuestring, strlen(name->valuestring), ev) != EI_EV_OTHER)
		slow_payload(name->next, scratch, ev);
	cJSON_Delete(root);
	return ev->kind;
}

/* A bare job-finished names its job in the payload. */
static ei_ev_kind settle(ei_eio_event *ev)
{
	if (ev->kind == EI_EV_JOB_FINISHED && !ev->has_job && ev->has_bare_job) {
		ev->job = ev->bare_job;
		ev->has_job = 1;
	}
	if ((ev->kind == EI_EV_JOB_FINISHED || ev->kind == EI_EV_JOB_DATA) && !ev->has_job)
		ev->kind = EI_EV_MALFORMED;
	if (ev->kind == EI_EV_JOB_DATA && !ev->data)
		ev->kind = EI_EV_MALFORMED;
	return ev->kind;
}

#define LIT(s) s, sizeof s - 1

static int starts_with(const char *p, size_t n, size_t i, const char *lit, size_t l)
{
	return n - i >= l && memcmp(p + i, lit, l) == 0;
}

/* A job-data frame exactly as Studio writes it, the bulk of the traffic:
 * ["job-data-<id>",{"data":"<text>","timestamp":<ms>}], timestamp optional.
 * Anything else (spaces, other keys or order) is left to the general path;
 * what this accepts, the general path reads the same way. */
static int studio_job_data(const char *p, size_t n, ei_buf *scratch, ei_eio_event *ev)
{
	size_t i = sizeof "[\"job-data-" - 1, id = i;
	if (!starts_with(p, n, 0, LIT("[\"job-data-")))
		return 0;
	int64_t job = 0;
	while (i < n && i - id < 18 && is_digit(p[i]))
		job = job * 10 + (p[i++] - '0');
	if (i == id || (p[id] == '0' && i - id > 1) || !starts_with(p, n, i, LIT("\",{\"data\":")))
		return 0;
	i += sizeof "\",{\"data\":" - 1;
	if (!(i = fast_string(p, n, i, scratch, &ev->data, &ev->data_len)))
		return 0;
	if (starts_with(p, n, i, LIT(",\"timestamp\":"))) {
		if (!(i = fast_int(p, n, i + sizeof ",\"timestamp\":" - 1, &ev->ts)))
			return 0;
		ev->has_ts = 1;
	}
	if (n - i != 2 || p[i] != '}' || p[i + 1] != ']')
		return 0;
	ev->kind = EI_EV_JOB_DATA;
	ev->job = job;
	ev->has_job = 1;
	return 1;
}

ei_ev_kind ei_eio_event_parse(const char *p, size_t n, ei_buf *scratch, ei_eio_event *ev)
{
	reset_event(ev);
	scratch->len = 0;
	if (studio_job_data(p, n, scratch, ev))
		return EI_EV_JOB_DATA;
	reset_event(ev);
	scratch->len = 0;
	size_t i = skip_ws(p, n, 0);
	if (i >= n || p[i] != '[')
		return ev->kind = EI_EV_MALFORMED;
	i = skip_ws(p, n, i + 1);
	if (i >= n || p[i] != '"')
		return ev->kind = EI_EV_MALFORMED;
	size_t end = ei_json_plain_run(p, n, i + 1);
	const char *name = p + i + 1, *q = p + end;
	if (end >= n || *q != '"') {
		slow_event(p, n, scratch, ev);
		return settle(ev);
	}
	if (classify_name(name, (size_t)(q - name), ev) == EI_EV_OTHER)
		return EI_EV_OTHER;
	if (ev->kind != EI_EV_HELLO && fast_payload(p, n, (size_t)(q - p) + 1, scratch, ev))
		return settle(ev);
	slow_event(p, n, scratch, ev);
	return settle(ev);
}

size_t ei_eio_subscribe(char *out, int64_t job, double ts)
{
	int n;
	if (!isfinite(ts))
		ts = 0;
	if (ts == floor(ts) && fabs(ts) < EI_MAX_EXACT)
		n = snprintf(out, EI_EIO_SUBSCRIBE_MAX, "42[\"start-log-stream\",{\"jobId\":%" PRId64
			     ",\"lastReceivedTimestamp\":%" PRId64 "}]",
			     job, (int64_t)ts);
	else
		n = snprintf(out, EI_EIO_SUBSCRIBE_MAX,
			     "42[\"start-log-stream\",{\"jobId\":%" PRId64 ",\"lastReceivedTimestamp\":%.17g}]", job, ts);
	return n < 0 ? 0 : (size_t)n;
}
