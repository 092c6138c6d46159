/* The log of one followed job (ei_joblog; in Lua, a job's events on an ei.stream).
 *
 * De-duplication. `total` counts the bytes of the job's log delivered so far;
 * when payloads carry timestamps, `last_ts` is the newest one delivered and
 * `at_ts` the bytes delivered with exactly that timestamp (several payloads can
 * share a millisecond). Every (re)subscription asks for lastReceivedTimestamp =
 * last_ts and starts a replay window, because the server may resume at last_ts
 * (inclusive or not), or start over from the beginning. Within the window:
 *   - a payload with ts < last_ts was delivered before: dropped;
 *   - with ts == last_ts: the first at_ts bytes seen at that timestamp in this
 *     subscription were delivered before: dropped; the rest is new;
 *   - with ts > last_ts: new, and the window closes;
 *   - without a timestamp the server replays from the start: the first `total`
 *     bytes of this subscription were delivered before: dropped; the window
 *     closes once past them.
 * Outside the window everything is delivered. The partial last line stays in
 * the buffer across frames and reconnects, so the cut can fall anywhere.
 *
 * Overflow. A job whose reader is behind stops keeping lines (jobset.c decides
 * when) so that the socket can go on reading for the others. De-duplication
 * goes on; the new lines are only counted, and the last one is remembered by
 * its hash. Lua then fetches the stored log, which src/backfill.c aligns with
 * the lines kept (by the last line delivered) and the lines lost (by the last
 * one's hash), and feeds the missing lines back; ei_joblog_recover ends it.
 */
#include <stdlib.h>
#include <string.h>

#include "joblog.h"

void ei_joblog_init(ei_joblog *s, int64_t job, size_t max_line)
{
	memset(s, 0, sizeof *s);
	s->job = job;
	s->max_line = max_line ? max_line : SIZE_MAX;
}

void ei_joblog_free(ei_joblog *s)
{
	ei_buf_free(&s->events);
	ei_buf_free(&s->text);
	memset(s, 0, sizeof *s);
}

void ei_joblog_resubscribe(ei_joblog *s)
{
	s->replaying = s->total > 0;
	s->seen_at_ts = 0;
	s->seen_total = 0;
	s->replay_total = s->total;
}

static size_t min_size(uint64_t a, size_t b)
{
	return a < b ? (size_t)a : b;
}

/* How many leading bytes of this payload were delivered before. */
static size_t duplicate_prefix(ei_joblog *s, size_t len, int has_ts, double ts)
{
	if (!s->replaying)
		return 0;
	if (!has_ts) {
		uint64_t left = s->replay_total > s->seen_total ? s->replay_total - s->seen_total : 0;
		s->seen_total += len;
		if (s->seen_total >= s->replay_total)
			s->replaying = 0;
		return min_size(left, len);
	}
	if (!s->has_ts || ts > s->last_ts) {
		s->replaying = 0;
		return 0;
	}
	if (ts < s->last_ts)
		return len;
	uint64_t left = s->at_ts > s->seen_at_ts ? s->at_ts - s->seen_at_ts : 0;
	s->seen_at_ts += len;
	return min_size(left, len);
}

static void account(ei_joblog *s, size_t delivered, int has_ts, double ts)
{
	s->total += delivered;
	if (!has_ts)
		return;
	if (!s->has_ts || ts > s->last_ts) {
		s->has_ts = 1;
		s->last_ts = ts;
		s->at_ts = delivered;
	} else if (ts == s->last_ts) {
		s->at_ts += delivered;
	}
}

/* ---- Queue ------------------------------------------------------------- */

/* Give back the text and events Lua already took, when that is worth a move. */
static void compact(ei_joblog *s)
{
	size_t keep = s->text.len - ei_joblog_bytes(s); /* the first byte still wanted */
	if (keep > 0 && (s->ev_head == ei_joblog_ev_end(s) || keep >= s->text.len / 2)) {
		memmove(s->text.p, s->text.p + keep, s->text.len - keep);
		s->text.len -= keep;
		s->line -= keep;
		for (size_t i = s->ev_head; i < ei_joblog_ev_end(s); i++)
			ei_joblog_events(s)[i].off -= keep;
	}
	if (s->ev_head > 0 && (s->ev_head == ei_joblog_ev_end(s) || s->ev_head >= s->events.cap / sizeof(ei_sev) / 2)) {
		size_t gone = s->ev_head * sizeof(ei_sev);
		memmove(s->events.p, s->events.p + gone, s->events.len - gone);
		s->events.len -= gone;
		s->ev_head = 0;
	}
}

static int push(ei_joblog *s, ei_sev e)
{
	if (ei_buf_append(&s->events, &e, sizeof e) < 0)
		return -1;
	if (ei_joblog_ev_end(s) > s->ev_peak)
		s->ev_peak = ei_joblog_ev_end(s);
	return 0;
}

static int emit_line(ei_joblog *s, size_t off, size_t len)
{
	const char *line = s->text.p + off;
	if (len && line[len - 1] == '\r')
		len--;
	if (push(s, (ei_sev){ .type = EI_SEV_LOG, .off = off, .len = len }) < 0)
		return -1;
	s->lines++;
	ei_sev d = { .off = off, .len = len };
	if (ei_line_progress(line, len, &d.epoch, &d.epochs)) {
		d.type = EI_SEV_PROGRESS;
		s->epoch = d.epoch;
		s->has_epoch = 1;
		return push(s, d);
	}
	if (ei_line_is_metrics(line, len)) {
		d.type = EI_SEV_METRICS;
		d.epoch = s->epoch;
		d.has_epoch = (unsigned char)s->has_epoch;
		return push(s, d);
	}
	return 0;
}

static int append_lines(ei_joblog *s, const char *p, size_t n)
{
	if (n == 0)
		return 0; /* and the text buffer may not exist yet */
	compact(s);
	size_t from = s->text.len;
	if (ei_buf_append(&s->text, p, n) < 0)
		return -1;
	if (s->text.len > s->text_peak)
		s->text_peak = s->text.len;
	const char *nl;
	while ((nl = memchr(s->text.p + from, '\n', s->text.len - from))) {
		size_t end = (size_t)(nl - s->text.p);
		if (emit_line(s, s->line, end - s->line) < 0)
			return -1;
		s->line = from = end + 1;
	}
	if (s->text.len - s->line >= s->max_line) {
		if (emit_line(s, s->line, s->text.len - s->line) < 0)
			return -1;
		s->line = s->text.len;
	}
	return 0;
}

/* ---- Overflow ---------------------------------------------------------- */

static void end_lost_line(ei_joblog *s)
{
	s->lost++;
	s->lost_hash = s->part_hash;
	s->lost_len = s->part_len;
	s->part_hash = EI_LINE_HASH_START;
	s->part_len = 0;
	s->part_cr = 0;
}

/* Count lines without keeping them; lines split as append_lines splits them. */
static void count_lost(ei_joblog *s, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (s->part_cr) {
			s->part_cr = 0;
			if (c != '\n') {
				s->part_hash = ei_line_hash(s->part_hash, "\r", 1);
				s->part_len++;
			}
		}
		if (c == '\n') {
			end_lost_line(s);
			continue;
		}
		if (c == '\r') {
			s->part_cr = 1;
			continue;
		}
		s->part_hash = ei_line_hash(s->part_hash, &c, 1);
		if (++s->part_len >= s->max_line)
			end_lost_line(s);
	}
}

void ei_joblog_overflow(ei_joblog *s)
{
	if (s->overflow)
		return;
	s->overflow = 1;
	s->part_hash = EI_LINE_HASH_START;
	s->part_len = 0;
	s->part_cr = 0;
	count_lost(s, s->text.p + s->line, s->text.len - s->line);
	s->text.len = s->line;
}

void ei_joblog_let_go(ei_joblog *s)
{
	ei_joblog_overflow(s);
	uint64_t n = 0;
	const ei_sev *last = NULL;
	for (size_t i = s->ev_head; i < ei_joblog_ev_end(s); i++)
		if (ei_joblog_events(s)[i].type == EI_SEV_LOG)
			n++, last = &ei_joblog_events(s)[i];
	if (last && s->lost == 0) { /* no line lost yet: the queue's last is the newest */
		s->lost_hash = ei_line_hash(EI_LINE_HASH_START, s->text.p + last->off, last->len);
		s->lost_len = last->len;
	}
	s->lost += n;
	s->lines -= n;
	s->ev_head = s->events.len = 0;
	s->text.len = s->line = 0;
}

void ei_joblog_drop_partial(ei_joblog *s)
{
	if (!s->overflow)
		s->text.len = s->line;
}

int ei_joblog_recover(ei_joblog *s)
{
	if (!s->overflow)
		return 1;
	if (s->lost != s->aligned_lost || s->part_len || s->part_cr)
		return 0;
	s->overflow = 0;
	s->lost = s->aligned_lost = 0;
	return 1;
}

int ei_joblog_feed(ei_joblog *s, const char *data, size_t len, int has_ts, double ts)
{
	size_t skip = duplicate_prefix(s, len, has_ts, ts);
	if (skip) {
		s->dup_payloads++;
		s->dup_bytes += skip;
	}
	if (s->overflow)
		count_lost(s, data + skip, len - skip);
	else if (append_lines(s, data + skip, len - skip) < 0)
		return -1;
	account(s, len - skip, has_ts, ts);
	return 0;
}

int ei_joblog_backfill(ei_joblog *s, const char *data, size_t len)
{
	return append_lines(s, data, len);
}

int ei_joblog_flush(ei_joblog *s)
{
	if (s->overflow) {
		if (s->part_len || s->part_cr)
			end_lost_line(s);
		return 0;
	}
	if (s->text.len == s->line)
		return 0;
	if (emit_line(s, s->line, s->text.len - s->line) < 0)
		return -1;
	s->line = s->text.len;
	return 0;
}

/* The server says so once per subscription and twice per frame pair (named
 * and bare job-finished): the first one counts. */
int ei_joblog_end(ei_joblog *s, int success)
{
	if (s->ended)
		return 0;
	if (ei_joblog_flush(s) < 0)
		return -1;
	s->ended = 1;
	return push(s, (ei_sev){ .type = EI_SEV_ENDED, .success = success > 0, .off = s->text.len });
}


/* An empty queue gives back half of its room, down to this much, when it
 * used less than an eighth of it since it was last empty: a stream that
 * keeps filling it (a burst, read a buffer per wake-up) keeps its room and
 * costs no realloc per wake-up; one that went quiet shrinks step by step. */
#define KEEP_EVENTS 32
#define KEEP_TEXT 1024
#define SPARE_FACTOR 8

void ei_joblog_trim(ei_joblog *s)
{
	if (s->ev_head != ei_joblog_ev_end(s))
		return;
	size_t ev_peak = s->ev_peak, text_peak = s->text_peak;
	s->ev_peak = s->text_peak = 0;
	size_t ev_cap = s->events.cap / sizeof(ei_sev);
	if (ev_cap > KEEP_EVENTS && ev_peak <= ev_cap / SPARE_FACTOR)
		ei_buf_shrink(&s->events, ev_cap / 2 * sizeof(ei_sev));
	size_t partial = s->text.len - s->line;
	if (s->text.cap > KEEP_TEXT && partial <= s->text.cap / 4 && text_peak <= s->text.cap / SPARE_FACTOR) {
		memmove(s->text.p, s->text.p + s->line, partial);
		s->text.len = partial;
		s->line = 0;
		ei_buf_shrink(&s->text, s->text.cap / 2);
	}
}

/* ---- Line parsers ------------------------------------------------------ */

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

static int is_name(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && is_digit(c));
}

/* Up to 15 digits at p[*i]; -1 when none. */
static int64_t digits(const char *p, size_t n, size_t *i)
{
	size_t start = *i;
	int64_t v = 0;
	while (*i < n && is_digit(p[*i]) && *i - start < 15)
		v = v * 10 + (p[(*i)++] - '0');
	return *i == start || (*i < n && is_digit(p[*i])) ? -1 : v;
}

static void trim(const char *p, size_t *from, size_t *to)
{
	while (*from < *to && is_space(p[*from]))
		(*from)++;
	while (*to > *from && is_space(p[*to - 1]))
		(*to)--;
}

int ei_line_progress(const char *p, size_t n, int64_t *epoch, int64_t *epochs)
{
	size_t i = 0, end = n;
	while (i < n && is_space(p[i]))
		i++;
	if (i >= n || p[i] != 'E')
		return 0;
	trim(p, &i, &end);
	if (end - i < 9 || memcmp(p + i, "Epoch", 5) != 0 || !is_space(p[i + 5]))
		return 0;
	i += 5;
	while (i < end && is_space(p[i]))
		i++;
	int64_t a = digits(p, end, &i);
	if (a < 0 || i >= end || p[i++] != '/')
		return 0;
	int64_t b = digits(p, end, &i);
	if (b <= 0 || i != end)
		return 0;
	*epoch = a;
	*epochs = b;
	return 1;
}

static int ci_equal(const char *p, size_t n, const char *word)
{
	size_t l = strlen(word);
	if (n != l)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((p[i] | 0x20) != word[i])
			return 0;
	return 1;
}

int ei_metric_number(const char *p, size_t n)
{
	size_t i = 0;
	if (i < n && (p[i] == '-' || p[i] == '+'))
		i++;
	if (ci_equal(p + i, n - i, "nan") || ci_equal(p + i, n - i, "inf") || ci_equal(p + i, n - i, "infinity"))
		return 1;
	size_t mant = 0;
	while (i < n && is_digit(p[i]))
		i++, mant++;
	if (i < n && p[i] == '.')
		for (i++; i < n && is_digit(p[i]); i++)
			mant++;
	if (!mant)
		return 0;
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '-' || p[i] == '+'))
			i++;
		size_t exp = i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == exp)
			return 0;
	}
	return i == n;
}

/* The next " - " separated segment from *pos, trimmed; 0 at the end. */
static int segment(const char *p, size_t n, size_t *pos, size_t *from, size_t *to)
{
	if (*pos >= n)
		return 0;
	size_t i = *pos;
	while (i + 3 <= n && !(p[i] == ' ' && p[i + 1] == '-' && p[i + 2] == ' '))
		i++;
	if (i + 3 > n)
		i = n;
	*from = *pos;
	*to = i;
	*pos = i < n ? i + 3 : n;
	trim(p, from, to);
	return 1;
}

static int pair(const char *p, size_t from, size_t to, ei_metric *m)
{
	size_t i = from;
	if (i >= to || !is_name(p[i], 1))
		return 0;
	while (i < to && is_name(p[i], 0))
		i++;
	if (i + 1 >= to || p[i] != ':' || !is_space(p[i + 1]))
		return 0;
	m->name = p + from;
	m->name_len = i - from;
	i++;
	while (i < to && is_space(p[i]))
		i++;
	m->value = p + i;
	m->value_len = to - i;
	return ei_metric_number(m->value, m->value_len);
}

int ei_line_metric_next(const char *p, size_t n, size_t *pos, ei_metric *m)
{
	size_t from, to;
	while (segment(p, n, pos, &from, &to))
		if (pair(p, from, to, m))
			return 1;
	return 0;
}

/* The first segment is a finished step counter: "62/62" or "62/62 [====]". */
static int finished_steps(const char *p, size_t from, size_t to)
{
	size_t i = from;
	int64_t a = digits(p, to, &i);
	if (a < 0 || i >= to || p[i++] != '/')
		return 0;
	int64_t b = digits(p, to, &i);
	return b == a && (i == to || is_space(p[i]));
}

int ei_line_is_metrics(const char *p, size_t n)
{
	size_t pos = 0, from, to;
	ei_metric m;
	while (pos < n && is_space(p[pos]))
		pos++;
	if (pos >= n || !is_digit(p[pos]))
		return 0; /* not a step counter: no need to look for segments */
	pos = 0;
	if (!segment(p, n, &pos, &from, &to) || !finished_steps(p, from, to))
		return 0;
	return ei_line_metric_next(p, n, &pos, &m);
}
