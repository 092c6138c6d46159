/* An operation's call: from an operation of the generated descriptors (spec.h) and a
 * table of named arguments, the path and query, the body and its content type, with
 * every argument checked. */
#ifndef EI_OPERATION_H
#define EI_OPERATION_H

#include <lua.h>

#include "spec.h"

/* Build the call of op from the arguments table at stack index 2. Index 3 holds the
 * table that collects deprecated arguments and fields, index 4 the one that collects
 * unknown fields (used when pass_unknown is set: they pass through as plain JSON;
 * otherwise they are refused). Returns 0 having pushed the path and query, the body
 * (JSON text, the validated table for other content types, or nil) and its content
 * type (or nil); or -1 having pushed "name: reason". */
int ei_operation_build(lua_State *L, const struct ei_op *op, int pass_unknown);

#endif
