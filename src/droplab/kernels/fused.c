/* The elementwise parts of droplab's hand-written training step, fused: droplab's "fused" kernels.
 *
 * Around its eight matrix products the chapter's MLP step does ~25 small passes over (batch,
 * hidden) tensors: ReLU, the dropout multiply, softmax and the loss, the gradient gates and their
 * scales, the bias sums, the SGD update and (mixed precision) the weights' cast. As PyTorch ops
 * each pays dispatch and, with several threads, a fork/join around ~65k elements of work: a
 * large share of a step on a small CPU. Here they are a few passes:
 *
 *   relu_drop     D = relu(Z) * (0 or scale), the keep decisions read from droplab's random lanes
 *   logits        the narrow output layer's product (ten outputs: a GEMM call costs more)
 *   softmax_xent  loss += sum(logsumexp(z) - z[y]); G = softmax(z) - onehot(y); bias sums of G
 *   out_back      the output layer's backward: the gated gradient it sends down, its weight
 *                 gradient and the bias sums, in one pass
 *   gate          E = (D > 0 ? E * g : 0); bias sums of E
 *   sgd           W = beta * W + alpha * G per segment of one flat buffer; and its bfloat16 copy
 *   gather_rows   a minibatch's rows of X (and y) by index
 *
 * Each exists for float32 (_f32) and bfloat16 (_bf16, stored as uint16, computed in float32 and
 * rounded to nearest even, as PyTorch rounds), so results equal those of the PyTorch ops they
 * replace: bit for bit for relu_drop, gate and the products' inputs; within float32 rounding for
 * the softmax (libm's expf/logf vs PyTorch's vectorised ones) and the sums (their order).
 *
 * Lanes (droplab.backends.lanes): element i of a call is decided by the bits-wide lane i of the
 * call's random bytes (low bits first); kept when the lane >= t; 16-bit lanes are read as signed
 * int16 and compared with t - 32768, as PyTorch does.
 *
 * Work is split over OpenMP threads by rows or by column chunks, never across a sum, so results
 * do not depend on the thread count. Built like gated.c (droplab.kernels), sharing PyTorch's
 * OpenMP runtime.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

DROPLAB_ERROR_GETTER(fused_error)

/* The output layer kernels' most outputs (logits, out_back); Python reads it (fused_out_max). */
#define OUT_MAX 16
int fused_out_max(void) { return OUT_MAX; }
#define STR_(x) #x
#define STR(x) STR_(x)

/* The lanes of relu_drop: width b in 1, 2, 4, 8, 16 bits, threshold 0 <= t <= 2^b, and enough
 * bytes for n lanes. */
static int check_lanes(int64_t n, int64_t bits_bytes, int b, int t) {
    if (n < 0) return droplab_invalid("Z", "a tensor", "Z with %lld elements", (long long)n);
    if (b != 1 && b != 2 && b != 4 && b != 8 && b != 16)
        return droplab_invalid("bits", "lanes of 1, 2, 4, 8 or 16 bits", "b=%d", b);
    if (t < 0 || t > (1 << b))
        return droplab_invalid("bits", "a threshold in [0, 2**b]", "t=%d with b=%d", t, b);
    if (bits_bytes < (n * b + 7) / 8)
        return droplab_invalid("bits", "at least one lane per element of Z",
                               "%lld bytes for %lld elements of %d bits", (long long)bits_bytes,
                               (long long)n, b);
    return 0;
}

typedef float vf __attribute__((vector_size(32), aligned(4)));
typedef uint32_t vu __attribute__((vector_size(32), aligned(4)));
typedef uint16_t vh __attribute__((vector_size(16), aligned(2)));

static inline float bf2f(uint16_t h) {
    union { uint32_t u; float f; } v = {.u = (uint32_t)h << 16};
    return v.f;
}

static inline uint16_t f2bf(float f) {
    union { float f; uint32_t u; } v = {.f = f};
    if ((v.u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  /* NaN */
    return (uint16_t)((v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16);
}

static inline vf vbf2f(vh h) {
    vu u = __builtin_convertvector(h, vu) << 16;
    return (vf)u;
}

static inline vh vf2bf(vf f) {
    vu u = (vu)f;
    vu r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
    vu nan = (vu)((u & 0x7fffffffu) > 0x7f800000u);  /* all ones where NaN */
    r = (r & ~nan) | (0x7fc0u & nan);
    return __builtin_convertvector(r, vh);
}

/* Element i's lane of `bits` (width b in 1, 2, 4, 8, 16) against threshold t. */
static inline int keep_lane(const uint8_t *bits, int64_t i, int b, int t) {
    switch (b) {
    case 16: return (int)((const int16_t *)bits)[i] >= t - 32768;
    case 8: return bits[i] >= t;
    default: {
        int64_t bit = i * b;
        return ((bits[bit >> 3] >> (bit & 7)) & ((1 << b) - 1)) >= t;
    }
    }
}

static const int CHUNK = 4096;  /* elements per OpenMP work item of the flat passes */

/* ---- relu_drop: Z (n elements, in place) <- relu(Z) * (lane kept ? scale : 0) ---------------- */

#define RELU_DROP(T, SUF, LOAD8, STORE8, TOF, FROMF)                                              \
    int relu_drop_##SUF(int64_t n, T *z, const uint8_t *bits, int64_t bits_bytes, int b, int t, \
                        float scale) {                                                          \
        DROPLAB_TRY(check_lanes(n, bits_bytes, b, t));                                           \
        int64_t items = (n + CHUNK - 1) / CHUNK;                                                 \
        _Pragma("omp parallel for schedule(static)")                                             \
        for (int64_t w = 0; w < items; w++) {                                                    \
            int64_t i0 = w * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n, i = i0;                \
            if (b == 1 && t == 1) { /* p = 0.5: one bit per element, a byte per 8 elements */    \
                for (; i + 8 <= i1; i += 8) {                                                    \
                    uint8_t m = bits[i >> 3];                                                    \
                    vu lane = ((vu){m, m, m, m, m, m, m, m} >> (vu){0, 1, 2, 3, 4, 5, 6, 7}) & 1u; \
                    vf x = LOAD8(z + i);                                                         \
                    vf kept = x * scale;                                                         \
                    vu on = (vu)(lane != 0u) & (vu)(x > 0.0f);                                   \
                    STORE8(z + i, (vf)((vu)kept & on));                                          \
                }                                                                                \
            }                                                                                    \
            for (; i < i1; i++) {                                                                \
                float x = TOF(z[i]);                                                             \
                z[i] = FROMF(x > 0.0f && keep_lane(bits, i, b, t) ? x * scale : 0.0f);           \
            }                                                                                    \
        }                                                                                        \
        return 0;                                                                                \
    }

/* ---- relu: Z <- relu(Z) (a layer without dropout) ------------------------------------------- */

#define RELU(T, SUF, TOF, FROMF)                                                                  \
    int relu_##SUF(int64_t n, T *z) {                                                            \
        if (n < 0) return droplab_invalid("Z", "a tensor", "Z with %lld elements", (long long)n); \
        _Pragma("omp parallel for schedule(static)")                                             \
        for (int64_t i = 0; i < n; i++) {                                                        \
            float x = TOF(z[i]);                                                                 \
            z[i] = FROMF(x > 0.0f ? x : 0.0f);                                                   \
        }                                                                                        \
        return 0;                                                                                \
    }

/* ---- softmax_xent ------------------------------------------------------------------------------
 * z (B, C) logits; y (B,) labels. *loss += sum_b (logsumexp(z_b) - z_b[y_b]) (float32, summed in
 * double within the batch); g (B, C) <- softmax(z) - onehot(y), rounded to T; bias (C,) <-
 * bias_beta * bias + bias_alpha * sum_b g (of the rounded values, summed in float32). */

#define SOFTMAX_XENT(T, SUF, TOF, FROMF)                                                          \
    int softmax_xent_##SUF(int B, int C, int64_t ldz, const T *z, int64_t ny, const int64_t *y, \
                           int64_t g_rows, int64_t g_cols, int64_t ldg, T *g, float *loss,     \
                           int64_t nbias, T *bias, float bias_beta, float bias_alpha) {        \
        if (B < 0 || C < 1)                                                                      \
            return droplab_invalid("Z", "a (batch, classes) tensor with classes >= 1",           \
                                   "Z.shape=(%d, %d)", B, C);                                    \
        DROPLAB_TRY(droplab_shape("Z", B, C, ldz, B, C, 0));                                     \
        DROPLAB_TRY(droplab_length("labels", ny, B));                                            \
        DROPLAB_TRY(droplab_shape("G", g_rows, g_cols, ldg, B, C, 0));                           \
        if (bias) DROPLAB_TRY(droplab_length("bias", nbias, C));                                 \
        DROPLAB_TRY(droplab_labels("labels", y, B, C));                                          \
        float *sums = malloc(2 * (size_t)C * sizeof(float)), *ex = sums + C;                     \
        if (!sums) return droplab_invalid("Z", "classes that fit in memory", "C=%d", C);        \
        double total = 0.0;                                                                      \
        for (int c = 0; c < C; c++) sums[c] = 0.0f;                                              \
        for (int b = 0; b < B; b++) {                                                            \
            const T *zb = z + (int64_t)b * C;                                                    \
            T *gb = g + (int64_t)b * C;                                                          \
            float m = -INFINITY;                                                                 \
            for (int c = 0; c < C; c++) m = fmaxf(m, TOF(zb[c]));                                \
            float s = 0.0f;                                                                      \
            for (int c = 0; c < C; c++) s += (ex[c] = expf(TOF(zb[c]) - m));                     \
            float inv = 1.0f / s;                                                                \
            int label = (int)y[b];                                                               \
            total += (double)(logf(s) - (TOF(zb[label]) - m));                                   \
            for (int c = 0; c < C; c++) {                                                        \
                float p = ex[c] * inv - (c == label ? 1.0f : 0.0f);                              \
                gb[c] = FROMF(p);                                                                \
                sums[c] += TOF(gb[c]);                                                           \
            }                                                                                    \
        }                                                                                        \
        *loss += (float)total;                                                                   \
        if (bias)                                                                                \
            for (int c = 0; c < C; c++)                                                          \
                bias[c] = FROMF(bias_beta == 0.0f ? bias_alpha * sums[c]                         \
                                : bias_beta * TOF(bias[c]) + bias_alpha * sums[c]);              \
        free(sums);                                                                              \
        return 0;                                                                                \
    }

/* ---- gate: E (B, H) <- (D > 0 ? E * g : 0); bias (H,) <- bias_beta * bias + bias_alpha * sum_b E
 * (bias_beta 0: bias's old values are ignored). */

#define GATE(T, SUF, LOAD8, STORE8, TOF, FROMF, RND8)                                             \
    int gate_##SUF(int B, int H, int64_t lde, T *e, int64_t d_rows, int64_t d_cols, int64_t ldd, \
                   const T *d, float g, int64_t nbias, T *bias, float bias_beta,               \
                   float bias_alpha) {                                                         \
        if (B < 0 || H < 0) return droplab_invalid("E", "a 2-D tensor", "E.shape=(%d, %d)", B, H); \
        DROPLAB_TRY(droplab_shape("E", B, H, lde, B, H, 0));                                     \
        DROPLAB_TRY(droplab_shape("D", d_rows, d_cols, ldd, B, H, 0));                           \
        if (bias) DROPLAB_TRY(droplab_length("bias", nbias, H));                                 \
        int chunks = (H + 63) / 64;                                                              \
        _Pragma("omp parallel for schedule(static)")                                             \
        for (int w = 0; w < chunks; w++) {                                                       \
            int j0 = w * 64, width = H - j0 < 64 ? H - j0 : 64;                                  \
            float acc[64] __attribute__((aligned(32)));                                          \
            if (width == 64) { /* the sums in registers */                                       \
                vf va[8];                                                                        \
                for (int a = 0; a < 8; a++) va[a] = (vf){0};                                     \
                for (int b = 0; b < B; b++) {                                                    \
                    T *er = e + (int64_t)b * H + j0;                                             \
                    const T *dr = d + (int64_t)b * H + j0;                                       \
                    _Pragma("GCC unroll 8")                                                      \
                    for (int a = 0; a < 8; a++) {                                                \
                        vf x = LOAD8(er + 8 * a) * g;                                            \
                        x = (vf)((vu)x & (vu)(LOAD8(dr + 8 * a) > 0.0f));                        \
                        STORE8(er + 8 * a, x);                                                   \
                        va[a] += RND8(x);                                                        \
                    }                                                                            \
                }                                                                                \
                for (int a = 0; a < 8; a++) *(vf *)(acc + 8 * a) = va[a];                        \
            } else {                                                                             \
                for (int j = 0; j < width; j++) acc[j] = 0.0f;                                   \
                for (int b = 0; b < B; b++) {                                                    \
                    T *er = e + (int64_t)b * H + j0;                                             \
                    const T *dr = d + (int64_t)b * H + j0;                                       \
                    for (int j = 0; j < width; j++) {                                            \
                        T r = FROMF(TOF(dr[j]) > 0.0f ? TOF(er[j]) * g : 0.0f);                  \
                        er[j] = r;                                                               \
                        acc[j] += TOF(r);                                                        \
                    }                                                                            \
                }                                                                                \
            }                                                                                    \
            if (bias)                                                                            \
                for (int j = 0; j < width; j++)                                                  \
                    bias[j0 + j] = FROMF(bias_beta == 0.0f ? bias_alpha * acc[j]                 \
                                         : bias_beta * TOF(bias[j0 + j]) + bias_alpha * acc[j]); \
        }                                                                                        \
        return 0;                                                                                \
    }

/* ---- the output layer (C outputs, a few: 10): two passes instead of three tiny GEMMs ---------
 * logits: z (B, C) <- T(alpha * d @ w.T + bias); d (B, H), w (C, H), C <= 16. Rows split over
 * threads; each row's C dot products run as C independent vector sums.
 * out_back, for the gradient G (B, C) at the logits:
 *   e (B, H) <- gate(T(G @ w), d, g), i.e. T(T(G @ w) * g) where d > 0, else 0 (as `gate`);
 *   ebias (H,) <- sum_b e;  gw (C, H) <- T(sum_b G[b, c] * d[b, :]).
 * Column chunks of 64 split over threads; every sum runs over b in order. */
#define OUTPUT(T, SUF, LOAD8, STORE8, TOF, FROMF, RND8)                                           \
    int logits_##SUF(int B, int H, int64_t ldd, const T *d, int64_t C, int64_t w_cols,          \
                     int64_t ldw, const T *w, int64_t nbias, const T *bias, float alpha,        \
                     int64_t z_rows, int64_t z_cols, int64_t ldz, T *z) {                       \
        if (B < 0 || H < 8 || H % 8)                                                             \
            return droplab_invalid("D", "a (batch, hidden) tensor with hidden a multiple of 8",  \
                                   "D.shape=(%d, %d)", B, H);                                    \
        DROPLAB_TRY(droplab_shape("D", B, H, ldd, B, H, 0));                                     \
        if (C < 1 || C > OUT_MAX)                                                                \
            return droplab_invalid("W", "1 to " STR(OUT_MAX) " output rows",                       \
                                   "W.shape=(%lld, %lld)", (long long)C, (long long)w_cols);     \
        DROPLAB_TRY(droplab_shape("W", C, w_cols, ldw, C, H, 0));                                \
        DROPLAB_TRY(droplab_length("bias", nbias, C));                                           \
        DROPLAB_TRY(droplab_shape("out", z_rows, z_cols, ldz, B, C, 0));                         \
        /* w in float32, zero rows up to OUT_MAX: a fixed count of sums stays in registers */    \
        float *wf = malloc((size_t)OUT_MAX * (size_t)H * sizeof(float));                         \
        if (!wf) return droplab_invalid("D", "a width that fits in memory", "H=%d", H);         \
        for (int64_t i = 0; i < (int64_t)OUT_MAX * H; i++)                                       \
            wf[i] = i < (int64_t)C * H ? TOF(w[i]) : 0.0f;                                       \
        _Pragma("omp parallel")                                                                  \
        {                                                                                        \
            _Pragma("omp for schedule(static)")                                                  \
            for (int b = 0; b < B; b++) {                                                        \
                const T *db = d + (int64_t)b * H;                                                \
                vf acc[OUT_MAX];                                                                 \
                for (int c = 0; c < OUT_MAX; c++) acc[c] = (vf){0};                              \
                for (int j = 0; j < H; j += 8) {                                                 \
                    vf x = LOAD8(db + j);                                                        \
                    _Pragma("GCC unroll 16")                                                     \
                    for (int c = 0; c < OUT_MAX; c++) acc[c] += x * *(const vf *)(wf + c * H + j); \
                }                                                                                \
                for (int c = 0; c < C; c++) {                                                    \
                    float s = 0.0f;                                                              \
                    for (int q = 0; q < 8; q++) s += acc[c][q];                                  \
                    z[(int64_t)b * C + c] = FROMF(alpha * s + TOF(bias[c]));                     \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        free(wf);                                                                                \
        return 0;                                                                                \
    }                                                                                            \
                                                                                                 \
    int out_back_##SUF(int B, int C, int64_t ldG, const T *G, int64_t w_rows, int64_t H,        \
                       int64_t ldw, const T *w, int64_t d_rows, int64_t d_cols, int64_t ldd,    \
                       const T *d, float g, int64_t e_rows, int64_t e_cols, int64_t lde, T *e, \
                       int64_t nebias, T *ebias, int64_t gw_rows, int64_t gw_cols, int64_t ldgw, \
                       T *gw) {                                                                 \
        if (B < 0 || C < 1 || C > OUT_MAX)                                                       \
            return droplab_invalid("G", "a (batch, outputs) tensor with 1 to " STR(OUT_MAX) \
                                   " outputs", "G.shape=(%d, %d)", B, C);                       \
        DROPLAB_TRY(droplab_shape("G", B, C, ldG, B, C, 0));                                     \
        if (H < 64 || H % 64)                                                                    \
            return droplab_invalid("W", "a hidden width that is a multiple of 64",              \
                                   "W.shape=(%lld, %lld)", (long long)w_rows, (long long)H);     \
        DROPLAB_TRY(droplab_shape("W", w_rows, H, ldw, C, H, 0));                                \
        DROPLAB_TRY(droplab_shape("D", d_rows, d_cols, ldd, B, H, 0));                           \
        DROPLAB_TRY(droplab_shape("E", e_rows, e_cols, lde, B, H, 0));                           \
        if (ebias) DROPLAB_TRY(droplab_length("E_bias", nebias, H));                             \
        DROPLAB_TRY(droplab_shape("gW", gw_rows, gw_cols, ldgw, C, H, 0));                       \
        int chunks = H / 64;                                                                     \
        _Pragma("omp parallel for schedule(static)")                                             \
        for (int q = 0; q < chunks; q++) {                                                       \
            int j0 = q * 64;                                                                     \
            vf wv[OUT_MAX][8], sums[8];                                                          \
            for (int c = 0; c < C; c++)                                                          \
                for (int a = 0; a < 8; a++) wv[c][a] = LOAD8(w + (int64_t)c * H + j0 + 8 * a);  \
            for (int a = 0; a < 8; a++) sums[a] = (vf){0};                                       \
            for (int b = 0; b < B; b++) {                                                        \
                const T *Gb = G + (int64_t)b * C;                                                \
                const T *dr = d + (int64_t)b * H + j0;                                           \
                T *er = e + (int64_t)b * H + j0;                                                 \
                vf acc[8];                                                                       \
                for (int a = 0; a < 8; a++) acc[a] = (vf){0};                                    \
                for (int c = 0; c < C; c++) {                                                    \
                    float gc = TOF(Gb[c]);                                                       \
                    _Pragma("GCC unroll 8")                                                      \
                    for (int a = 0; a < 8; a++) acc[a] += gc * wv[c][a];                         \
                }                                                                                \
                _Pragma("GCC unroll 8")                                                          \
                for (int a = 0; a < 8; a++) {                                                    \
                    vf x = RND8(acc[a]) * g;                                                     \
                    x = (vf)((vu)x & (vu)(LOAD8(dr + 8 * a) > 0.0f));                            \
                    STORE8(er + 8 * a, x);                                                       \
                    sums[a] += RND8(x);                                                          \
                }                                                                                \
            }                                                                                    \
            if (ebias)                                                                           \
                for (int a = 0; a < 8; a++) STORE8(ebias + j0 + 8 * a, sums[a]);                 \
            for (int c = 0; c < C; c++) { /* gw's row c: sum_b G[b, c] * d[b, chunk] */          \
                vf acc[8];                                                                       \
                for (int a = 0; a < 8; a++) acc[a] = (vf){0};                                    \
                for (int b = 0; b < B; b++) {                                                    \
                    float gc = TOF(G[(int64_t)b * C + c]);                                       \
                    const T *dr = d + (int64_t)b * H + j0;                                       \
                    _Pragma("GCC unroll 8")                                                      \
                    for (int a = 0; a < 8; a++) acc[a] += gc * LOAD8(dr + 8 * a);                \
                }                                                                                \
                for (int a = 0; a < 8; a++) STORE8(gw + (int64_t)c * H + j0 + 8 * a, acc[a]);    \
            }                                                                                    \
        }                                                                                        \
        return 0;                                                                                \
    }

/* ---- gather_rows: dst[r] = src[idx[r]] (rows of `row_bytes`), ydst[r] = ysrc[idx[r]] -------- */

int gather_rows(int64_t rows, const int64_t *idx, int64_t src_rows, int64_t row_bytes,
                int64_t src_ld, const uint8_t *src, int64_t dst_rows, int64_t dst_row_bytes,
                int64_t dst_ld, uint8_t *dst, int64_t ysrc_n, const int64_t *ysrc, int64_t ydst_n,
                int64_t *ydst) {
    if (rows < 0 || rows > dst_rows)
        return droplab_invalid("out", "at least as many rows as indices",
                               "out with %lld rows for %lld indices", (long long)dst_rows,
                               (long long)rows);
    if (dst_row_bytes != row_bytes)
        return droplab_invalid("out", "rows of the source's width", "%lld bytes a row, not %lld",
                               (long long)dst_row_bytes, (long long)row_bytes);
    if (src_ld != row_bytes && src_rows > 1)
        return droplab_invalid("src", "contiguous rows", "a row stride of %lld bytes for rows of %lld",
                               (long long)src_ld, (long long)row_bytes);
    if (dst_ld != row_bytes && dst_rows > 1)
        return droplab_invalid("out", "contiguous rows", "a row stride of %lld bytes for rows of %lld",
                               (long long)dst_ld, (long long)row_bytes);
    if ((ysrc == NULL) != (ydst == NULL))
        return droplab_invalid("ysrc", "given together with yout", "only one of them");
    if (ysrc) {
        DROPLAB_TRY(droplab_length("ysrc", ysrc_n, src_rows));
        if (ydst_n < rows)
            return droplab_invalid("yout", "at least as many elements as indices",
                                   "yout with %lld elements for %lld indices", (long long)ydst_n,
                                   (long long)rows);
    }
    DROPLAB_TRY(droplab_labels("idx", idx, rows, src_rows));
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        memcpy(dst + (int64_t)r * row_bytes, src + idx[r] * row_bytes, (size_t)row_bytes);
        if (ysrc) ydst[r] = ysrc[idx[r]];
    }
    return 0;
}

/* ---- sgd: for each segment s, w[o_s:o_{s+1}] = beta_s * w + alpha_s * grad; low = T(w) ------
 * w: float32 master weights; grad: T; low (may be NULL): the weights rounded to T. */

#define SGD(T, SUF, LOAD8, STORE8, TOF, FROMF)                                                    \
    int sgd_##SUF(int segments, const int64_t *offsets, int64_t noffsets, const float *beta,    \
                  int64_t nalpha, const float *alpha, int64_t nw, float *w, int64_t ngrad,     \
                  const T *grad, int64_t nlow, T *low) {                                       \
        if (segments < 1)                                                                        \
            return droplab_invalid("beta", "at least one segment", "%d segments", segments);     \
        DROPLAB_TRY(droplab_length("offsets", noffsets, (int64_t)segments + 1));                 \
        DROPLAB_TRY(droplab_length("alpha", nalpha, segments));                                  \
        if (offsets[0] != 0)                                                                     \
            return droplab_invalid("offsets", "offsets[0]=0", "offsets[0]=%lld",                 \
                                   (long long)offsets[0]);                                       \
        for (int s = 0; s < segments; s++)                                                       \
            if (offsets[s + 1] < offsets[s])                                                     \
                return droplab_invalid("offsets", "nondecreasing offsets",                       \
                                       "offsets[%d]=%lld", s + 1, (long long)offsets[s + 1]);    \
        DROPLAB_TRY(droplab_length("W", nw, offsets[segments]));                                 \
        DROPLAB_TRY(droplab_length("G", ngrad, nw));                                             \
        if (low) DROPLAB_TRY(droplab_length("low", nlow, nw));                                   \
        int64_t n = offsets[segments];                                                           \
        int64_t items = (n + CHUNK - 1) / CHUNK;                                                 \
        _Pragma("omp parallel for schedule(static)")                                             \
        for (int64_t it = 0; it < items; it++) {                                                 \
            int64_t i0 = it * CHUNK, i1 = i0 + CHUNK < n ? i0 + CHUNK : n;                       \
            for (int s = 0; s < segments; s++) {                                                 \
                int64_t a = offsets[s] > i0 ? offsets[s] : i0;                                   \
                int64_t z = offsets[s + 1] < i1 ? offsets[s + 1] : i1;                           \
                float be = beta[s], al = alpha[s];                                               \
                int64_t i = a;                                                                   \
                for (; i + 8 <= z; i += 8) {                                                     \
                    vf x = *(const vf *)(w + i) * be + LOAD8(grad + i) * al;                     \
                    *(vf *)(w + i) = x;                                                          \
                    if (low) STORE8(low + i, x);                                                 \
                }                                                                                \
                for (; i < z; i++) {                                                             \
                    w[i] = be * w[i] + al * TOF(grad[i]);                                        \
                    if (low) low[i] = FROMF(w[i]);                                               \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        return 0;                                                                                \
    }

/* float32 and bfloat16 instances */
#define ID(x) (x)
#define LOADF(p) (*(const vf *)(p))
#define STOREF(p, x) (*(vf *)(p) = (x))
#define LOADH(p) vbf2f(*(const vh *)(p))
#define STOREH(p, x) (*(vh *)(p) = vf2bf(x))
#define RNDH(x) vbf2f(vf2bf(x))

RELU_DROP(float, f32, LOADF, STOREF, ID, ID)
RELU_DROP(uint16_t, bf16, LOADH, STOREH, bf2f, f2bf)
RELU(float, f32, ID, ID)
RELU(uint16_t, bf16, bf2f, f2bf)
SOFTMAX_XENT(float, f32, ID, ID)
SOFTMAX_XENT(uint16_t, bf16, bf2f, f2bf)
GATE(float, f32, LOADF, STOREF, ID, ID, ID)
GATE(uint16_t, bf16, LOADH, STOREH, bf2f, f2bf, RNDH)
SGD(float, f32, LOADF, STOREF, ID, ID)
OUTPUT(float, f32, LOADF, STOREF, ID, ID, ID)
SGD(uint16_t, bf16, LOADH, STOREH, bf2f, f2bf)
OUTPUT(uint16_t, bf16, LOADH, STOREH, bf2f, f2bf, RNDH)
