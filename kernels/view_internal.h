/*
 * view_internal.h — checks on strided (B, L, W) views shared by the kernels' argument
 * validators (kernels/scan.c, kernels/conv.c). A view is a pointer to element (0, 0, 0), a
 * batch stride and a token stride in elements (either sign), and a contiguous last dimension
 * of width W. Private to kernels/.
 */
#ifndef LS_VIEW_INTERNAL_H
#define LS_VIEW_INTERNAL_H

#include <stdint.h>

/** |x| for int64_t without overflow on INT64_MIN (returns -1 then: treated as overflow). */
static inline int64_t view_abs(int64_t x) {
    if (x == INT64_MIN) return -1;
    return x < 0 ? -x : x;
}

/**
 * Span in elements covered by the view, (B−1)·|sb| + (L−1)·|sl| + W, or -1 when it does not
 * fit in an int64_t (then no offset inside the view can be computed safely).
 */
static inline int64_t view_span(int64_t nb, int64_t nl, int64_t w, int64_t sb, int64_t sl) {
    int64_t ab = view_abs(sb), al = view_abs(sl), x, y, s;
    if (ab < 0 || al < 0) return -1;
    if (__builtin_mul_overflow(nb - 1, ab, &x) || __builtin_mul_overflow(nl - 1, al, &y) ||
        __builtin_add_overflow(x, y, &s) || __builtin_add_overflow(s, w, &s))
        return -1;
    return s;
}

/**
 * 1 when no two elements of the view share an address (an output may be written by several
 * threads without races), 0 otherwise. Dimensions of size 1 do not count; the two others
 * must nest: the smaller stride >= W, the larger >= the smaller's extent. Assumes view_span
 * succeeded.
 */
static inline int view_disjoint(int64_t nb, int64_t nl, int64_t w, int64_t sb, int64_t sl) {
    int64_t n1 = nl, s1 = nl > 1 ? view_abs(sl) : 0;
    int64_t n2 = nb, s2 = nb > 1 ? view_abs(sb) : 0;
    if (s1 > s2) {
        int64_t tn = n1, ts = s1;
        n1 = n2, s1 = s2, n2 = tn, s2 = ts;
    }
    if (n1 > 1 && s1 < w) return 0;
    int64_t inner = n1 > 1 ? (n1 - 1) * s1 + w : w;
    if (n2 > 1 && s2 < inner) return 0;
    return 1;
}

#endif
