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

/// One image: NV vectors of filters, the kernel's taps loaded per tap (they stay in L1).
INLINE_WIDE void forward_image(const int NV, const float *x, int height, int width, int kh, int kw, int sh,
                               int sw, int padT, int padL, int outHeight, int outWidth, int filters,
                               const float *kernel, const float *bias, int relu, float *y, __mmask16 tail) {
    for (int oh = 0; oh < outHeight; oh++) {
        const int top = oh * sh - padT;
        const int i0 = top < 0 ? -top : 0, i1 = top + kh > height ? height - top : kh;
        for (int ow = 0; ow < outWidth; ow++) {
            const int left = ow * sw - padL;
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
            float *out = y + ((long)oh * outWidth + ow) * filters;
            for (int v = 0; v < NV; v++) {
                const __mmask16 m = v == NV - 1 ? tail : 0xffff;
                __m512 r = acc[v];
                if (bias) r = _mm512_add_ps(r, _mm512_maskz_loadu_ps(m, bias + 16 * v));
                if (relu) r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(r, _mm512_setzero_ps(), _CMP_LT_OQ), r,
                                                   _mm512_setzero_ps());
                _mm512_mask_storeu_ps(out + 16 * v, m, r);
            }
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

/// Taps t0 ..< t0 + T of the kernel gradient over positions first ..< first + count, NV vectors of
/// filters: T·NV accumulators in registers.
INLINE_WIDE void gradient_taps(const int T, const int NV, int t0, const float *x, int height, int width, int kw,
                               int sh, int sw, int padT, int padL, int outHeight, int outWidth, int filters,
                               const float *dz, long first, long count, float *dk, __mmask16 tail) {
    __m512 acc[24];
    for (int a = 0; a < T * NV; a++) acc[a] = _mm512_setzero_ps();
    const long perImage = (long)outHeight * outWidth;
    long n = first / perImage;
    int oh = (int)(first % perImage / outWidth), ow = (int)(first % outWidth);
    for (long r = first; r < first + count; r++) {
        const int top = oh * sh - padT, left = ow * sw - padL;
        const float *image = x + n * height * width;
        __m512 g[4];
        for (int v = 0; v < NV; v++) g[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xffff, dz + r * filters + 16 * v);
        for (int t = 0; t < T; t++) {
            const int i = top + (t0 + t) / kw, j = left + (t0 + t) % kw;
            if (i < 0 || i >= height || j < 0 || j >= width) continue;       // a zero of im2col: adds nothing
            const __m512 p = _mm512_set1_ps(image[i * width + j]);
            for (int v = 0; v < NV; v++) acc[t * NV + v] = _mm512_fmadd_ps(p, g[v], acc[t * NV + v]);
        }
        if (++ow == outWidth) {                 // the next position (n, oh, ow) in scan order
            ow = 0;
            if (++oh == outHeight) oh = 0, n++;
        }
    }
    for (int t = 0; t < T; t++)
        for (int v = 0; v < NV; v++)
            _mm512_mask_storeu_ps(dk + (t0 + t) * filters + 16 * v, v == NV - 1 ? tail : 0xffff, acc[t * NV + v]);
}

WIDE void ck_conv1_direct_kernel_gradient(const float *x, int height, int width, int kh, int kw, int sh, int sw,
                                          int padT, int padL, int outHeight, int outWidth, int filters,
                                          const float *dz, long first, long count, float *dk) {
    const int nv = (filters + 15) / 16, taps = kh * kw;
    const __mmask16 tail = (__mmask16)((1u << (filters - (nv - 1) * 16)) - 1);
    const int group = 24 / nv;          // taps per pass over the positions
    for (int t0 = 0; t0 < taps; t0 += group) {
        const int t = taps - t0 < group ? taps - t0 : group;
#define TAPS(T, NV) gradient_taps(T, NV, t0, x, height, width, kw, sh, sw, padT, padL, outHeight, outWidth, filters, \
                                  dz, first, count, dk, tail)
        if (t == group) {
            switch (nv) { case 1: TAPS(24, 1); break; case 2: TAPS(12, 2); break; case 3: TAPS(8, 3); break;
                          default: TAPS(6, 4); }
        } else {
            for (int s = t0; s < t0 + t; s++) {   // the last taps one at a time
                const int keep = t0;
                t0 = s;
                switch (nv) { case 1: TAPS(1, 1); break; case 2: TAPS(1, 2); break; case 3: TAPS(1, 3); break;
                              default: TAPS(1, 4); }
                t0 = keep;
            }
        }
#undef TAPS
    }
}

#endif
