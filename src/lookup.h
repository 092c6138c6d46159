/* Look-ups in the generated descriptors (spec.h): schemas by name, operations by id,
 * an operation's parameters and an object's properties by name. Names are compared as
 * bytes; every table searched is sorted that way by the generator. */
#ifndef EI_LOOKUP_H
#define EI_LOOKUP_H

#include "spec.h"

/* The names of enum ei_kind and enum ei_method, as messages and descriptions give them. */
extern const char *const ei_kind_names[EI_K_COUNT];
extern const char *const ei_method_names[];

/* Byte order; an inline loop, as the names compared are short. */
static inline int ei_cmp_bytes(const char *a, size_t an, const char *b, size_t bn)
{
	size_t n = an < bn ? an : bn;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
	return (an > bn) - (an < bn);
}

/* The property named key of an object schema, or NULL: the hot look-up of the
 * validator, typed rather than through the generic search. */
static inline const struct ei_prop *ei_spec_find_prop(const struct ei_schema *s, const char *key, size_t len)
{
	const struct ei_prop *p = &ei_spec.props[s->first];
	size_t lo = 0, hi = s->count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = ei_cmp_bytes(key, len, EI_POOL(p[mid].name), EI_STR_LEN(p[mid].name));
		if (c == 0)
			return &p[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Index of the named schema, or -1. */
int ei_spec_find_schema(const char *name, size_t len);

/* The operation with this id, or NULL. */
const struct ei_op *ei_spec_find_op(const char *id, size_t len);

/* The operation's parameter of this name, or NULL. */
const struct ei_param *ei_spec_find_param(const struct ei_op *op, const char *name, size_t len);

#endif
