/* Aligning a job's stored log with what its stream kept and lost (backfill.h).
 *
 * The start is just after the stored line equal to the last line delivered,
 * taking the occurrence nearest to its number in the stream (a log repeats
 * lines); the difference of the two numbers is how many lines the stored log
 * holds that the stream did not. The end is the line whose hash is the last
 * lost line's, nearest to where that difference puts it. Without a match the
 * numbers alone decide the start, and the back-fill stops at the stored log's
 * last complete line, not complete: the caller fetches again later. */
#include <string.h>

#include "backfill.h"
#include "joblog.h"

typedef struct {
	const char *text;
	size_t len, pos;
	uint64_t index;
	size_t start, n; /* the current line, without its \r\n */
	size_t next;	 /* where the next line starts */
	int complete;	 /* it ends with \n */
} lines;

static int next_line(lines *it)
{
	if (it->pos >= it->len)
		return 0;
	const char *nl = memchr(it->text + it->pos, '\n', it->len - it->pos);
	size_t end = nl ? (size_t)(nl - it->text) : it->len;
	it->start = it->pos;
	it->n = end - it->pos;
	if (it->n && it->text[end - 1] == '\r')
		it->n--;
	it->complete = nl != NULL;
	it->next = nl ? end + 1 : it->len;
	it->pos = it->next;
	return 1;
}

static uint64_t distance(uint64_t a, uint64_t b)
{
	return a > b ? a - b : b - a;
}

/* Where the lines after the anchor start; *index is the first one's number in
 * the stored log, *shift how many more lines the stored log holds before it. */
static size_t find_start(const char *text, size_t len, const ei_backfill_marks *m, uint64_t *index, int64_t *shift)
{
	*index = 0;
	*shift = 0;
	if (!m->anchor)
		return 0;
	lines it = { .text = text, .len = len };
	size_t by_number = len, best_next = 0;
	uint64_t best = UINT64_MAX, i = 0;
	for (; next_line(&it); i++) {
		if (i == m->anchor_index + 1)
			by_number = it.start;
		if (it.n == m->anchor_len && memcmp(text + it.start, m->anchor, it.n) == 0 &&
		    (best == UINT64_MAX || distance(i, m->anchor_index) < distance(best, m->anchor_index))) {
			best = i;
			best_next = it.next;
		}
	}
	if (best == UINT64_MAX) {
		*index = m->anchor_index + 1;
		return by_number;
	}
	*index = best + 1;
	*shift = (int64_t)best - (int64_t)m->anchor_index;
	return best_next;
}

static ei_backfill_span find_end(const char *text, size_t len, size_t from, uint64_t index, int64_t shift,
				 const ei_backfill_marks *m)
{
	ei_backfill_span span = { from, from, 0 };
	lines it = { .text = text, .len = len, .pos = from };
	uint64_t expected = (uint64_t)((int64_t)m->end_index + shift), best = UINT64_MAX;
	for (uint64_t i = index; next_line(&it); i++) {
		if (!it.complete)
			break; /* a running job's log may end in half a line */
		if (!span.complete)
			span.to = it.next;
		if (it.n == m->end_len && ei_line_hash(EI_LINE_HASH_START, text + it.start, it.n) == m->end_hash &&
		    (best == UINT64_MAX || distance(i, expected) < distance(best, expected))) {
			best = i;
			span.to = it.next;
			span.complete = 1;
		}
	}
	return span;
}

ei_backfill_span ei_backfill_align(const char *text, size_t len, const ei_backfill_marks *m)
{
	uint64_t index;
	int64_t shift;
	size_t from = find_start(text, len, m, &index, &shift);
	if (m->to_end)
		return (ei_backfill_span){ from, len, 1 };
	return find_end(text, len, from, index, shift, m);
}
