/* Matrix products that skip the zeros of their left operand: droplab's "gated" products.
 *
 * After ReLU and dropout most entries of a hidden layer's activations (and of the gradients that
 * flow back through the same gates) are exactly zero: 70-80% in the chapter's MLP at p = 0.5.
 * C = beta * C + alpha * A @ B then needs only A's nonzeros. ``nz_rows`` lists them row by row;
 * ``gated_mm`` multiplies the lists by the dense B.
 *
 * Layout of the work: C's columns are cut into chunks of CH floats kept in NACC vector registers
 * while one row's nonzeros stream past (one load of B per multiply-add); B's chunk of columns
 * (K x CH) stays in the core's L2 cache across rows. Work items (chunk, block of rows) are split
 * over OpenMP threads; every entry of C is summed by one thread in the same order whatever the
 * thread count, so results do not depend on it.
 *
 * Built by droplab.backends.torch.fast.gated with the machine's C compiler; with -fopenmp it shares
 * the OpenMP runtime that PyTorch has already loaded (libgomp.so.1), so torch.set_num_threads
 * sets its thread count too. gated_xla.cc (JAX) calls the *_range functions on XLA's threads.
 * Each term runs at about half the dense GEMM's rate, so with 25-30% nonzeros the product takes
 * about half the dense one's time (docs/benchmarks.md has the measurements).
 */
#include <stdint.h>

#include "gated.h"

#define VW 8            /* floats per vector (AVX2 width; split into halves where narrower) */
#define NACC 8          /* vector accumulators per chunk */
#define CH (NACC * VW)  /* columns per chunk */
#define PREFETCH 4      /* nonzeros ahead whose rows of B are prefetched */

typedef float vf __attribute__((vector_size(VW * 4), aligned(4)));

#define NONZERO(x) ((x) != 0.0f)
GATED_LIST_NONZEROS(list_row, float, NONZERO)

/* Rows m0 <= m < m1 of A (M x K; element (m, k) at A[m * rs + k * cs], so a transposed view
 * works too): row m's cnt[m] nonzeros as column indices idx[m * K + t], values val[m * K + t]. */
void nz_rows_range(int m0, int m1, int K, const float *A, int64_t rs, int64_t cs, int32_t *cnt,
                   int32_t *idx, float *val) {
    for (int m = m0; m < m1; m++)
        cnt[m] = list_row(K, A + (int64_t)m * rs, cs, idx + (int64_t)m * K, val + (int64_t)m * K);
}

/* The work items of an (M x N) product cut into `blocks` blocks of rows: chunks * blocks. */
int gated_mm_items(int M, int N, int blocks) { return gated_items(M, N, CH, blocks); }

/* Work items w0 <= w < w1 of
 *   C[m, :N] = beta * C[m, :N] + alpha * sum_t val[m, t] * B[idx[m, t], :N]
 * (beta == 0 overwrites C, whatever it held). B: row stride ldb; C: row stride ldc. Item w is
 * chunk w / blocks of the columns for block w % blocks of the rows. */
void gated_mm_range(int w0, int w1, int blocks, int M, int N, int K, const int32_t *cnt,
                    const int32_t *idx, const float *val, const float *B, int64_t ldb, float *C,
                    int64_t ldc, float alpha, float beta) {
    blocks = gated_blocks(blocks, M);
    for (int w = w0; w < w1; w++) {
        gated_item_t it = gated_item(w, blocks, M, N, CH);
        int j0 = it.j0, width = it.width;
        for (int m = it.m0; m < it.m1; m++) {
            const int32_t *ix = idx + (int64_t)m * K;
            const float *vv = val + (int64_t)m * K;
            int n = cnt[m];
            float *c = C + (int64_t)m * ldc + j0;
            if (width == CH) {
                vf acc[NACC];
                for (int a = 0; a < NACC; a++) acc[a] = (vf){0};
                for (int t = 0; t < n; t++) {
                    const float *b = B + (int64_t)ix[t] * ldb + j0;
                    int ahead = t + PREFETCH < n ? t + PREFETCH : t;
                    const char *pf = (const char *)(B + (int64_t)ix[ahead] * ldb + j0);
                    for (int q = 0; q < CH * 4; q += 64) __builtin_prefetch(pf + q);
                    vf s = (vf){0} + vv[t];
#pragma GCC unroll 8
                    for (int a = 0; a < NACC; a++) acc[a] += s * *(const vf *)(b + a * VW);
                }
                for (int a = 0; a < NACC; a++) {
                    vf *cp = (vf *)(c + a * VW);
                    *cp = beta == 0.0f ? alpha * acc[a] : beta * *cp + alpha * acc[a];
                }
            } else {  /* the last, narrower chunk */
                float acc[CH];
                for (int j = 0; j < width; j++) acc[j] = 0.0f;
                for (int t = 0; t < n; t++) {
                    const float *b = B + (int64_t)ix[t] * ldb + j0;
                    float s = vv[t];
                    for (int j = 0; j < width; j++) acc[j] += s * b[j];
                }
                for (int j = 0; j < width; j++)
                    c[j] = beta == 0.0f ? alpha * acc[j] : beta * c[j] + alpha * acc[j];
            }
        }
    }
}

DROPLAB_ERROR_GETTER(gated_error)

/* nz_rows_range over all rows, split over OpenMP threads. */
static void nz_rows(int M, int K, const float *A, int64_t rs, int64_t cs, int32_t *cnt, int32_t *idx,
             float *val) {
#pragma omp parallel for schedule(static)
    for (int m = 0; m < M; m++) nz_rows_range(m, m + 1, K, A, rs, cs, cnt, idx, val);
}

/* The whole product, its work items split over OpenMP threads. */
static void gated_mm(int M, int N, int K, const int32_t *cnt, const int32_t *idx, const float *val,
              const float *B, int64_t ldb, float *C, int64_t ldc, float alpha, float beta) {
    int blocks = gated_max_threads();
    int items = gated_mm_items(M, N, blocks);
#pragma omp parallel for schedule(static)
    for (int w = 0; w < items; w++)
        gated_mm_range(w, w + 1, blocks, M, N, K, cnt, idx, val, B, ldb, C, ldc, alpha, beta);
}

/* The entry point for Python: C = beta * C + alpha * A @ B over A's nonzeros, after checking
 * every size. A (M x K) any nonnegative strides; B (K x N) and C (M x N) contiguous rows; the
 * scratch: cnt M ints, idx and val M * K each. (The *_range functions above are gated_xla.cc's,
 * which checks its operands itself.) Returns 0, or -1 with gated_error() naming the argument. */
int gated_product(int M, int K, int64_t rs, int64_t cs, const float *A, int64_t b_rows, int N,
                  int64_t ldb, const float *B, int64_t c_rows, int64_t c_cols, int64_t ldc,
                  float *C, float alpha, float beta, int64_t ncnt, int32_t *cnt, int64_t nidx,
                  int32_t *idx, float *val) {
    DROPLAB_TRY(gated_check_operands(M, K, rs, cs, b_rows, N, ldb));
    DROPLAB_TRY(droplab_shape("out", c_rows, c_cols, ldc, M, N, 0));
    DROPLAB_TRY(gated_check_scratch(M, K, ncnt, nidx, (int64_t)M * K, "M * K entries"));
    nz_rows(M, K, A, rs, cs, cnt, idx, val);
    gated_mm(M, N, K, cnt, idx, val, B, ldb, C, ldc, alpha, beta);
    return 0;
}
