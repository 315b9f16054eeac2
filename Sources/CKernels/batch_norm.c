// Batch normalization's passes over (M, C) rows, AVX-512 (call only when ck_has_avx512vl() is 1),
// optionally with the ReLU after it: Sources/Kernels/BatchNormKernels.swift's loops, 16 channels
// a vector. Every operation is the Swift code's, in its order — per-channel sums over a block's
// rows in order, in double (up to 64 channels in one pass over the rows); the elementwise formulas
// in float, each operation rounded, no FMA — so the bits are the same; only the vector width
// differs (the Swift builds for baseline x86-64's 4 floats and 2 doubles). With `relu`, the
// forward stores max(0, y) and the backward reads dy only where y > 0: the same bits as a separate
// activation layer. The backward finds where y > 0 by normalizing x again (the forward's
// operations, so the same values) rather than reading y: the passes are bound by memory, and y was
// a third of what the sums read and a quarter of the gradient pass's traffic.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl,avx512dq")))

static inline __mmask16 lanes16(int w) { return w >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << w) - 1); }

/// The groups of 16 channels c0 ..< c0 + w (w ≤ 64) a statistics chunk sums: `groups` is ⌈w/16⌉,
/// a constant where these are inlined, so the accumulators stay in registers.
#define MAX_GROUPS 4

/// The low and high 8 lanes of 16 floats as doubles.
static inline WIDE __m512d low_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline WIDE __m512d high_pd(__m512 v) {
    return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/// The w doubles of lanes k (16 channels at most) from lo (the first 8) and hi.
static inline WIDE void store_pd(double *out, __mmask16 k, __m512d lo, __m512d hi) {
    _mm512_mask_storeu_pd(out, (__mmask8)(k & 0xff), lo);
    _mm512_mask_storeu_pd(out + 8, (__mmask8)(k >> 8), hi);
}

static inline __attribute__((always_inline)) WIDE void moments(const float *x, long first, long rows, int c, int c0,
                                                               int w, const float *shift, double *sums,
                                                               double *squares, const int groups) {
    __mmask16 k[MAX_GROUPS];
    __m512d klo[MAX_GROUPS], khi[MAX_GROUPS], lo[MAX_GROUPS], hi[MAX_GROUPS], lo2[MAX_GROUPS], hi2[MAX_GROUPS];
    for (int g = 0; g < groups; g++) {
        k[g] = lanes16(w - 16 * g);
        const __m512 first = _mm512_maskz_loadu_ps(k[g], shift + c0 + 16 * g);
        klo[g] = low_pd(first), khi[g] = high_pd(first);
        lo[g] = hi[g] = lo2[g] = hi2[g] = _mm512_setzero_pd();
    }
    for (long r = first; r < first + rows; r++)
        for (int g = 0; g < groups; g++) {
            const __m512 v = _mm512_maskz_loadu_ps(k[g], x + r * c + c0 + 16 * g);
            const __m512d a = _mm512_sub_pd(low_pd(v), klo[g]), b = _mm512_sub_pd(high_pd(v), khi[g]);
            lo[g] = _mm512_add_pd(lo[g], a), hi[g] = _mm512_add_pd(hi[g], b);
            lo2[g] = _mm512_add_pd(lo2[g], _mm512_mul_pd(a, a)), hi2[g] = _mm512_add_pd(hi2[g], _mm512_mul_pd(b, b));
        }
    for (int g = 0; g < groups; g++) {
        store_pd(sums + 16 * g, k[g], lo[g], hi[g]);
        store_pd(squares + 16 * g, k[g], lo2[g], hi2[g]);
    }
}

WIDE void ck_bn_moments(const float *x, long first, long rows, int c, int c0, int w, const float *shift,
                        double *sums, double *squares) {
    switch ((w + 15) / 16) {
    case 1: moments(x, first, rows, c, c0, w, shift, sums, squares, 1); break;
    case 2: moments(x, first, rows, c, c0, w, shift, sums, squares, 2); break;
    case 3: moments(x, first, rows, c, c0, w, shift, sums, squares, 3); break;
    default: moments(x, first, rows, c, c0, w, shift, sums, squares, 4); break;
    }
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

/// The normalized, ReLU'd value of x's 16 (k) channels at `at`, as ck_bn_normalize stores it.
static inline WIDE __m512 activated(const float *x, long at, __mmask16 k, __m512 mean, __m512 scale, __m512 offset) {
    const __m512 v = normalized(_mm512_maskz_loadu_ps(k, x + at), mean, scale, offset);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), v, _mm512_setzero_ps());
}

WIDE void ck_bn_normalize_pool(const float *x, float *y, int *argmax, int images, int height, int width, int c,
                               const float *mean, const float *scale, const float *offset) {
    const int ph = height / 2, pw = width / 2;
    const long line = (long)width * c;
    for (int n = 0; n < images; n++)
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++) {
                const long first = (long)n * height * line + 2L * i * line + 2L * j * c;
                const long out = (((long)n * ph + i) * pw + j) * c;
                for (int q = 0; q < c; q += 16) {
                    const __mmask16 k = lanes16(c - q);
                    const __m512 mu = _mm512_maskz_loadu_ps(k, mean + q), kk = _mm512_maskz_loadu_ps(k, scale + q),
                                 b = _mm512_maskz_loadu_ps(k, offset + q);
                    // The window in scan order; a later element is taken only when larger (ties and
                    // NaN keep the earlier one), as maxPoolForward.
                    __m512 best = activated(x, first + q, k, mu, kk, b);
                    __m512i taken = _mm512_setzero_si512();
                    const long at[3] = {first + c + q, first + line + q, first + line + c + q};
                    for (int p = 0; p < 3; p++) {
                        const __m512 v = activated(x, at[p], k, mu, kk, b);
                        const __mmask16 larger = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
                        best = _mm512_mask_blend_ps(larger, best, v);
                        taken = _mm512_mask_blend_epi32(larger, taken, _mm512_set1_epi32(p + 1));
                    }
                    _mm512_mask_storeu_ps(y + out + q, k, best);
                    _mm512_mask_storeu_epi32(argmax + out + q, k, taken);
                }
            }
}

/// Where the backward's dy comes from: the layer's own (`argmax` NULL), or with the pooling the
/// pooled one (N, height/2, width/2, C) and its argmax.
typedef struct {
    const float *dy;
    const int *argmax;
    int height, width, relu;
} gradient_source;

/// Row r's image and position, for the pooling (rows of height × width positions per image).
typedef struct { long n; int h, w; } position;

static inline position position_of(const gradient_source *src, long r) {
    if (!src->argmax) return (position){0, 0, 0};
    const long perImage = (long)src->height * src->width;
    return (position){r / perImage, (int)(r % perImage / src->width), (int)(r % src->width)};
}

/// The next row's position, in scan order.
static inline void advance(const gradient_source *src, position *p) {
    if (!src->argmax) return;
    if (++p->w == src->width) {
        p->w = 0;
        if (++p->h == src->height) p->h = 0, p->n++;
    }
}

/// g for channels q ..< q + 16 (k) of row r of x (xv there): dy, and with `relu` only where the
/// forward's y > 0 — where its normalized value, computed again from x, is > 0 (y is that value
/// where it is ≥ 0, 0 below and NaN where it is NaN), so y need not be read. With the pooling, dy
/// is the pooled gradient where (h, w) is its window's argmax, else 0, as max pooling's backward
/// gives it.
/// The row r is image n's position (h, w) (counted by the caller, which walks the rows in order).
static inline WIDE __m512 gradient(const gradient_source *src, long r, long n, int h, int w, int c, int q,
                                   __mmask16 k, __m512 xv, __m512 mu, __m512 kk, __m512 b) {
    __mmask16 take = k;
    if (src->relu) take &= _mm512_cmp_ps_mask(normalized(xv, mu, kk, b), _mm512_setzero_ps(), _CMP_GT_OQ);
    if (!src->argmax) return _mm512_maskz_loadu_ps(take, src->dy + r * c + q);
    const int ph = src->height / 2, pw = src->width / 2;
    if (h >= 2 * ph || w >= 2 * pw) return _mm512_setzero_ps();          // outside every window
    const long out = ((n * ph + h / 2) * pw + w / 2) * c + q;
    take &= _mm512_mask_cmpeq_epi32_mask(k, _mm512_maskz_loadu_epi32(k, src->argmax + out),
                                         _mm512_set1_epi32((h % 2) * 2 + w % 2));
    return _mm512_maskz_loadu_ps(take, src->dy + out);
}

static inline __attribute__((always_inline)) WIDE void backward_sums(
    const float *x, const gradient_source *src, long first, long rows, int c, int c0, int w, const float *mean,
    const float *inverseStd, const float *scale, const float *offset, double *sumDy, double *sumDyXhat,
    const int groups) {
    __mmask16 k[MAX_GROUPS];
    __m512 mu[MAX_GROUPS], s[MAX_GROUPS], kk[MAX_GROUPS], b[MAX_GROUPS];
    __m512d dlo[MAX_GROUPS], dhi[MAX_GROUPS], xlo[MAX_GROUPS], xhi[MAX_GROUPS];
    for (int g = 0; g < groups; g++) {
        const int q = c0 + 16 * g;
        k[g] = lanes16(w - 16 * g);
        mu[g] = _mm512_maskz_loadu_ps(k[g], mean + q), s[g] = _mm512_maskz_loadu_ps(k[g], inverseStd + q);
        kk[g] = _mm512_maskz_loadu_ps(k[g], scale + q), b[g] = _mm512_maskz_loadu_ps(k[g], offset + q);
        dlo[g] = dhi[g] = xlo[g] = xhi[g] = _mm512_setzero_pd();
    }
    position p = position_of(src, first);
    for (long r = first; r < first + rows; r++, advance(src, &p))
        for (int g = 0; g < groups; g++) {
            const int q = c0 + 16 * g;
            const __m512 xv = _mm512_maskz_loadu_ps(k[g], x + r * c + q);
            const __m512 xhat = _mm512_mul_ps(_mm512_sub_ps(xv, mu[g]), s[g]);
            const __m512 gv = gradient(src, r, p.n, p.h, p.w, c, q, k[g], xv, mu[g], kk[g], b[g]);
            const __m512d glo = low_pd(gv), ghi = high_pd(gv);
            dlo[g] = _mm512_add_pd(dlo[g], glo), dhi[g] = _mm512_add_pd(dhi[g], ghi);
            xlo[g] = _mm512_add_pd(xlo[g], _mm512_mul_pd(glo, low_pd(xhat)));
            xhi[g] = _mm512_add_pd(xhi[g], _mm512_mul_pd(ghi, high_pd(xhat)));
        }
    for (int g = 0; g < groups; g++) {
        store_pd(sumDy + 16 * g, k[g], dlo[g], dhi[g]);
        store_pd(sumDyXhat + 16 * g, k[g], xlo[g], xhi[g]);
    }
}

/// backward_sums with its group count a constant.
static inline WIDE void backward_sums_any(const float *x, const gradient_source *src, long first, long rows, int c,
                                          int c0, int w, const float *mean, const float *inverseStd,
                                          const float *scale, const float *offset, double *sumDy, double *sumDyXhat) {
    switch ((w + 15) / 16) {
    case 1: backward_sums(x, src, first, rows, c, c0, w, mean, inverseStd, scale, offset, sumDy, sumDyXhat, 1); break;
    case 2: backward_sums(x, src, first, rows, c, c0, w, mean, inverseStd, scale, offset, sumDy, sumDyXhat, 2); break;
    case 3: backward_sums(x, src, first, rows, c, c0, w, mean, inverseStd, scale, offset, sumDy, sumDyXhat, 3); break;
    default: backward_sums(x, src, first, rows, c, c0, w, mean, inverseStd, scale, offset, sumDy, sumDyXhat, 4); break;
    }
}

static inline WIDE void input_gradient(const float *x, const gradient_source *src, float *dx, long first, long rows,
                                       int c, const float *mean, const float *inverseStd, const float *scale,
                                       const float *offset, const float *meanDy, const float *meanDyXhat,
                                       int batchStatistics) {
    position p = position_of(src, first);
    for (long r = first; r < first + rows; r++, advance(src, &p))
        for (int j = 0; j < c; j += 16) {
            const __mmask16 k = lanes16(c - j);
            const long at = r * c + j;
            const __m512 xv = _mm512_maskz_loadu_ps(k, x + at), mu = _mm512_maskz_loadu_ps(k, mean + j);
            const __m512 kk = _mm512_maskz_loadu_ps(k, scale + j);
            const __m512 g = gradient(src, r, p.n, p.h, p.w, c, j, k, xv, mu, kk, _mm512_maskz_loadu_ps(k, offset + j));
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

WIDE void ck_bn_backward_sums(const float *x, const float *dy, long first, long rows, int c, int c0, int w,
                              const float *mean, const float *inverseStd, const float *scale, const float *offset,
                              int relu, double *sumDy, double *sumDyXhat) {
    const gradient_source src = {.dy = dy, .relu = relu};
    backward_sums_any(x, &src, first, rows, c, c0, w, mean, inverseStd, scale, offset, sumDy, sumDyXhat);
}

WIDE void ck_bn_input_gradient(const float *x, const float *dy, float *dx, long rows, int c, const float *mean,
                               const float *inverseStd, const float *scale, const float *offset, const float *meanDy,
                               const float *meanDyXhat, int batchStatistics, int relu) {
    // Rows counted from x, dy and dx as given.
    const gradient_source src = {.dy = dy, .relu = relu};
    input_gradient(x, &src, dx, 0, rows, c, mean, inverseStd, scale, offset, meanDy, meanDyXhat, batchStatistics);
}

WIDE void ck_bn_backward_sums_pool(const float *x, const float *dy, const int *argmax, long first, long rows,
                                   int height, int width, int c, int c0, int w, const float *mean,
                                   const float *inverseStd, const float *scale, const float *offset, double *sumDy,
                                   double *sumDyXhat) {
    const gradient_source src = {dy, argmax, height, width, 1};
    backward_sums_any(x, &src, first, rows, c, c0, w, mean, inverseStd, scale, offset, sumDy, sumDyXhat);
}

WIDE void ck_bn_input_gradient_pool(const float *x, const float *dy, const int *argmax, float *dx, long first,
                                    long rows, int height, int width, int c, const float *mean,
                                    const float *inverseStd, const float *scale, const float *offset,
                                    const float *meanDy, const float *meanDyXhat, int batchStatistics) {
    const gradient_source src = {dy, argmax, height, width, 1};
    input_gradient(x, &src, dx, first, rows, c, mean, inverseStd, scale, offset, meanDy, meanDyXhat,
                   batchStatistics);
}

WIDE void ck_bn_gradient_rows(const ck_bn_gradient *g, long first, long rows, float *out) {
    const gradient_source src = {g->dy, g->argmax, g->height, g->width, g->relu};
    // input_gradient writes dx[r·c + j] for r from `first`: out is that dx moved back by `first` rows.
    input_gradient(g->x, &src, out - first * g->channels, first, rows, g->channels, g->mean, g->inverseStd, g->scale,
                   g->offset, g->meanDy, g->meanDyXhat, g->batchStatistics);
}

#endif
