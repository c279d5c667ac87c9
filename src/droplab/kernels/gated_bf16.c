/* Gated products in bfloat16: C = T(alpha * A @ B + bias) over the nonzeros of A only.
 *
 * The bfloat16 twin of gated.c, for PyTorch's mixed-precision step: after ReLU and dropout at
 * p = 0.5, 70-80% of a hidden layer's activations (and of the gradients sent back through them)
 * are exactly zero, and oneDNN's dense bfloat16 products multiply them all the same. Here each
 * row of A is listed as pairs of nonzeros, and one AVX512_BF16 instruction (vdpbf16ps) adds both
 * terms of a pair to 16 float32 sums: the pair's values broadcast against two rows of B
 * interleaved word by word (vpunpck{l,h}wd; the lanes come out permuted, and are put back in
 * order once, at the store). Products of bfloat16 numbers are exact in float32 and sums are
 * float32, as in oneDNN's products (which use the same instruction); the result is rounded to
 * bfloat16 (nearest even) or, for a float32 C, kept.
 *
 * Layout: C's columns in chunks of 64 (four 16-lane sums per row); B's chunk, 64 columns of K
 * rows, stays in the core's L1/L2 cache while A's rows stream past. Work items (chunk, block of
 * rows) are split over OpenMP threads; each entry of C is summed by one thread in one order, so
 * results do not depend on the thread count. Without AVX512_BF16 at compile time the functions
 * exist but gated_bf16_supported() is 0 and droplab uses oneDNN's products.
 */
#include <stdint.h>
#include <string.h>

#include "gated.h"

#if defined(__AVX512BF16__) && defined(__AVX512BW__) && defined(__AVX512F__)
#include <immintrin.h>
#define HAVE_BF16 1
#else
#define HAVE_BF16 0
#endif

DROPLAB_ERROR_GETTER(gated_bf16_error)

int gated_bf16_supported(void) { return HAVE_BF16; }

/* Scratch for the pairs of an M x K operand: cnt M ints, idx and val M * stride each. */
int64_t gated_bf16_stride(int K) { return K + 1 + (K + 1) % 2; }

/* A's nonzeros, row by row: row m's cnt[m] (even: a zero pads an odd count) column indices at
 * idx[m * stride + t] and values at val[m * stride + t], stride = gated_bf16_stride(K), so that
 * pair s's two values are one 32-bit word (low half first). -0.0 counts as a zero. */
static inline void pad_pair(int32_t *ix, uint16_t *vv, int32_t *n) {
    if (*n & 1) {  /* a zero term on row 0 of B */
        ix[*n] = 0;
        vv[*n] = 0;
        (*n)++;
    }
}

#define NONZERO(x) (((x) & 0x7fff) != 0)
GATED_LIST_NONZEROS(list_row, uint16_t, NONZERO)

/* Rows m0 <= m < m1 of A (element (m, k) at A[m * rs + k * cs]), one element at a time. */
static void pairs_any(int m0, int m1, int K, const uint16_t *A, int64_t rs, int64_t cs,
                      int64_t stride, int32_t *cnt, int32_t *idx, uint16_t *val) {
    for (int m = m0; m < m1; m++) {
        int32_t *ix = idx + (int64_t)m * stride;
        uint16_t *vv = val + (int64_t)m * stride;
        int32_t n = list_row(K, A + (int64_t)m * rs, cs, ix, vv);
        pad_pair(ix, vv, &n);
        cnt[m] = n;
    }
}

#if HAVE_BF16 && defined(__AVX512VBMI2__)
/* Contiguous rows (cs == 1): 32 elements at a time, kept ones packed by vpcompress. */
static void pairs_rows(int m0, int m1, int K, const uint16_t *A, int64_t rs, int64_t stride,
                       int32_t *cnt, int32_t *idx, uint16_t *val) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i magnitude = _mm512_set1_epi16(0x7fff);
    for (int m = m0; m < m1; m++) {
        const uint16_t *a = A + (int64_t)m * rs;
        int32_t *ix = idx + (int64_t)m * stride;
        uint16_t *vv = val + (int64_t)m * stride;
        int32_t n = 0;
        for (int k0 = 0; k0 < K; k0 += 32) {
            int w = K - k0 < 32 ? K - k0 : 32;
            __mmask32 in = w == 32 ? 0xffffffffu : (1u << w) - 1;
            __m512i x = _mm512_maskz_loadu_epi16(in, a + k0);
            __mmask32 nz = _mm512_mask_test_epi16_mask(in, x, magnitude);
            int c = __builtin_popcount(nz);
            _mm512_mask_storeu_epi16(vv + n, c == 32 ? 0xffffffffu : (1u << c) - 1,
                                     _mm512_maskz_compress_epi16(nz, x));
            __mmask16 lo = (__mmask16)nz, hi = (__mmask16)(nz >> 16);
            int cl = __builtin_popcount(lo), ch = c - cl;
            __m512i k = _mm512_add_epi32(_mm512_set1_epi32(k0), iota);
            _mm512_mask_storeu_epi32(ix + n, (__mmask16)((1u << cl) - 1),
                                     _mm512_maskz_compress_epi32(lo, k));
            _mm512_mask_storeu_epi32(ix + n + cl, (__mmask16)((1u << ch) - 1),
                                     _mm512_maskz_compress_epi32(hi, _mm512_add_epi32(
                                         k, _mm512_set1_epi32(16))));
            n += c;
        }
        pad_pair(ix, vv, &n);
        cnt[m] = n;
    }
}
#endif

/* Rows mb <= m < mb + 32 of a transposed view (rs == 1: A's row m is column m of a row-major
 * matrix of row stride cs): each k reads the 32 rows' elements at once, and appends the
 * nonzeros to their rows' lists. */
static void pairs_cols(int mb, int M, int K, const uint16_t *A, int64_t cs, int64_t stride,
                       int32_t *cnt, int32_t *idx, uint16_t *val) {
    int rows = M - mb < 32 ? M - mb : 32;
    int32_t n[32] = {0};
    for (int k = 0; k < K; k++) {
        const uint16_t *p = A + (int64_t)k * cs + mb;
        uint32_t nz = 0;
#if HAVE_BF16
        __mmask32 in = rows == 32 ? 0xffffffffu : (1u << rows) - 1;
        nz = _mm512_mask_test_epi16_mask(in, _mm512_maskz_loadu_epi16(in, p),
                                         _mm512_set1_epi16(0x7fff));
#else
        for (int j = 0; j < rows; j++) nz |= (uint32_t)((p[j] & 0x7fff) != 0) << j;
#endif
        while (nz) {
            int j = __builtin_ctz(nz);
            nz &= nz - 1;
            int64_t at = (int64_t)(mb + j) * stride + n[j]++;
            idx[at] = k;
            val[at] = p[j];
        }
    }
    for (int j = 0; j < rows; j++) {
        pad_pair(idx + (int64_t)(mb + j) * stride, val + (int64_t)(mb + j) * stride, &n[j]);
        cnt[mb + j] = n[j];
    }
}

#if HAVE_BF16
/* One row's 64-column chunk (width w <= 64 columns of it valid): the four 16-lane sums. */
static inline void row_chunk(int n, const int32_t *ix, const uint16_t *vv, const uint16_t *B,
                             int64_t ldb, int j0, int w, __m512 acc[4]) {
    __mmask32 m0 = w >= 32 ? 0xffffffffu : (w <= 0 ? 0 : (__mmask32)((1ull << w) - 1));
    int w1 = w - 32;
    __mmask32 m1 = w1 >= 32 ? 0xffffffffu : (w1 <= 0 ? 0 : (__mmask32)((1ull << w1) - 1));
    const uint32_t *pv = (const uint32_t *)vv;
    /* Two pairs at a time into two sets of sums: eight independent chains of vdpbf16ps. */
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    __m512 u0 = s0, u1 = s0, u2 = s0, u3 = s0;
#define PAIR(T0, A0, A1, A2, A3)                                                                  \
    {                                                                                            \
        const uint16_t *r0 = B + (int64_t)ix[T0] * ldb + j0;                                     \
        const uint16_t *r1 = B + (int64_t)ix[T0 + 1] * ldb + j0;                                 \
        __m512i a0 = _mm512_maskz_loadu_epi16(m0, r0), b0 = _mm512_maskz_loadu_epi16(m0, r1);    \
        __m512i a1 = _mm512_maskz_loadu_epi16(m1, r0 + 32);                                      \
        __m512i b1 = _mm512_maskz_loadu_epi16(m1, r1 + 32);                                      \
        __m512bh v = (__m512bh)_mm512_set1_epi32((int)pv[(T0) >> 1]);                           \
        A0 = _mm512_dpbf16_ps(A0, v, (__m512bh)_mm512_unpacklo_epi16(a0, b0));                   \
        A1 = _mm512_dpbf16_ps(A1, v, (__m512bh)_mm512_unpackhi_epi16(a0, b0));                   \
        A2 = _mm512_dpbf16_ps(A2, v, (__m512bh)_mm512_unpacklo_epi16(a1, b1));                   \
        A3 = _mm512_dpbf16_ps(A3, v, (__m512bh)_mm512_unpackhi_epi16(a1, b1));                   \
    }
    int t = 0;
    for (; t + 4 <= n; t += 4) {
        PAIR(t, s0, s1, s2, s3)
        PAIR(t + 2, u0, u1, u2, u3)
    }
    if (t < n) PAIR(t, s0, s1, s2, s3)
#undef PAIR
    acc[0] = _mm512_add_ps(s0, u0);
    acc[1] = _mm512_add_ps(s1, u1);
    acc[2] = _mm512_add_ps(s2, u2);
    acc[3] = _mm512_add_ps(s3, u3);
}

/* Put lanes back in column order: unpacklo holds columns {0-3, 8-11, 16-19, 24-27} of its 32,
 * unpackhi {4-7, 12-15, 20-23, 28-31}. */
static inline void in_order(__m512 lo, __m512 hi, __m512 *first, __m512 *second) {
    const __m512i p0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    const __m512i p1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29,
                                         30, 31);
    *first = _mm512_permutex2var_ps(lo, p0, hi);
    *second = _mm512_permutex2var_ps(lo, p1, hi);
}

static inline __m256i to_bf16(__m512 x) {  /* round to nearest even, as PyTorch rounds */
    return (__m256i)_mm512_cvtneps_pbh(x);
}
#endif

/* The chunk's 64 outputs of row m: out = alpha * acc + bias[j] (bias may be NULL), stored as
 * bfloat16 (c16) or float32 (c32, then beta * c32 + ... with beta != 0). */
#if HAVE_BF16
static inline void store_row(__m512 acc[4], int w, float alpha, const uint16_t *bias,
                             uint16_t *c16, float *c32, float beta) {
    __m512 out[4];
    in_order(acc[0], acc[1], &out[0], &out[1]);
    in_order(acc[2], acc[3], &out[2], &out[3]);
    __m512 va = _mm512_set1_ps(alpha);
    for (int q = 0; q < 4; q++) {
        int wq = w - 16 * q;
        if (wq <= 0) break;
        __mmask16 mk = wq >= 16 ? 0xffff : (__mmask16)((1u << wq) - 1);
        __m512 x = _mm512_mul_ps(va, out[q]);
        if (bias) {
            __m256i b = _mm256_maskz_loadu_epi16(mk, bias + 16 * q);
            __m512i wide = _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16);
            x = _mm512_add_ps(x, _mm512_castsi512_ps(wide));
        }
        if (c16) {
            _mm256_mask_storeu_epi16(c16 + 16 * q, mk, to_bf16(x));
        } else {
            if (beta != 0.0f)
                x = _mm512_fmadd_ps(_mm512_set1_ps(beta),
                                    _mm512_maskz_loadu_ps(mk, c32 + 16 * q), x);
            _mm512_mask_storeu_ps(c32 + 16 * q, mk, x);
        }
    }
}
#endif

/* Work items w0 <= w < w1 of C (M x N) = alpha * A @ B + bias, A given by its pairs. Item w is
 * chunk w / blocks of the columns for block w % blocks of the rows. c16 (bfloat16, row stride
 * ldc) or c32 (float32; beta * c32 + ...). */
static void mm_range(int w0, int w1, int blocks, int M, int N, int K, const int32_t *cnt,
                     const int32_t *idx, const uint16_t *val, const uint16_t *B, int64_t ldb,
                     const uint16_t *bias, float alpha, uint16_t *c16, float *c32, float beta,
                     int64_t ldc) {
#if HAVE_BF16
    int64_t stride = gated_bf16_stride(K);
    for (int w = w0; w < w1; w++) {
        gated_item_t it = gated_item(w, blocks, M, N, 64);
        int j0 = it.j0, width = it.width;
        for (int m = it.m0; m < it.m1; m++) {
            __m512 acc[4];
            row_chunk(cnt[m], idx + (int64_t)m * stride, val + (int64_t)m * stride, B, ldb, j0,
                      width, acc);
            store_row(acc, width, alpha, bias ? bias + j0 : NULL,
                      c16 ? c16 + (int64_t)m * ldc + j0 : NULL,
                      c32 ? c32 + (int64_t)m * ldc + j0 : NULL, beta);
        }
    }
#else
    (void)w0; (void)w1; (void)blocks; (void)M; (void)N; (void)K; (void)cnt; (void)idx;
    (void)val; (void)B; (void)ldb; (void)bias; (void)alpha; (void)c16; (void)c32; (void)beta;
    (void)ldc;
#endif
}


/* The pairs of rows m0 <= m < m1 (m0 a multiple of 32 where A is a transposed view, rs == 1):
 * for callers that split the work over their own threads (gated_xla.cc). */
void gated_bf16_pairs_range(int m0, int m1, int K, const uint16_t *A, int64_t rs, int64_t cs,
                            int32_t *cnt, int32_t *idx, uint16_t *val) {
    int64_t stride = gated_bf16_stride(K);
    if (cs == 1) {
#if HAVE_BF16 && defined(__AVX512VBMI2__)
        pairs_rows(m0, m1, K, A, rs, stride, cnt, idx, val);
#else
        pairs_any(m0, m1, K, A, rs, 1, stride, cnt, idx, val);
#endif
    } else if (rs == 1) {
        for (int mb = m0; mb < m1; mb += 32) pairs_cols(mb, m1, K, A, cs, stride, cnt, idx, val);
    } else {
        pairs_any(m0, m1, K, A, rs, cs, stride, cnt, idx, val);
    }
}

/* The work items of an (M x N) product cut into `blocks` blocks of rows, and items w0 <= w < w1
 * of it (see mm_range). */
int gated_bf16_items(int M, int N, int blocks) { return gated_items(M, N, 64, blocks); }

void gated_bf16_mm_range(int w0, int w1, int blocks, int M, int N, int K, const int32_t *cnt,
                         const int32_t *idx, const uint16_t *val, const uint16_t *B, int64_t ldb,
                         const uint16_t *bias, float alpha, uint16_t *c16, float *c32, float beta,
                         int64_t ldc) {
    mm_range(w0, w1, gated_blocks(blocks, M), M, N, K, cnt, idx, val, B, ldb, bias, alpha, c16, c32, beta, ldc);
}

/* C = alpha * A @ B (+ bias) over A's nonzeros; A (M x K) any nonnegative strides, B (K x N)
 * contiguous rows, C (M x N) contiguous rows: bfloat16 c16, or float32 c32 (beta * c32 + ...);
 * bias N or NULL; the scratch: cnt M ints, idx and val M * gated_bf16_stride(K) each.
 * Returns 0, or -1 with gated_bf16_error() saying which argument is wrong. */
int gated_bf16_mm(int M, int K, int64_t rs, int64_t cs, const uint16_t *A, int64_t b_rows, int N,
                  int64_t ldb, const uint16_t *B, int64_t nbias, const uint16_t *bias,
                  float alpha, int64_t c_rows, int64_t c_cols, int64_t ldc, uint16_t *c16,
                  float *c32, float beta, int64_t ncnt, int32_t *cnt, int64_t nidx, int32_t *idx,
                  uint16_t *val) {
    DROPLAB_TRY(gated_check_operands(M, K, rs, cs, b_rows, N, ldb));
    if ((c16 == NULL) == (c32 == NULL))
        return droplab_invalid("out", "one output (bfloat16 or float32)", "%s",
                               c16 ? "two" : "none");
    DROPLAB_TRY(droplab_shape("out", c_rows, c_cols, ldc, M, N, 0));
    if (bias) DROPLAB_TRY(droplab_length("bias", nbias, N));
    DROPLAB_TRY(gated_check_scratch(M, K, ncnt, nidx, (int64_t)M * gated_bf16_stride(K),
                                    "M * gated_bf16_stride(K) entries"));
    int blocks = gated_blocks(gated_max_threads(), M);
    int items = gated_items(M, N, 64, blocks);
#pragma omp parallel
    {
        int64_t stride = gated_bf16_stride(K);
        if (cs == 1) {
#pragma omp for schedule(static)
            for (int m = 0; m < M; m++)
#if HAVE_BF16 && defined(__AVX512VBMI2__)
                pairs_rows(m, m + 1, K, A, rs, stride, cnt, idx, val);
#else
                pairs_any(m, m + 1, K, A, rs, 1, stride, cnt, idx, val);
#endif
        } else if (rs == 1) {
#pragma omp for schedule(static)
            for (int mb = 0; mb < M; mb += 32) pairs_cols(mb, M, K, A, cs, stride, cnt, idx, val);
        } else {
#pragma omp for schedule(static)
            for (int m = 0; m < M; m++) pairs_any(m, m + 1, K, A, rs, cs, stride, cnt, idx, val);
        }
#pragma omp for schedule(static)
        for (int w = 0; w < items; w++)
            mm_range(w, w + 1, blocks, M, N, K, cnt, idx, val, B, ldb, bias, alpha, c16, c32,
                     beta, ldc);
    }
    return 0;
}
