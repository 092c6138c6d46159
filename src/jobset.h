/* The jobs one socket follows: their logs (joblog.h) in the order they were
 * followed and by id, the totals of their queues, and the flow control that
 * keeps those queues bounded. No Lua here, and no connection: the decisions to
 * pause or resume reading are returned to the caller. */
#ifndef EI_JOBSET_H
#define EI_JOBSET_H

#include <stddef.h>
#include <stdint.h>

#include "backfill.h"
#include "joblog.h"

typedef struct {
	size_t max_queue, max_queue_bytes; /* per job */
	size_t max_total, max_total_bytes; /* over all the jobs */
} ei_jobset_limits;

/* Read the fields through the functions below. */
typedef struct {
	ei_jobset_limits limits;
	ei_joblog **jobs; /* in the order they were followed */
	size_t n_jobs, cap_jobs;
	ei_joblog **slots; /* the same jobs by id: open addressing, linear probing */
	size_t n_slots;	   /* a power of two, more than twice n_jobs */
	size_t queued, queued_bytes; /* events and bytes waiting, over all jobs */
	uint64_t overflows;	     /* times a job stopped keeping its lines */
} ei_jobset;

void ei_jobset_init(ei_jobset *js, ei_jobset_limits limits);
void ei_jobset_free(ei_jobset *js);

size_t ei_jobset_count(const ei_jobset *js);
ei_joblog *ei_jobset_at(const ei_jobset *js, size_t i);
ei_joblog *ei_jobset_find(const ei_jobset *js, int64_t job);

/* A new job (not followed yet); NULL when out of memory. */
ei_joblog *ei_jobset_add(ei_jobset *js, int64_t job, size_t max_line);

/* Forget a job and drop its queue; nothing when it is not followed. */
void ei_jobset_remove(ei_jobset *js, int64_t job);

size_t ei_jobset_queued(const ei_jobset *js);
size_t ei_jobset_queued_bytes(const ei_jobset *js);
uint64_t ei_jobset_overflows(const ei_jobset *js);

/* A job's queue before a change, and after it: keeps the totals in step.
 * Every change to a followed job's queue goes between the two. */
typedef struct {
	size_t events, bytes;
} ei_queue_mark;
ei_queue_mark ei_jobset_mark(const ei_joblog *jl);
void ei_jobset_changed(ei_jobset *js, const ei_joblog *jl, ei_queue_mark before);

/* After jl was fed: 1 when reading must pause. */
int ei_jobset_check_flow(ei_jobset *js, ei_joblog *jl);

/* While reading is paused: 1 when it may go on. */
int ei_jobset_may_resume(ei_jobset *js);

/* Align jl's stored log `text` with what jl kept and lost (backfill.h): anchor
 * is the last line delivered (NULL: none), to_end says the job finished. The
 * partial line is dropped (the stored log has it whole); to_end also stops
 * keeping live lines. Called with jl's queue empty. */
ei_backfill_span ei_jobset_align(ei_jobset *js, ei_joblog *jl, const char *text, size_t len, const char *anchor,
				 size_t anchor_len, int to_end);

#endif
