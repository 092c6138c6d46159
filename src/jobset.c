/* The jobs of one socket (jobset.h).
 *
 * Flow control is per job. A job over its bound stops keeping lines (joblog.c,
 * "Overflow") and the socket reads on for the others; only a job alone on its
 * socket pauses reading instead, since no other job waits. Over the socket's
 * total bound, the jobs holding most let go of their queues until a quarter of
 * the bound is free again. Reading paused for a job alone goes on once it is
 * half read, or as soon as another job shares the socket (the first then
 * overflows instead). */
#include <stdlib.h>
#include <string.h>

#include "jobset.h"

void ei_jobset_init(ei_jobset *js, ei_jobset_limits limits)
{
	memset(js, 0, sizeof *js);
	js->limits = limits;
}

void ei_jobset_free(ei_jobset *js)
{
	for (size_t i = 0; i < js->n_jobs; i++) {
		ei_joblog_free(js->jobs[i]);
		free(js->jobs[i]);
	}
	free(js->jobs);
	free(js->slots);
	ei_jobset_init(js, js->limits);
}

size_t ei_jobset_count(const ei_jobset *js)
{
	return js->n_jobs;
}

ei_joblog *ei_jobset_at(const ei_jobset *js, size_t i)
{
	return js->jobs[i];
}

size_t ei_jobset_queued(const ei_jobset *js)
{
	return js->queued;
}

size_t ei_jobset_queued_bytes(const ei_jobset *js)
{
	return js->queued_bytes;
}

uint64_t ei_jobset_overflows(const ei_jobset *js)
{
	return js->overflows;
}

/* ---- The index by id --------------------------------------------------- */

static size_t job_slot(int64_t job, size_t n_slots)
{
	return (size_t)(((uint64_t)job * 0x9E3779B97F4A7C15u) >> 32) & (n_slots - 1);
}

ei_joblog *ei_jobset_find(const ei_jobset *js, int64_t job)
{
	if (!js->n_slots)
		return NULL;
	for (size_t i = job_slot(job, js->n_slots);; i = (i + 1) & (js->n_slots - 1))
		if (!js->slots[i] || js->slots[i]->job == job)
			return js->slots[i];
}

static void index_add(ei_jobset *js, ei_joblog *jl)
{
	size_t i = job_slot(jl->job, js->n_slots);
	while (js->slots[i])
		i = (i + 1) & (js->n_slots - 1);
	js->slots[i] = jl;
}

/* Room in the index for one more job. */
static int index_reserve(ei_jobset *js)
{
	if (2 * (js->n_jobs + 1) < js->n_slots)
		return 0;
	size_t n = js->n_slots ? 2 * js->n_slots : 8;
	ei_joblog **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -1;
	free(js->slots);
	js->slots = slots;
	js->n_slots = n;
	for (size_t i = 0; i < js->n_jobs; i++)
		index_add(js, js->jobs[i]);
	return 0;
}

/* Remove a job from the index, moving back the entries its slot displaced. */
static void index_remove(ei_jobset *js, const ei_joblog *jl)
{
	size_t mask = js->n_slots - 1, i = job_slot(jl->job, js->n_slots), j;
	while (js->slots[i] != jl)
		i = (i + 1) & mask;
	for (j = i;;) {
		js->slots[i] = NULL;
		for (;;) {
			j = (j + 1) & mask;
			if (!js->slots[j])
				return;
			size_t k = job_slot(js->slots[j]->job, js->n_slots);
			if (i <= j ? (i >= k || k > j) : (i >= k && k > j))
				break; /* its home is at or before the hole: it moves into it */
		}
		js->slots[i] = js->slots[j];
		i = j;
	}
}

/* ---- Following --------------------------------------------------------- */

static int jobs_reserve(ei_jobset *js)
{
	if (js->n_jobs < js->cap_jobs)
		return 0;
	size_t cap = js->cap_jobs ? js->cap_jobs * 2 : 4;
	ei_joblog **jobs = realloc(js->jobs, cap * sizeof *jobs);
	if (!jobs)
		return -1;
	js->jobs = jobs;
	js->cap_jobs = cap;
	return 0;
}

ei_joblog *ei_jobset_add(ei_jobset *js, int64_t job, size_t max_line)
{
	if (index_reserve(js) < 0 || jobs_reserve(js) < 0)
		return NULL;
	ei_joblog *jl = malloc(sizeof *jl);
	if (!jl)
		return NULL;
	ei_joblog_init(jl, job, max_line);
	js->jobs[js->n_jobs++] = jl;
	index_add(js, jl);
	return jl;
}

void ei_jobset_remove(ei_jobset *js, int64_t job)
{
	ei_joblog *jl = ei_jobset_find(js, job);
	if (!jl)
		return;
	size_t i = 0;
	while (js->jobs[i] != jl)
		i++;
	js->jobs[i] = js->jobs[--js->n_jobs];
	index_remove(js, jl);
	js->queued -= ei_joblog_queued(jl);
	js->queued_bytes -= ei_joblog_bytes(jl);
	ei_joblog_free(jl);
	free(jl);
}

/* ---- Flow -------------------------------------------------------------- */

ei_queue_mark ei_jobset_mark(const ei_joblog *jl)
{
	return (ei_queue_mark){ ei_joblog_queued(jl), ei_joblog_bytes(jl) };
}

void ei_jobset_changed(ei_jobset *js, const ei_joblog *jl, ei_queue_mark before)
{
	js->queued = js->queued - before.events + ei_joblog_queued(jl);
	js->queued_bytes = js->queued_bytes - before.bytes + ei_joblog_bytes(jl);
}

static int over_bound(const ei_jobset *js, const ei_joblog *jl)
{
	return ei_joblog_queued(jl) > js->limits.max_queue || ei_joblog_bytes(jl) > js->limits.max_queue_bytes;
}

static int over_total(const ei_jobset *js, size_t events, size_t bytes)
{
	return events > js->limits.max_total || bytes > js->limits.max_total_bytes;
}

static void overflow(ei_jobset *js, ei_joblog *jl, int let_go)
{
	ei_queue_mark before = ei_jobset_mark(jl);
	if (!jl->overflow)
		js->overflows++;
	if (let_go)
		ei_joblog_let_go(jl);
	else
		ei_joblog_overflow(jl);
	ei_jobset_changed(js, jl, before);
}

static ei_joblog *fullest(const ei_jobset *js)
{
	ei_joblog *best = NULL;
	for (size_t i = 0; i < js->n_jobs; i++)
		if (ei_joblog_queued(js->jobs[i]) && (!best || ei_joblog_bytes(js->jobs[i]) > ei_joblog_bytes(best)))
			best = js->jobs[i];
	return best;
}

/* 1 when reading must pause. */
static int check_total(ei_jobset *js)
{
	if (!over_total(js, js->queued, js->queued_bytes))
		return 0;
	if (js->n_jobs <= 1)
		return 1;
	size_t events = js->limits.max_total / 4, bytes = js->limits.max_total_bytes / 4;
	ei_joblog *jl;
	while (over_total(js, js->queued + events, js->queued_bytes + bytes) && (jl = fullest(js)))
		overflow(js, jl, 1);
	return 0;
}

int ei_jobset_check_flow(ei_jobset *js, ei_joblog *jl)
{
	int pause = 0;
	if (!jl->overflow && over_bound(js, jl)) {
		if (js->n_jobs == 1)
			pause = 1;
		else
			overflow(js, jl, 0);
	}
	return check_total(js) | pause;
}

int ei_jobset_may_resume(ei_jobset *js)
{
	if (js->n_jobs > 1) {
		for (size_t i = 0; i < js->n_jobs; i++)
			if (!js->jobs[i]->overflow && over_bound(js, js->jobs[i]))
				overflow(js, js->jobs[i], 0);
		return 1;
	}
	return !(js->queued > js->limits.max_queue / 2 || js->queued_bytes > js->limits.max_queue_bytes / 2);
}

ei_backfill_span ei_jobset_align(ei_jobset *js, ei_joblog *jl, const char *text, size_t len, const char *anchor,
				 size_t anchor_len, int to_end)
{
	ei_backfill_marks m = { .anchor = anchor, .anchor_len = anchor_len, .to_end = to_end };
	m.anchor_index = jl->lines ? jl->lines - 1 : 0;
	m.end_hash = jl->lost_hash;
	m.end_len = jl->lost_len;
	m.end_index = jl->lines + jl->lost - 1;
	ei_backfill_span span = { 0, 0, 1 };
	if (to_end || (jl->overflow && jl->lost))
		span = ei_backfill_align(text, len, &m);
	ei_queue_mark before = ei_jobset_mark(jl);
	ei_joblog_drop_partial(jl);
	if (to_end)
		ei_joblog_overflow(jl);
	jl->aligned_lost = jl->lost;
	ei_jobset_changed(js, jl, before);
	return span;
}
