// A convolution of a single-channel image (a first layer), straight from the image, AVX-512 (call
// only when ck_has_avx512vl() is 1): any kernel size, stride and padding, up to 64 filters. im2col
// copied each pixel kh·kw times to feed products whose inner dimension is only kh·kw, and wrote
// and read back a column matrix kh·kw times the image's size. These keep the kernel (or the kernel
// gradient's accumulators) in registers instead.
//
// Every sum is im2col + gemm.c's: an output is one FMA chain over the taps (i, j) in order from
// zero — taps over the padding skipped, which adds nothing to such a chain — then the bias and the
// ReLU; a kernel gradient element is one FMA chain over the output positions (n, oh, ow) of its
// rows in order. So the results are the same bits (Sources/Kernels/DirectConvolution.swift).
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define INLINE_WIDE static inline __attribute__((always_inline)) WIDE

int ck_conv1_direct_supported(int kh, int kw, int filters) {
    return kh >= 1 && kw >= 1 && kh * kw <= 49 && filters >= 1 && filters <= 64;
}

/// One vector of an output's filters with the bias and then the ReLU, as the pass after a product.
INLINE_WIDE void store_output(__m512 acc, const float *bias, int relu, float *out, __mmask16 m) {
    __m512 r = acc;
    if (bias) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bias));
    if (relu) r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_LT_OQ), r, _mm512_setzero_ps());
    _mm512_mask_storeu_ps(out, m, r);
}

/// P neighbouring outputs of a row whose windows lie inside the image across (columns left + p·sw
/// + j), rows i0 ..< i1 of the kernel: P·NV independent FMA chains, where one output alone has only
/// NV and waits on the FMA latency. Each chain is still the taps (i, j) in order from zero.
INLINE_WIDE void forward_block(const int NV, const int P, const float *x, int width, int kw, int sw, int top,
                               int left, int i0, int i1, int filters, const float *kernel, const float *bias,
                               int relu, float *out, __mmask16 tail) {
    __m512 acc[4][8];
    for (int p = 0; p < P; p++)
        for (int v = 0; v < NV; v++) acc[v][p] = _mm512_setzero_ps();
    for (int i = i0; i < i1; i++) {
        const float *row = x + (top + i) * width + left;
        for (int j = 0; j < kw; j++) {
            const float *k = kernel + (i * kw + j) * filters;
            __m512 kv[4];
            for (int v = 0; v < NV; v++) kv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, k + 16 * v);
            for (int p = 0; p < P; p++) {
                const __m512 pixel = _mm512_set1_ps(row[p * sw + j]);
                for (int v = 0; v < NV; v++) acc[v][p] = _mm512_fmadd_ps(pixel, kv[v], acc[v][p]);
            }
        }
    }
    for (int p = 0; p < P; p++)
        for (int v = 0; v < NV; v++)
            store_output(acc[v][p], bias ? bias + 16 * v : 0, relu, out + (long)p * filters + 16 * v,
                          v == NV - 1 ? tail : 0xffff);
}

/// One image: NV vectors of filters; the outputs whose windows lie inside the image across go
/// BLOCK(NV) at a time, the others (over the left or right padding) one at a time.
INLINE_WIDE void forward_image(const int NV, const float *x, int height, int width, int kh, int kw, int sh,
                               int sw, int padT, int padL, int outHeight, int outWidth, int filters,
                               const float *kernel, const float *bias, int relu, float *y, __mmask16 tail) {
    enum { B1 = 8, B2 = 6, B3 = 4, B4 = 4 };
    const int block = NV == 1 ? B1 : NV == 2 ? B2 : NV == 3 ? B3 : B4;
    // Columns ow whose window [ow·sw − padL, + kw) lies inside [0, width).
    int inside0 = (padL + sw - 1) / sw, inside1 = width - kw + padL >= 0 ? (width - kw + padL) / sw + 1 : 0;
    if (inside1 > outWidth) inside1 = outWidth;
    if (inside0 > inside1) inside0 = inside1;
    for (int oh = 0; oh < outHeight; oh++) {
        const int top = oh * sh - padT;
        const int i0 = top < 0 ? -top : 0, i1 = top + kh > height ? height - top : kh;
        float *outRow = y + (long)oh * outWidth * filters;
        int ow = inside0;
        for (; ow + block <= inside1; ow += block) {
#define BLOCK(P) forward_block(NV, P, x, width, kw, sw, top, ow * sw - padL, i0, i1, filters, kernel, bias, relu, \
                               outRow + (long)ow * filters, tail)
            switch (NV) { case 1: BLOCK(B1); break; case 2: BLOCK(B2); break; case 3: BLOCK(B3); break;
                          default: BLOCK(B4); }
#undef BLOCK
        }
        for (int o = 0; o < outWidth; o++) {
            if (o >= inside0 && o < ow) continue;          // done in blocks
            const int left = o * sw - padL;
            const int j0 = left < 0 ? -left : 0, j1 = left + kw > width ? width - left : kw;
            __m512 acc[4];
            for (int v = 0; v < NV; v++) acc[v] = _mm512_setzero_ps();
            for (int i = i0; i < i1; i++)
                for (int j = j0; j < j1; j++) {
                    const __m512 p = _mm512_set1_ps(x[(top + i) * width + left + j]);
                    const float *k = kernel + (i * kw + j) * filters;
                    for (int v = 0; v < NV; v++)
                        acc[v] = _mm512_fmadd_ps(p, _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, k + 16 * v),
                                                 acc[v]);
                }
            for (int v = 0; v < NV; v++)
                store_output(acc[v], bias ? bias + 16 * v : 0, relu, outRow + (long)o * filters + 16 * v,
                              v == NV - 1 ? tail : 0xffff);
        }
    }
}

WIDE void ck_conv1_direct_forward(const float *x, int images, int height, int width, int kh, int kw, int sh, int sw,
                                  int padT, int padL, int outHeight, int outWidth, int filters,
                                  const float *kernel, const float *bias, int relu, float *y) {
    const int nv = (filters + 15) / 16;
    const __mmask16 tail = (__mmask16)((1u << (filters - (nv - 1) * 16)) - 1);
    for (int n = 0; n < images; n++) {
        const float *xi = x + (long)n * height * width;
        float *yi = y + (long)n * outHeight * outWidth * filters;
#define IMAGE(NV) forward_image(NV, xi, height, width, kh, kw, sh, sw, padT, padL, outHeight, outWidth, filters, \
                                kernel, bias, relu, yi, tail)
        switch (nv) { case 1: IMAGE(1); break; case 2: IMAGE(2); break; case 3: IMAGE(3); break; default: IMAGE(4); }
#undef IMAGE
    }
}

/// Taps t0 ..< t0 + valid (valid ≤ T) of the kernel gradient over positions first ..< first + count,
/// NV vectors of filters: T·NV accumulators in registers. T is a constant, so they stay there;
/// the taps past `valid` are skipped (a branch the same way every time). With `resume`, the sums
/// continue from dk's values (the chains of earlier positions) instead of zero.
INLINE_WIDE void gradient_taps(const int T, const int NV, int t0, int valid, const float *x, int height, int width,
                               int kw, int sh, int sw, int padT, int padL, int outHeight, int outWidth, int filters,
                               const float *dz, long first, long count, float *dk, __mmask16 tail, int resume) {
    __m512 acc[24];
    _Pragma("unroll") for (int t = 0; t < T; t++)
        _Pragma("unroll") for (int v = 0; v < NV; v++)
            acc[t * NV + v] = resume && t < valid
                ? _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, dk + (t0 + t) * filters + 16 * v)
                : _mm512_setzero_ps();
    int di[24], dj[24], at[24];         // each tap's offset in the window, and in the image
    int reachDown = 0, reachRight = 0;  // the largest di and dj of the valid taps
    for (int t = 0; t < T; t++) {
        di[t] = (t0 + t) / kw, dj[t] = (t0 + t) % kw, at[t] = di[t] * width + dj[t];
        if (t < valid) reachDown = di[t] > reachDown ? di[t] : reachDown, reachRight = dj[t] > reachRight ? dj[t] : reachRight;
    }
    const long perImage = (long)outHeight * outWidth;
    long n = first / perImage;
    int oh = (int)(first % perImage / outWidth), ow = (int)(first % outWidth);
    for (long r = first; r < first + count; r++) {
        const int top = oh * sh - padT, left = ow * sw - padL;
        const float *image = x + n * height * width;
        __m512 g[4];
        _Pragma("unroll") for (int v = 0; v < NV; v++)
            g[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, dz + r * filters + 16 * v);
        if (top >= 0 && left >= 0 && top + reachDown < height && left + reachRight < width) {
            // The whole window inside the image: no tap to test.
            const float *corner = image + top * width + left;
            _Pragma("unroll") for (int t = 0; t < T; t++)
                if (t < valid) {
                    const __m512 p = _mm512_set1_ps(corner[at[t]]);
                    _Pragma("unroll") for (int v = 0; v < NV; v++)
                        acc[t * NV + v] = _mm512_fmadd_ps(p, g[v], acc[t * NV + v]);
                }
        } else {
            _Pragma("unroll") for (int t = 0; t < T; t++) {
                const int i = top + di[t], j = left + dj[t];
                // Taps past `valid` and a zero of im2col (outside the image) add nothing.
                if (t < valid && i >= 0 && i < height && j >= 0 && j < width) {
                    const __m512 p = _mm512_set1_ps(image[i * width + j]);
                    _Pragma("unroll") for (int v = 0; v < NV; v++)
                        acc[t * NV + v] = _mm512_fmadd_ps(p, g[v], acc[t * NV + v]);
                }
            }
        }
        if (++ow == outWidth) {                 // the next position (n, oh, ow) in scan order
            ow = 0;
            if (++oh == outHeight) oh = 0, n++;
        }
    }
    _Pragma("unroll") for (int t = 0; t < T; t++)
        _Pragma("unroll") for (int v = 0; v < NV; v++)
            if (t < valid) _mm512_mask_storeu_ps(dk + (t0 + t) * filters + 16 * v, v == NV - 1 ? tail : 0xffff, acc[t * NV + v]);
}

/// Positions of dz a batch normalization's input gradient is computed for at a time (with `bn`):
/// at most 64 filters, so 16 KB that stay in L1 while every tap reads them.
enum { BN_ROWS = 64 };

WIDE void ck_conv1_direct_kernel_gradient(const float *x, int height, int width, int kh, int kw, int sh, int sw,
                                          int padT, int padL, int outHeight, int outWidth, int filters,
                                          const float *dz, const ck_bn_gradient *bn, long first, long count,
                                          float *dk) {
    // Each element of dk is its own chain over the positions, so how the taps are grouped into
    // passes changes no bit: as few passes as the 24 accumulators allow, the taps shared evenly.
    const int nv = (filters + 15) / 16, taps = kh * kw;
    const __mmask16 tail = (__mmask16)((1u << (filters - (nv - 1) * 16)) - 1);
    const int group = 24 / nv, passes = (taps + group - 1) / group, share = (taps + passes - 1) / passes;
    if (count <= 0) {                           // no positions: dk = 0, as the chains from zero give
        for (int i = 0; i < taps * filters; i++) dk[i] = 0;
        return;
    }
    // With `bn`, dz is made BN_ROWS positions at a time and each chain continued block after block.
    float block[BN_ROWS * 64] __attribute__((aligned(64)));
    const long step = bn ? BN_ROWS : count;
    for (long p0 = first; p0 < first + count; p0 += step) {
        const long rows = first + count - p0 < step ? first + count - p0 : step;
        const float *d = dz;
        if (bn) {
            ck_bn_gradient_rows(bn, p0, rows, block);
            d = block - p0 * filters;           // dz's row r at d + r·filters
        }
        for (int t0 = 0; t0 < taps; t0 += share) {
            const int valid = taps - t0 < share ? taps - t0 : share;
#define TAPS(T, NV) gradient_taps(T, NV, t0, valid, x, height, width, kw, sh, sw, padT, padL, outHeight, outWidth, \
                                  filters, d, p0, rows, dk, tail, p0 > first)
            switch (nv) { case 1: TAPS(24, 1); break; case 2: TAPS(12, 2); break; case 3: TAPS(8, 3); break;
                          default: TAPS(6, 4); }
#undef TAPS
        }
    }
}

#endif
