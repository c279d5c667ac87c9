/* What the gated products share (gated.c in float32, gated_bf16.c in bfloat16): the thread count,
 * how a product is cut into work items, and the listing of a row's nonzeros.
 *
 * A product C (M x N) is cut into chunks of columns (as wide as the kernel's register tile) and
 * `blocks` blocks of rows; work item w is chunk w / blocks for block w % blocks, so every entry
 * of C is summed by one item, in one order, whatever the thread count.
 */
#ifndef DROPLAB_GATED_H
#define DROPLAB_GATED_H
#include <stdint.h>

#include "errors.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenMP's thread count (1 when built without OpenMP). */
static inline int gated_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* `blocks` blocks of rows, at least one and at most one per row of the M. */
static inline int gated_blocks(int blocks, int M) {
    if (blocks > M) blocks = M;
    return blocks < 1 ? 1 : blocks;
}

/* How many work items an (M x N) product has in chunks of `chunk` columns. */
static inline int gated_items(int M, int N, int chunk, int blocks) {
    return ((N + chunk - 1) / chunk) * gated_blocks(blocks, M);
}

/* Work item w's columns j0 <= j < j0 + width and rows m0 <= m < m1 (blocks already clamped). */
typedef struct {
    int j0, width, m0, m1;
} gated_item_t;

static inline gated_item_t gated_item(int w, int blocks, int M, int N, int chunk) {
    int rows = (M + blocks - 1) / blocks;
    gated_item_t it;
    it.j0 = (w / blocks) * chunk;
    it.width = N - it.j0 < chunk ? N - it.j0 : chunk;
    it.m0 = (w % blocks) * rows;
    it.m1 = it.m0 + rows < M ? it.m0 + rows : M;
    return it;
}

/* The checks of both entry points: A (M x K, nonnegative strides) and B (K x N, contiguous
 * rows). Returns 0, or -1 with the message naming the argument (errors.h). */
static inline int gated_check_operands(int M, int K, int64_t rs, int64_t cs, int64_t b_rows, int N,
                                       int64_t ldb) {
    if (M < 0 || K < 1 || rs < 0 || cs < 0)
        return droplab_invalid("A", "a 2-D tensor with nonnegative strides",
                               "A.shape=(%d, %d), A.stride()=(%lld, %lld)", M, K, (long long)rs,
                               (long long)cs);
    if (N < 0) return droplab_invalid("B", "a 2-D tensor", "B with %d columns", N);
    return droplab_shape("B", b_rows, N, ldb, K, N, 0);
}

/* The scratch for A's nonzero lists: ncnt >= M counts and nidx >= need entries (`expected`
 * says how many, in words). */
static inline int gated_check_scratch(int M, int K, int64_t ncnt, int64_t nidx, int64_t need,
                                      const char *expected) {
    if (ncnt < M)
        return droplab_invalid("cnt", "one count per row of A", "%lld counts for %d rows",
                               (long long)ncnt, M);
    if (nidx < need)
        return droplab_invalid("idx", expected, "%lld entries for (%d, %d)", (long long)nidx, M,
                               K);
    return 0;
}

/* `name`(K, a, cs, ix, vv): the nonzeros of one row of K elements of type T (element k at
 * a[k * cs], so a transposed view works too) as column indices ix[0..n) and values vv[0..n);
 * returns n. `nonzero`(x) says which elements count (bfloat16's -0.0 does not). */
#define GATED_LIST_NONZEROS(name, T, nonzero)                                               \
    static inline int32_t name(int K, const T *a, int64_t cs, int32_t *ix, T *vv) {        \
        int32_t n = 0;                                                                      \
        for (int k = 0; k < K; k++) {                                                       \
            T x = a[(int64_t)k * cs];                                                       \
            ix[n] = k;                                                                      \
            vv[n] = x;                                                                      \
            n += nonzero(x);                                                                \
        }                                                                                   \
        return n;                                                                           \
    }

#endif
