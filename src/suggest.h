/* Did-you-mean: the known name closest to a misspelt one, for the messages that refuse
 * an unknown field, enum value, argument, operation or schema. */
#ifndef EI_SUGGEST_H
#define EI_SUGGEST_H

#include <stddef.h>

#include "spec.h"

/* Longest name considered. */
#define EI_SUGGEST_MAX 64

/* Index of the best candidate among n strings for key, or -1. Case and '_'/'-' are
 * ignored first, then edit distance within a threshold. */
int ei_suggest(const char *key, size_t len, const char *(*candidate)(const void *ud, size_t i, size_t *len),
	const void *ud, size_t n);

/* The same among n records of the given size whose first member is an ei_str. */
int ei_suggest_record(const char *key, size_t len, const void *base, size_t n, size_t size);

#endif
