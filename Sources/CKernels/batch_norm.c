// Batch normalization's passes over (M, C) rows, AVX-512 (call only when ck_has_avx512vl() is 1),
// optionally with the ReLU after it: Sources/Kernels/BatchNormKernels.swift's loops, 16 channels
// a vector. Every operation is the Swift code's, in its order — per-channel sums over the rows in
// order, in double; the elementwise formulas in float, each operation rounded, no FMA — so the bits
// are the same; only the vector width differs (the Swift builds for baseline x86-64's 4 floats and
// 2 doubles). With `relu`, the forward stores max(0, y) and the backward reads dy only where y > 0:
// the same bits as a separate activation layer. The backward finds where y > 0 by normalizing x
// again (the forward's operations, so the same values) rather than reading y: the passes are bound
// by memory, and y was a third of what the sums read and a quarter of the gradient pass's traffic.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl,avx512dq")))

static inline __mmask16 lanes16(int w) { return w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << w) - 1); }

WIDE void ck_bn_sums(const float *x, long m, int c, int c0, int w, const double *mean, double *sums) {
    const __mmask16 k = lanes16(w);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    const __m512d mlo = mean ? _mm512_loadu_pd(mean) : _mm512_setzero_pd();
    const __m512d mhi = mean ? _mm512_loadu_pd(mean + 8) : _mm512_setzero_pd();
    for (long r = 0; r < m; r++) {
        const __m512 v = _mm512_maskz_loadu_ps(k, x + r * c + c0);
        __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        __m512d b = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        if (mean) {
            a = _mm512_sub_pd(a, mlo), b = _mm512_sub_pd(b, mhi);
            a = _mm512_mul_pd(a, a), b = _mm512_mul_pd(b, b);
        }
        lo = _mm512_add_pd(lo, a), hi = _mm512_add_pd(hi, b);
    }
    _mm512_storeu_pd(sums, lo);
    _mm512_storeu_pd(sums + 8, hi);
}

WIDE void ck_bn_normalize(const float *x, float *y, long rows, int c, const float *mean, const float *scale,
                          const float *offset, int relu) {
    for (long r = 0; r < rows; r++)
        for (int j = 0; j < c; j += 16) {
            const __mmask16 k = lanes16(c - j);
            __m512 v = _mm512_maskz_loadu_ps(k, x + r * c + j);
            v = _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(v, _mm512_maskz_loadu_ps(k, mean + j)),
                                            _mm512_maskz_loadu_ps(k, scale + j)),
                              _mm512_maskz_loadu_ps(k, offset + j));                    // (x − μ)·k + β
            if (relu) v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v,
                                               _mm512_setzero_ps());                   // y < 0 ? 0 : y
            _mm512_mask_storeu_ps(y + r * c + j, k, v);
        }
}

/// (x − μ)·k + β as ck_bn_normalize computes it: the same operations, so the same value.
static inline WIDE __m512 normalized(__m512 x, __m512 mean, __m512 scale, __m512 offset) {
    return _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(x, mean), scale), offset);
}

/// g = dy, and with `relu` dy where the forward stored y > 0: where its normalized value, computed
/// again from x, is > 0 (y is that value where it is ≥ 0 and 0 elsewhere, NaN where it is NaN), so
/// y need not be read.
static inline WIDE __m512 gradient(const float *dy, __m512 x, __m512 mean, __m512 scale, __m512 offset,
                                   __mmask16 k, int relu) {
    if (!relu) return _mm512_maskz_loadu_ps(k, dy);
    const __mmask16 positive = _mm512_cmp_ps_mask(normalized(x, mean, scale, offset), _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_maskz_loadu_ps(k & positive, dy);
}

WIDE void ck_bn_backward_sums(const float *x, const float *dy, long m, int c, int c0, int w, const float *mean,
                              const float *inverseStd, const float *scale, const float *offset, int relu,
                              double *sumDy, double *sumDyXhat) {
    const __mmask16 k = lanes16(w);
    const __m512 mu = _mm512_maskz_loadu_ps(k, mean + c0), s = _mm512_maskz_loadu_ps(k, inverseStd + c0);
    const __m512 kk = _mm512_maskz_loadu_ps(k, scale + c0), b = _mm512_maskz_loadu_ps(k, offset + c0);
    __m512d dlo = _mm512_setzero_pd(), dhi = _mm512_setzero_pd(), xlo = _mm512_setzero_pd(), xhi = _mm512_setzero_pd();
    for (long r = 0; r < m; r++) {
        const long at = r * c + c0;
        const __m512 xv = _mm512_maskz_loadu_ps(k, x + at);
        const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(xv, mu), s);
        const __m512 g = gradient(dy + at, xv, mu, kk, b, k, relu);
        const __m512d glo = _mm512_cvtps_pd(_mm512_castps512_ps256(g));
        const __m512d ghi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(g), 1)));
        const __m512d hlo = _mm512_cvtps_pd(_mm512_castps512_ps256(xhat));
        const __m512d hhi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xhat), 1)));
        dlo = _mm512_add_pd(dlo, glo), dhi = _mm512_add_pd(dhi, ghi);
        xlo = _mm512_add_pd(xlo, _mm512_mul_pd(glo, hlo)), xhi = _mm512_add_pd(xhi, _mm512_mul_pd(ghi, hhi));
    }
    _mm512_storeu_pd(sumDy, dlo);
    _mm512_storeu_pd(sumDy + 8, dhi);
    _mm512_storeu_pd(sumDyXhat, xlo);
    _mm512_storeu_pd(sumDyXhat + 8, xhi);
}

WIDE void ck_bn_input_gradient(const float *x, const float *dy, float *dx, long rows, int c, const float *mean,
                               const float *inverseStd, const float *scale, const float *offset, const float *meanDy,
                               const float *meanDyXhat, int batchStatistics, int relu) {
    for (long r = 0; r < rows; r++)
        for (int j = 0; j < c; j += 16) {
            const __mmask16 k = lanes16(c - j);
            const long at = r * c + j;
            const __m512 xv = _mm512_maskz_loadu_ps(k, x + at), mu = _mm512_maskz_loadu_ps(k, mean + j);
            const __m512 kk = _mm512_maskz_loadu_ps(k, scale + j);
            const __m512 g = gradient(dy + at, xv, mu, kk, _mm512_maskz_loadu_ps(k, offset + j), k, relu);
            __m512 out;
            if (batchStatistics) {
                const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(xv, mu), _mm512_maskz_loadu_ps(k, inverseStd + j));
                const __m512 inner = _mm512_sub_ps(_mm512_sub_ps(g, _mm512_maskz_loadu_ps(k, meanDy + j)),
                                                   _mm512_mul_ps(xhat, _mm512_maskz_loadu_ps(k, meanDyXhat + j)));
                out = _mm512_mul_ps(kk, inner);                       // k·(dy − Σdy/M − x̂·Σdy·x̂/M)
            } else {
                out = _mm512_mul_ps(kk, g);                           // k·dy
            }
            _mm512_mask_storeu_ps(dx + at, k, out);
        }
}

#endif
