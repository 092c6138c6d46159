/* Aligning a job's stored log with what its stream kept and lost.
 *
 * The stored log (`…/stdout/download`) is the same log as the stream's, but it
 * may end its lines with CRLF, hold a line the stream never carried, or cut its
 * text elsewhere: lines are compared, not bytes. No Lua here. */
#ifndef EI_BACKFILL_H
#define EI_BACKFILL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const char *anchor; /* the last line delivered, or NULL when none was */
	size_t anchor_len;
	uint64_t anchor_index; /* its number in the stream, from 0 */
	int to_end;	       /* the job finished: everything after the anchor */
	uint64_t end_hash;     /* otherwise up to the last line lost: its hash, */
	size_t end_len;	       /* length */
	uint64_t end_index;    /* and number in the stream */
} ei_backfill_marks;

typedef struct {
	size_t from, to; /* the lines to deliver: text[from, to) */
	int complete;	 /* `to` is past the last line lost, or at the log's end */
} ei_backfill_span;

ei_backfill_span ei_backfill_align(const char *text, size_t len, const ei_backfill_marks *m);

#endif
