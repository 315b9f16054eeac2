// The gradient of a convolution with 2×2 max pooling after it, visiting only the nonzero
// gradients, AVX2/FMA (call only when ck_has_avx2_fma() is 1); Sources/Kernels/ConvolutionPool.swift
// takes it for stride-1 layers whose kernel row is at most 32 floats (kw·C ≤ 32).
//
// After 2×2 max pooling, each (window, filter) passes its gradient g to one output pixel (the
// argmax), and ReLU zeroes more: of a dense dz three quarters or more are zeros. Instead of
// dK = colsᵀ·dz and dx = col2im(dz·Kᵀ) over every pixel, this visits only the (window, filter)
// pairs with g ≠ 0 and adds g times one kernel-sized patch: dKᵀ[f] += g·x[patch] and, for dx,
// dx[patch] += g·Kᵀ[f]. A patch row (kw·C ≤ 32 floats) is 4 vectors; the images are copied into
// zero-padded buffers with room for the fourth vector's overhang (whose kernel lanes are zero).
#include "ckernels.h"
#include "vec.h"
#include <string.h>

#if defined(__x86_64__)

/// Largest padded image (floats) ck_pool_sparse_gradient takes.
#define SPARSE_MAX_PADDED 16384

int ck_pool_sparse_supported(int channels, int kh, int kw, int outHeight, int outWidth) {
    return kw * channels <= 32 && kh >= 1 && kh <= 16
        && (long)(outHeight + kh - 1) * (outWidth + kw - 1) * channels + 32 <= SPARSE_MAX_PADDED;
}

AVX void ck_pool_sparse_gradient(const float *x, int images, int height, int width, int channels, int kh, int kw,
                                 int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                                 const float *dy, const float *y, const int *argmax, int relu, float *dkT,
                                 float *biasSums, float *dx) {
    const int ph = outHeight / 2, pw = outWidth / 2, rowsP = outHeight + kh - 1, colsP = outWidth + kw - 1;
    const long c = channels, lineP = colsP * c, line = (long)width * c, f = filters, perImage = (long)ph * pw * f;
    float xp[SPARSE_MAX_PADDED] __attribute__((aligned(32))), dxp[SPARSE_MAX_PADDED] __attribute__((aligned(32)));
    const long padded = rowsP * lineP;
    memset(dkT, 0, sizeof(float) * f * kh * 32);
    for (int image = 0; image < images; image++) {
        // xp (rowsP × colsP × C) = the image at (r − padT, s − padL), zeros outside, 32 floats of slack.
        const float *xi = x + image * height * line;
        for (int r = 0; r < rowsP; r++) {
            const int sr = r - padT;
            float *row = xp + r * lineP;
            if (sr < 0 || sr >= height) { memset(row, 0, sizeof(float) * lineP); continue; }
            for (int s = 0; s < colsP; s++) {
                const int ss = s - padL;
                if (ss >= 0 && ss < width) memcpy(row + s * c, xi + sr * line + ss * c, sizeof(float) * c);
                else memset(row + s * c, 0, sizeof(float) * c);
            }
        }
        memset(xp + padded, 0, sizeof(float) * 32);
        if (dx) memset(dxp, 0, sizeof(float) * (padded + 32));
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++) {
                const long at = image * perImage + ((long)i * pw + j) * f;
                for (long k = 0; k < f; k += 8) {
                    const int lanes = f - k < 8 ? (int)(f - k) : 8;
                    const __m256i mask = lanes_mask(lanes);
                    v8 g = (v8)_mm256_maskload_ps(dy + at + k, mask);
                    if (relu) g = (v8)((vi8)g & ((v8)_mm256_maskload_ps(y + at + k, mask) > SPLAT(0.0f)));   // NaN → 0
                    const vi8 q = (vi8)_mm256_maskload_epi32(argmax + at + k, mask);
                    float *sums = biasSums + k;
                    for (int l = 0; l < lanes; l++) sums[l] += g[l];
                    unsigned bits = (unsigned)_mm256_movemask_ps((__m256)(g != SPLAT(0.0f)));
                    while (bits) {
                        const int l = __builtin_ctz(bits);
                        bits &= bits - 1;
                        const v8 gv = SPLAT(g[l]);
                        const int p = q[l], oh = 2 * i + (p >> 1), ow = 2 * j + (p & 1);
                        const float *patch = xp + oh * lineP + ow * c;
                        float *dk = dkT + (k + l) * kh * 32;
                        for (int r = 0; r < kh; r++) {
                            const float *xr = patch + r * lineP;
                            v8u *dr = (v8u *)(dk + r * 32);
                            dr[0] = gv * *(const v8u *)(xr) + dr[0];
                            dr[1] = gv * *(const v8u *)(xr + 8) + dr[1];
                            dr[2] = gv * *(const v8u *)(xr + 16) + dr[2];
                            dr[3] = gv * *(const v8u *)(xr + 24) + dr[3];
                        }
                        if (!dx) continue;
                        const float *kr = kT + (k + l) * kh * 32;
                        float *out = dxp + oh * lineP + ow * c;
                        for (int r = 0; r < kh; r++) {
                            v8u *o = (v8u *)(out + r * lineP);
                            const v8u *w = (const v8u *)(kr + r * 32);
                            o[0] = gv * w[0] + o[0];
                            o[1] = gv * w[1] + o[1];
                            o[2] = gv * w[2] + o[2];
                            o[3] = gv * w[3] + o[3];
                        }
                    }
                }
            }
        if (!dx) continue;
        float *di = dx + image * height * line;
        for (int r = 0; r < height; r++)
            for (int s = 0; s < width; s++) {
                const int pr = r + padT, ps = s + padL;
                if (pr < rowsP && ps < colsP) memcpy(di + r * line + s * c, dxp + pr * lineP + ps * c, sizeof(float) * c);
                else memset(di + r * line + s * c, 0, sizeof(float) * c);
            }
    }
}

#endif
