/* The log of one followed job (ei_joblog): de-duplication across resubscriptions,
 * line splitting, and the queue of events waiting for Lua. No Lua here. */
#ifndef EI_JOBLOG_H
#define EI_JOBLOG_H

#include <stddef.h>
#include <stdint.h>

#include "buffer.h"

typedef enum { EI_SEV_LOG, EI_SEV_PROGRESS, EI_SEV_METRICS, EI_SEV_ENDED } ei_sev_type;

typedef struct {
	unsigned char type;
	unsigned char success;	 /* ENDED */
	unsigned char has_epoch; /* METRICS: an `Epoch N/M` line came before */
	size_t off, len;	 /* LOG, METRICS: the line, in the stream's text */
	int64_t epoch, epochs;
} ei_sev;

typedef struct ei_joblog {
	int64_t job;

	/* De-duplication (see joblog.c). */
	int has_ts;
	double last_ts;	   /* newest timestamp delivered */
	uint64_t at_ts;	   /* bytes delivered with exactly last_ts */
	uint64_t total;	   /* bytes delivered since the start of the log */
	int replaying;	   /* a resubscription may be sending what was delivered */
	uint64_t seen_at_ts;   /* bytes at last_ts seen since the resubscription */
	uint64_t seen_total;   /* bytes without timestamp seen since the resubscription */
	uint64_t replay_total; /* `total` when the resubscription was sent */
	uint64_t dup_bytes, dup_payloads;

	/* Queue: the ei_sev records of `events` from ev_head on refer to text;
	 * text.p[line..text.len) is the partial line. */
	ei_buf events, text;
	size_t ev_head, line;
	size_t ev_peak, text_peak; /* the most of each held since the queue was last empty */
	size_t max_line; /* a partial line this long is delivered as a line */

	int64_t epoch; /* last `Epoch N/M` */
	int has_epoch;
	int ended;

	/* Flow (see joblog.c, "Overflow"): lines queued since the start; while
	 * `overflow`, the lines seen and not kept, and the last of them as a hash. */
	uint64_t lines;
	int overflow;
	uint64_t lost, aligned_lost;
	uint64_t lost_hash, part_hash;
	size_t lost_len, part_len;
	int part_cr;
} ei_joblog;

/* The queue's events, and the index one past the last. */
static inline ei_sev *ei_joblog_events(const ei_joblog *s)
{
	return (ei_sev *)(void *)s->events.p;
}

static inline size_t ei_joblog_ev_end(const ei_joblog *s)
{
	return s->events.len / sizeof(ei_sev);
}

/* A line's identity for alignment: FNV-1a over its bytes, without the \r\n. */
#define EI_LINE_HASH_START 14695981039346656037u
static inline uint64_t ei_line_hash(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211u;
	return h;
}

void ei_joblog_init(ei_joblog *s, int64_t job, size_t max_line);
void ei_joblog_free(ei_joblog *s);

/* A subscription (start-log-stream) is being sent for this job. */
void ei_joblog_resubscribe(ei_joblog *s);

/* A job-data payload. Returns 0, or -1 when out of memory (nothing queued). */
int ei_joblog_feed(ei_joblog *s, const char *data, size_t len, int has_ts, double ts);

/* Log text from elsewhere (a REST back-fill): queued whatever the flow state,
 * not de-duplicated, not counted in `total` (the socket's own bytes). */
int ei_joblog_backfill(ei_joblog *s, const char *data, size_t len);

/* Deliver a pending partial line as a line. */
int ei_joblog_flush(ei_joblog *s);

/* job-finished: deliver a pending partial line, then the ended event (once). */
int ei_joblog_end(ei_joblog *s, int success);

/* Stop keeping the job's lines: what is queued stays, the partial line and
 * everything after it are only counted (lost) until ei_joblog_recover. */
void ei_joblog_overflow(ei_joblog *s);

/* Overflow, and let go of the queue too: its lines count as lost. */
void ei_joblog_let_go(ei_joblog *s);

/* Drop the partial line: a back-fill from the stored log supplies it whole. */
void ei_joblog_drop_partial(ei_joblog *s);

/* Keep lines again after a back-fill delivered every lost line, that is when
 * none was lost since the back-fill was aligned (aligned_lost) and no lost line
 * is half seen. Returns 1 when the stream keeps lines again. */
int ei_joblog_recover(ei_joblog *s);

/* The queue, inline: it is read for every event. */
static inline size_t ei_joblog_queued(const ei_joblog *s)
{
	return ei_joblog_ev_end(s) - s->ev_head;
}

/* Bytes of text the queue holds: from its first event's line, or the partial line. */
static inline size_t ei_joblog_bytes(const ei_joblog *s)
{
	return s->text.len - (s->ev_head < ei_joblog_ev_end(s) ? ei_joblog_events(s)[s->ev_head].off : s->line);
}

/* The next event, or NULL; valid until the next call to any function above. */
static inline const ei_sev *ei_joblog_peek(const ei_joblog *s)
{
	return s->ev_head < ei_joblog_ev_end(s) ? &ei_joblog_events(s)[s->ev_head] : NULL;
}

static inline void ei_joblog_pop(ei_joblog *s)
{
	if (s->ev_head < ei_joblog_ev_end(s))
		s->ev_head++;
	if (s->ev_head == ei_joblog_ev_end(s))
		s->ev_head = s->events.len = 0;
}

static inline const char *ei_joblog_text(const ei_joblog *s, const ei_sev *e)
{
	return s->text.p + e->off;
}

/* Give back the memory of an empty queue beyond a small reserve (a job may stay
 * quiet long after a burst, and each of many jobs may have had one). */
void ei_joblog_trim(ei_joblog *s);

/* `Epoch N/M` (N >= 0, M > 0). */
int ei_line_progress(const char *line, size_t len, int64_t *epoch, int64_t *epochs);

/* Iterate the `name: number` pairs of a Keras epoch summary
 * (`62/62 - 1s - loss: 0.71 - accuracy: 0.78`). Start with *pos = 0; returns 1
 * per pair, 0 at the end. A line is a summary when its first segment is a
 * finished step counter N/N and it has at least one pair. */
typedef struct {
	const char *name, *value;
	size_t name_len, value_len;
} ei_metric;
int ei_line_is_metrics(const char *line, size_t len);
int ei_line_metric_next(const char *line, size_t len, size_t *pos, ei_metric *m);

/* nan, inf, infinity (any case, signed) and decimal numbers. */
int ei_metric_number(const char *p, size_t n);

#endif
