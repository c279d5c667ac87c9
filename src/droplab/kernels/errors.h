/* How droplab's C kernels refuse bad arguments: each entry point that Python calls checks its
 * sizes, strides and labels before touching memory, and on a bad one returns -1 after writing
 * a message in droplab's error template ("Invalid value for `arg`: expected ..., received ...")
 * into this translation unit's thread-local buffer, which the library exports through a getter
 * (DROPLAB_ERROR_GETTER); the Python loaders raise ValueError with that message.
 */
#ifndef DROPLAB_ERRORS_H
#define DROPLAB_ERRORS_H
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

static __thread char droplab_message[512];

/* Write "Invalid value for `arg`: expected <expected>, received <received...>"; returns -1. */
__attribute__((format(printf, 3, 4), unused))
static int droplab_invalid(const char *arg, const char *expected, const char *received, ...) {
    int n = snprintf(droplab_message, sizeof droplab_message,
                     "Invalid value for `%s`: expected %s, received ", arg, expected);
    if (n < 0 || n >= (int)sizeof droplab_message) return -1;
    va_list ap;
    va_start(ap, received);
    vsnprintf(droplab_message + n, sizeof droplab_message - (size_t)n, received, ap);
    va_end(ap);
    return -1;
}

/* A 2-D operand `name` of rows x cols with row stride ld must be (want_rows, want_cols) with
 * contiguous rows (ld == cols, or any ld >= cols where `padded`). */
__attribute__((unused))
static int droplab_shape(const char *name, int64_t rows, int64_t cols, int64_t ld,
                         int64_t want_rows, int64_t want_cols, int padded) {
    if (rows != want_rows || cols != want_cols) {
        char expected[96];
        snprintf(expected, sizeof expected, "shape (%lld, %lld)", (long long)want_rows,
                 (long long)want_cols);
        return droplab_invalid(name, expected, "%s.shape=(%lld, %lld)", name, (long long)rows,
                               (long long)cols);
    }
    if (padded ? ld < cols : (ld != cols && rows > 1))
        return droplab_invalid(name, "contiguous rows (row stride equal to its columns)",
                               "%s.stride(0)=%lld with %lld columns", name, (long long)ld,
                               (long long)cols);
    return 0;
}

/* A 1-D operand `name` of n elements must have want of them. */
__attribute__((unused))
static int droplab_length(const char *name, int64_t n, int64_t want) {
    if (n == want) return 0;
    char expected[64];
    snprintf(expected, sizeof expected, "%lld elements", (long long)want);
    return droplab_invalid(name, expected, "%s with %lld elements", name, (long long)n);
}

/* Labels y[0..n) must lie in [0, classes): O(n), before any output is written. */
__attribute__((unused))
static int droplab_labels(const char *name, const int64_t *y, int64_t n, int64_t classes) {
    for (int64_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= classes) {
            char expected[64];
            snprintf(expected, sizeof expected, "integers in [0, %lld)", (long long)classes);
            return droplab_invalid(name, expected, "%s[%lld]=%lld", name, (long long)i,
                                   (long long)y[i]);
        }
    return 0;
}

#define DROPLAB_ERROR_GETTER(fn) \
    const char *fn(void) { return droplab_message; }

#define DROPLAB_TRY(call)            \
    do {                             \
        if ((call) != 0) return -1;  \
    } while (0)

#endif
