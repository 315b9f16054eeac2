// Narrow matrix products, AVX2/FMA (call only when ck_has_avx2_fma() is 1): the products of a
// convolution with few filters (at most 32 columns), z = cols·K and dK = colsᵀ·dz of the pooled
// im2col path (Sources/Kernels/ConvolutionPool.swift). OpenBLAS packs both operands on every
// call, which costs more than the product itself when n is a handful of filters; these keep K
// (zero-padded to whole vectors) in the L1 cache and stream the rows. Each element is summed over
// k (or over the rows) in order from zero, one FMA a term.
#include "ckernels.h"
#include "vec.h"

#if defined(__x86_64__)

/// `R` rows of C from A and the zero-padded B (k × nv·8).
INLINE void narrow_rows(const int R, const int nv, int k, int n, const float *a, const float *bp, float *c,
                        __m256i tail) {
    v8 acc[8][4];
    for (int r = 0; r < R; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = SPLAT(0.0f);
    for (int t = 0; t < k; t++) {
        v8 bv[4];
        for (int v = 0; v < nv; v++) bv[v] = *(const v8 *)(bp + (t * nv + v) * 8);
        for (int r = 0; r < R; r++) {
            const v8 x = SPLAT(a[r * k + t]);
            for (int v = 0; v < nv; v++) acc[r][v] = x * bv[v] + acc[r][v];
        }
    }
    for (int r = 0; r < R; r++) {
        for (int v = 0; v < nv - 1; v++) *(v8u *)(c + r * n + v * 8) = acc[r][v];
        _mm256_maskstore_ps(c + r * n + (nv - 1) * 8, tail, (__m256)acc[r][nv - 1]);
    }
}

INLINE void narrow_all(const int R, const int nv, long rows, int k, int n, const float *a, const float *bp,
                       float *c, __m256i tail) {
    long p = 0;
    for (; p + R <= rows; p += R) narrow_rows(R, nv, k, n, a + p * k, bp, c + p * n, tail);
    for (; p < rows; p++) narrow_rows(1, nv, k, n, a + p * k, bp, c + p * n, tail);
}

AVX void ck_gemm_narrow(long rows, int k, int n, const float *a, const float *b, float *c) {
    const int nv = (n + 7) / 8;
    float bp[4096] __attribute__((aligned(32)));
    for (int t = 0; t < k; t++)
        for (int j = 0; j < nv * 8; j++) bp[t * nv * 8 + j] = j < n ? b[t * n + j] : 0.0f;
    const __m256i tail = lanes_mask(n - (nv - 1) * 8);
    // Rows at a time so that enough independent FMA chains are in flight (8 or 12 accumulators).
    switch (nv) {
    case 1: narrow_all(8, 1, rows, k, n, a, bp, c, tail); break;
    case 2: narrow_all(4, 2, rows, k, n, a, bp, c, tail); break;
    case 3: narrow_all(4, 3, rows, k, n, a, bp, c, tail); break;
    default: narrow_all(3, 4, rows, k, n, a, bp, c, tail); break;
    }
}

/// Taps t0 ..< t0 + T of C = Aᵀ · D: T·nv accumulators, every row added in order.
INLINE void narrow_tn_taps(const int T, const int nv, int t0, long rows, int k, int n, const float *a,
                           const float *d, float *c, __m256i tail) {
    v8 acc[12][4];
    for (int t = 0; t < T; t++)
        for (int v = 0; v < nv; v++) acc[t][v] = SPLAT(0.0f);
    for (long p = 0; p < rows; p++) {
        v8 dv[4];
        for (int v = 0; v < nv - 1; v++) dv[v] = *(const v8u *)(d + p * n + v * 8);
        dv[nv - 1] = (v8)_mm256_maskload_ps(d + p * n + (nv - 1) * 8, tail);
        for (int t = 0; t < T; t++) {
            const v8 x = SPLAT(a[p * k + t0 + t]);
            for (int v = 0; v < nv; v++) acc[t][v] = x * dv[v] + acc[t][v];
        }
    }
    for (int t = 0; t < T; t++) {
        for (int v = 0; v < nv - 1; v++) *(v8u *)(c + (t0 + t) * n + v * 8) = acc[t][v];
        _mm256_maskstore_ps(c + (t0 + t) * n + (nv - 1) * 8, tail, (__m256)acc[t][nv - 1]);
    }
}

INLINE void narrow_tn_all(const int T, const int nv, long rows, int k, int n, const float *a, const float *d,
                          float *c, __m256i tail) {
    int t = 0;
    for (; t + T <= k; t += T) narrow_tn_taps(T, nv, t, rows, k, n, a, d, c, tail);
    for (; t < k; t++) narrow_tn_taps(1, nv, t, rows, k, n, a, d, c, tail);
}

AVX void ck_gemm_narrow_tn(long rows, int k, int n, const float *a, const float *d, float *c) {
    const int nv = (n + 7) / 8;
    const __m256i tail = lanes_mask(n - (nv - 1) * 8);
    // Taps at a time: 12 accumulators (12 independent FMA chains).
    switch (nv) {
    case 1: narrow_tn_all(12, 1, rows, k, n, a, d, c, tail); break;
    case 2: narrow_tn_all(6, 2, rows, k, n, a, d, c, tail); break;
    case 3: narrow_tn_all(4, 3, rows, k, n, a, d, c, tail); break;
    default: narrow_tn_all(3, 4, rows, k, n, a, d, c, tail); break;
    }
}

#endif
