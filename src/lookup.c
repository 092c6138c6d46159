/* Look-ups in the generated descriptors (lookup.h): binary searches over sorted records. */
#include <string.h>

#include "lookup.h"

const char *const ei_kind_names[EI_K_COUNT] = {
	"any", "boolean", "integer", "number", "string", "array", "object", "union",
};

const char *const ei_method_names[] = {
	"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS",
};

/* Binary search over n records of the given size whose first member is an ei_str. */
static const void *bsearch_str(const char *key, size_t len, const void *base, size_t n, size_t size)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const void *rec = (const char *)base + mid * size;
		ei_str s;
		memcpy(&s, rec, sizeof s);
		int c = ei_cmp_bytes(key, len, EI_POOL(s), EI_STR_LEN(s));
		if (c == 0)
			return rec;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int ei_spec_find_schema(const char *name, size_t len)
{
	const struct ei_named *n = bsearch_str(name, len, ei_spec.names, ei_spec.nnames, sizeof *n);
	return n ? n->schema : -1;
}

const struct ei_op *ei_spec_find_op(const char *id, size_t len)
{
	return bsearch_str(id, len, ei_spec.ops, ei_spec.nops, sizeof(struct ei_op));
}

const struct ei_param *ei_spec_find_param(const struct ei_op *op, const char *name, size_t len)
{
	return bsearch_str(name, len, &ei_spec.params[op->params], op->nparams, sizeof(struct ei_param));
}
