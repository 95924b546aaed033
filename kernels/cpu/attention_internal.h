/*
 * attention_internal.h — what the two CPU attention files share (kernels/cpu/attention.c, the
 * reference, and attention_blocked.c, the fast path): the argument check, so both refuse the
 * same shapes with the same messages. Private to kernels/cpu/.
 */
#ifndef LS_KERNELS_CPU_ATTENTION_INTERNAL_H
#define LS_KERNELS_CPU_ATTENTION_INTERNAL_H

#include "kernels/attention.h"

/** Dimensions, scale, views (no self-overlap) and lengths of @p s; @p fn names the caller in
 *  the message. @return 0, LS_ERR_USAGE or LS_ERR_RANGE. */
int attention_shape_check(const char *fn, const AttentionShape *s) LS_RESULT_USED;

#endif
