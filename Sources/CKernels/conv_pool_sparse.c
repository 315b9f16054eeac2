// The gradient of a convolution with 2×2 max pooling after it, visiting only the nonzero
// gradients, AVX2/FMA (call only when ck_has_avx2_fma() is 1; `wide` only when ck_has_avx512vl()
// is 1); Sources/Kernels/ConvolutionPool.swift takes it for stride-1 pooled layers.
//
// After 2×2 max pooling, each (window, filter) passes its gradient g to one output pixel (the
// argmax), and ReLU zeroes more: of a dense dz three quarters or more are zeros. Instead of
// dK = colsᵀ·dz and dx = col2im(dz·Kᵀ) over every pixel, this visits only the (window, filter)
// pairs with g ≠ 0 and adds g times one kernel-sized patch: dKᵀ[f] += g·x[patch] and, for dx,
// dx[patch] += g·Kᵀ[f]. A patch row (kw·C floats) is read as whole vectors, `row` floats; the
// images are copied into zero-padded buffers with room for the last vector's overhang (whose
// kernel lanes are zero, and whose dKᵀ lanes the caller ignores).
//
// Two kernels, by the width of a kernel row:
//   narrow  kw·C ≤ 32 (LeNet-5's 5·6): rows of 32 floats, four 8-float vectors, added to dKᵀ and
//           dx in memory pair by pair (windows in scan order, then filters); with AVX-512VL, a
//           filter's dKᵀ in registers while its pairs are added (the same order per element).
//   wide    kw·C > 32 (Caffe's LeNet's 5·20): rows of kw·C rounded up to 16. Adding to memory
//           would cost a load and a store per FMA: instead, blocks of a patch (up to 112 floats of
//           up to 8 rows) stay in registers while every nonzero g of a filter (dKᵀ) or of a
//           window's patch (dx) is added. Per element of dKᵀ the order is the narrow kernel's
//           (images, windows); dx is summed block by block, then window, patch and filter.
#include "ckernels.h"
#include "vec.h"
#include <string.h>

int ck_pool_sparse_row(int channels, int kw) { return kw * channels <= 32 ? 32 : (kw * channels + 15) / 16 * 16; }

#if defined(__x86_64__)

/// Largest padded image (floats), kernel row (floats) and windows × (filters + 4) per image
/// ck_pool_sparse_gradient takes. The wide kernel's dx lists hold, per window, its nonzero
/// gradients and one spare slot for each of its four argmax positions: (filters + 4) a window.
#define SPARSE_MAX_PADDED 16384
#define SPARSE_MAX_ROW 512
#define SPARSE_MAX_PAIRS 16384

int ck_pool_sparse_supported(int channels, int kh, int kw, int outHeight, int outWidth, int filters) {
    return kw * channels <= SPARSE_MAX_ROW && kh >= 1 && kh <= 16 && filters >= 1
        && (long)(outHeight / 2) * (outWidth / 2) * (filters + 4) <= SPARSE_MAX_PAIRS
        && outHeight >= 2 && outWidth >= 2
        && (long)(outHeight + kh - 1) * (outWidth + kw - 1) * channels <= SPARSE_MAX_PADDED;
}

/// xp (rowsP × colsP × C) = the image x (height × width × C) at (r − padT, s − padL), zeros
/// outside, then `slack` zeros. (A row at a time: a copy per pixel of C floats cost more than the
/// copy.)
INLINE void pad_image(const float *x, int height, int width, long c, int padT, int padL, int rowsP, int colsP,
                      int slack, float *xp) {
    const long lineP = colsP * c, line = (long)width * c;
    const int inside = min_int(width, colsP - padL);  // pixels of an image row in a padded one
    for (int r = 0; r < rowsP; r++) {
        const int sr = r - padT;
        float *dst = xp + r * lineP;
        if (sr < 0 || sr >= height) { memset(dst, 0, sizeof(float) * lineP); continue; }
        memset(dst, 0, sizeof(float) * padL * c);
        memcpy(dst + padL * c, x + sr * line, sizeof(float) * inside * c);
        memset(dst + (padL + inside) * c, 0, sizeof(float) * (colsP - padL - inside) * c);
    }
    memset(xp + rowsP * lineP, 0, sizeof(float) * slack);
}

/// dx (height × width × C) = the part of the padded dxp (rowsP × colsP × C) over the image.
INLINE void unpad_image(const float *dxp, int height, int width, long c, int padT, int padL, int rowsP, int colsP,
                        float *dx) {
    const long lineP = colsP * c, line = (long)width * c;
    const int inside = min_int(width, colsP - padL);
    for (int r = 0; r < height; r++) {
        const int pr = r + padT;
        float *dst = dx + r * line;
        if (pr >= rowsP) { memset(dst, 0, sizeof(float) * line); continue; }
        memcpy(dst, dxp + pr * lineP + padL * c, sizeof(float) * inside * c);
        memset(dst + inside * c, 0, sizeof(float) * (width - inside) * c);
    }
}

/// The narrow kernel (kw·C ≤ 32): kT and dkT in rows of 32.
AVX static void pool_sparse_narrow(const float *x, int images, int height, int width, int channels, int kh,
                                   int kw, int padT, int padL, int outHeight, int outWidth, int filters,
                                   const float *kT, const float *dy, const float *y, const int *argmax, int relu,
                                   float *dkT, float *biasSums, float *dx) {
    const int ph = outHeight / 2, pw = outWidth / 2, rowsP = outHeight + kh - 1, colsP = outWidth + kw - 1;
    const long c = channels, lineP = colsP * c, line = (long)width * c, f = filters, perImage = (long)ph * pw * f;
    float xp[SPARSE_MAX_PADDED + 32] __attribute__((aligned(32))), dxp[SPARSE_MAX_PADDED + 32] __attribute__((aligned(32)));
    const long padded = rowsP * lineP;
    memset(dkT, 0, sizeof(float) * f * kh * 32);
    for (int image = 0; image < images; image++) {
        pad_image(x + image * height * line, height, width, c, padT, padL, rowsP, colsP, 32, xp);
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
        unpad_image(dxp, height, width, c, padT, padL, rowsP, colsP, dx + image * height * line);
    }
}

/// The gradient a (window, filter) passes on: dy, or 0 where the ReLU's output y was not positive
/// (NaN y too).
static inline float routed(int relu, float y, float dy) { return relu && !(y > 0.0f) ? 0.0f : dy; }

/// NR rows of dst (`dstLine` floats apart), 16·N16 floats each, += Σ gs[e] · src[at[e] + r·srcLine …]
/// over e < n in order, in vectors of W (8 or 16) floats: NR·NB independent FMA chains in
/// registers from the load to the store (with 8-float vectors, some of them spill).
INLINE void add_rows(const int W, const int NR, const int N16, float *dst, long dstLine, const float *src,
                     long srcLine, const int *at, const float *gs, int n) {
    const int NB = N16 * 16 / W;
    if (W == 16) {
        v16 acc[8][8];
        for (int r = 0; r < NR; r++)
            for (int b = 0; b < NB; b++) acc[r][b] = ((v16u *)(dst + r * dstLine))[b];
        for (int e = 0; e < n; e++) {
            const float g = gs[e];
            for (int r = 0; r < NR; r++) {
                const v16u *p = (const v16u *)(src + r * srcLine + at[e]);
                for (int b = 0; b < NB; b++) acc[r][b] = g * p[b] + acc[r][b];
            }
        }
        for (int r = 0; r < NR; r++)
            for (int b = 0; b < NB; b++) ((v16u *)(dst + r * dstLine))[b] = acc[r][b];
    } else {
        v8 acc[8][14];
        for (int r = 0; r < NR; r++)
            for (int b = 0; b < NB; b++) acc[r][b] = ((v8u *)(dst + r * dstLine))[b];
        for (int e = 0; e < n; e++) {
            const v8 g = SPLAT(gs[e]);
            for (int r = 0; r < NR; r++) {
                const v8u *p = (const v8u *)(src + r * srcLine + at[e]);
                for (int b = 0; b < NB; b++) acc[r][b] = g * p[b] + acc[r][b];
            }
        }
        for (int r = 0; r < NR; r++)
            for (int b = 0; b < NB; b++) ((v8u *)(dst + r * dstLine))[b] = acc[r][b];
    }
}

/// add_rows for nr ≤ 8 rows of n16 ≤ 7 sixteens of floats known at run time, nr·n16 ≤ 16.
INLINE void add_block(const int W, int nr, int n16, float *dst, long dstLine, const float *src, long srcLine,
                      const int *at, const float *gs, int n) {
    switch (nr * 8 + n16) {
#define C(NR, NB) case NR * 8 + NB: add_rows(W, NR, NB, dst, dstLine, src, srcLine, at, gs, n); break;
    C(1, 1) C(2, 1) C(3, 1) C(4, 1) C(5, 1) C(6, 1) C(7, 1) C(8, 1)
    C(1, 2) C(2, 2) C(3, 2) C(4, 2) C(5, 2) C(6, 2) C(7, 2) C(8, 2)
    C(1, 3) C(2, 3) C(3, 3) C(4, 3) C(5, 3)
    C(1, 4) C(2, 4) C(3, 4) C(4, 4)
    C(1, 5) C(2, 5) C(3, 5)
    C(1, 6) C(2, 6)
    C(1, 7) C(2, 7)
#undef C
    default: break;
    }
}

/// The blocks a patch (kh rows of `row` floats) is summed in: floats col ..< col + 16·n16 of rows
/// r0 ..< r0 + nr, as many rows as keep 16 accumulators of 16 floats (at most 112 floats of a row
/// at a time): enough independent FMA chains for a narrow row (LeNet-5's 32 floats: its 5 rows in
/// one pass), few enough for a wide one (Caffe's LeNet's 112: 2 rows) to stay in AVX-512's 32
/// registers. dx sums its terms block by block, so the AVX2 code takes the same blocks (its 16
/// registers spill some accumulators): the same bits.
typedef struct { int col, n16, r0, nr; } patch_block;

static inline int patch_blocks(int row, int kh, patch_block *blocks) {
    int count = 0;
    for (int c0 = 0; c0 < row / 16; c0 += 7) {
        const int n16 = row / 16 - c0 < 7 ? row / 16 - c0 : 7, most = 16 / n16 < 8 ? 16 / n16 : 8;
        for (int r0 = 0; r0 < kh; r0 += most)
            blocks[count++] = (patch_block){16 * c0, n16, r0, kh - r0 < most ? kh - r0 : most};
    }
    return count;
}

/// The wide kernel (kw·C > 32), W floats a vector (16 with AVX-512, 8 with AVX2).
INLINE void pool_sparse_wide(const int W, const float *x, int images, int height, int width,
                                 int channels, int kh, int kw, int padT, int padL, int outHeight, int outWidth,
                                 int filters, const float *kT, const float *dy, const float *y, const int *argmax,
                                 int relu, float *dkT, float *biasSums, float *dx) {
    const int ph = outHeight / 2, pw = outWidth / 2, rowsP = outHeight + kh - 1, colsP = outWidth + kw - 1;
    const int row = ck_pool_sparse_row(channels, kw);
    const long c = channels, lineP = colsP * c, line = (long)width * c, f = filters, perImage = (long)ph * pw * f;
    float xp[SPARSE_MAX_PADDED + SPARSE_MAX_ROW] __attribute__((aligned(64)));
    float dxp[SPARSE_MAX_PADDED + SPARSE_MAX_ROW] __attribute__((aligned(64)));
    // The nonzero gradients of one filter (its windows), or of every window (its filters by
    // argmax, `count` per window and argmax, each list a slot longer): the offsets of their patches
    // or kernels, and their g.
    // (count: four per window; a window's outputs are at least 4 of the padded image's pixels.)
    int at[SPARSE_MAX_PAIRS], count[SPARSE_MAX_PADDED];
    float gs[SPARSE_MAX_PAIRS];
    patch_block blocks[16 * SPARSE_MAX_ROW / 16];     // (each block at least one row and 16 floats)
    const int nblocks = patch_blocks(row, kh, blocks);
    const long padded = rowsP * lineP;
    memset(dkT, 0, sizeof(float) * f * kh * row);
    for (int image = 0; image < images; image++) {
        pad_image(x + image * height * line, height, width, c, padT, padL, rowsP, colsP, row, xp);
        const float *dyi = dy + image * perImage, *yi = y + image * perImage;
        const int *qi = argmax + image * perImage;
        // The lists are written for every pair and kept (the count advanced) for g ≠ 0: no branch
        // to mispredict on a random argmax or ReLU.
        // dKᵀ and the bias sums, filter by filter: the filter's nonzero g and their patches first.
        for (long k = 0; k < f; k++) {
            int n = 0;
            for (int i = 0; i < ph; i++)
                for (int j = 0; j < pw; j++) {
                    const long w = ((long)i * pw + j) * f + k;
                    const float g = routed(relu, yi[w], dyi[w]);
                    const int p = qi[w];
                    biasSums[k] += g;
                    at[n] = (int)((2 * i + (p >> 1)) * lineP + (2 * j + (p & 1)) * c);
                    gs[n] = g;
                    n += g != 0.0f;
                }
            for (int q = 0; q < nblocks; q++) {
                const patch_block bl = blocks[q];
                const long offset = bl.col;
                add_block(W, bl.nr, bl.n16, dkT + (k * kh + bl.r0) * row + offset, row, xp + bl.r0 * lineP + offset,
                          lineP, at, gs, n);
            }
        }
        if (!dx) continue;
        // dx block by block of the kernel's rows (each block of every filter's Kᵀ stays in the L1
        // cache), window by window, for each of the window's four patches its filters' g · Kᵀ[f].
        memset(dxp, 0, sizeof(float) * (padded + row));
        for (int w = 0, start = 0; w < ph * pw; w++) {
            int *n = count + 4 * w, next[4];
            n[0] = n[1] = n[2] = n[3] = 0;
            for (long k = 0; k < f; k++) {
                const float g = routed(relu, yi[w * f + k], dyi[w * f + k]);
                n[qi[w * f + k]] += g != 0.0f;
            }
            for (int p = 0; p < 4; p++) {
                next[p] = start;
                start += n[p] + 1;                    // (the slot a zero g of the last filters writes)
            }
            for (long k = 0; k < f; k++) {
                const float g = routed(relu, yi[w * f + k], dyi[w * f + k]);
                const int p = qi[w * f + k];
                at[next[p]] = (int)(k * kh * row);
                gs[next[p]] = g;
                next[p] += g != 0.0f;
            }
        }
        for (int q = 0; q < nblocks; q++) {
            const patch_block bl = blocks[q];
            const long offset = bl.col;
            for (int w = 0, e = 0; w < ph * pw; w++)
                for (int p = 0; p < 4; p++) {
                    const int n = count[4 * w + p];
                    float *out = dxp + (2 * (w / pw) + (p >> 1) + bl.r0) * lineP + (2 * (w % pw) + (p & 1)) * c;
                    add_block(W, bl.nr, bl.n16, out + offset, lineP, kT + bl.r0 * row + offset, row, at + e, gs + e, n);
                    e += n + 1;
                }
        }
        unpad_image(dxp, height, width, c, padT, padL, rowsP, colsP, dx + image * height * line);
    }
}

/// Filters up to which pool_sparse_narrow_512 adds dx a window at a time (its padded kernels' size).
#define WINDOW_DX_MAX_FILTERS 32

/// The kernels Kᵀ (rows of 32 floats) for window_dx: per filter kh + 2 rows of 48 floats, a row of
/// zeros, the kernel's rows (zeros past 32), a row of zeros; 16 zeros before the first filter. A
/// kernel read 48·dr + dc floats early (dr ≤ 1, dc = C ≤ 16) lands on its patch shifted by dr rows and
/// dc floats, with zeros around it.
__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void window_dx_kernels(const float *kT, int kh, int filters, float *out) {
    memset(out, 0, sizeof(float) * (16 + filters * (kh + 2) * 48));
    for (int k = 0; k < filters; k++)
        for (int r = 0; r < kh; r++)
            memcpy(out + 16 + (k * (kh + 2) + r + 1) * 48, kT + (k * kh + r) * 32, sizeof(float) * 32);
}

/// dx as pool_sparse_narrow adds it (window by window in scan order, then filter by filter), with
/// each window's four patches — KH + 1 rows of (kw + 1)·C floats, NV vectors of 16 (the last
/// masked by `last`) — in registers while its pairs are added: instead of a load and a store
/// around each FMA (each waiting for the store before it to overlapping floats), one per window:
/// more FMAs (18 a pair for LeNet-5's 6 rows of 36 floats, against 10), fewer stalls.
/// Each pair adds g times its filter's padded kernel at an offset that puts the kernel over its
/// patch and zeros elsewhere: an extra term g·0 = ±0 leaves a sum that started from +0 as it was
/// (g finite), so the bits are those of pool_sparse_narrow.
static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512vl")))
void window_dx(const int KH, const int NV, int windows, int pw, long lineP, long c, __mmask16 last,
               const int *windowEnd, const int *shift, const int *filter, const float *gs, const float *kPadded,
               float *dxp) {
    for (int w = 0, e = 0; w < windows; w++) {
        if (e == windowEnd[w]) continue;
        float *base = dxp + 2 * (w / pw) * lineP + 2 * (w % pw) * c;
        __m512 a[KH + 1][NV];
        for (int r = 0; r <= KH; r++)
            for (int v = 0; v < NV; v++)
                a[r][v] = v < NV - 1 ? _mm512_loadu_ps(base + r * lineP + 16 * v)
                                     : _mm512_maskz_loadu_ps(last, base + r * lineP + 16 * v);
        for (; e < windowEnd[w]; e++) {
            const __m512 g = _mm512_set1_ps(gs[e]);
            const float *k = kPadded + 16 + (long)filter[e] * (KH + 2) * 48 + 48 - shift[e];
            for (int r = 0; r <= KH; r++)
                for (int v = 0; v < NV; v++)
                    a[r][v] = _mm512_fmadd_ps(g, _mm512_loadu_ps(k + r * 48 + 16 * v), a[r][v]);
        }
        for (int r = 0; r <= KH; r++)
            for (int v = 0; v < NV; v++) {
                if (v < NV - 1) _mm512_storeu_ps(base + r * lineP + 16 * v, a[r][v]);
                else _mm512_mask_storeu_ps(base + r * lineP + 16 * v, last, a[r][v]);
            }
    }
}

/// The narrow kernel with AVX-512VL's 32 registers and 16-float vectors. One pass over an image's
/// windows lists its nonzero g (the bias sums as pool_sparse_narrow adds them), by filter and in
/// window-then-filter order. Then each filter's dKᵀ rows stay in registers while its g are added
/// (the wide kernel's blocks), in window order as pool_sparse_narrow adds them in memory, and dx
/// is added as there, window by window, then filter (a window's patches in registers where they
/// fit, window_dx): the same bits, without a load and a store around each FMA of dKᵀ.
__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void pool_sparse_narrow_512(const float *x, int images, int height, int width, int channels, int kh, int kw,
                                   int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                                   const float *dy, const float *y, const int *argmax, int relu, float *dkT,
                                   float *biasSums, float *dx) {
    const int ph = outHeight / 2, pw = outWidth / 2, windows = ph * pw, rowsP = outHeight + kh - 1;
    const int colsP = outWidth + kw - 1;
    const long c = channels, lineP = colsP * c, line = (long)width * c, f = filters, perImage = (long)windows * f;
    float xp[SPARSE_MAX_PADDED + 32] __attribute__((aligned(64))), dxp[SPARSE_MAX_PADDED + 32] __attribute__((aligned(64)));
    // Filter k's nonzero g and their patches' offsets at k·windows (count[k] of them); all of them
    // in window-then-filter order at pairs (offset, shift, filter, g), window w's ending at
    // windowEnd[w]. (Sized by the layer: at most windows·filters pairs, ck_pool_sparse_supported's
    // bound; the pair lists with room for a whole vector past their last pair.)
    const long most = windows * f;
    int at[most], count[f], pairAt[most + 16], pairShift[most + 16], pairFilter[most + 16], windowEnd[windows];
    float gs[most], pairG[most + 16];
    // dx a window at a time in registers (see window_dx) where the window's patches fit.
    const int vectors = ((kw + 1) * (int)c + 15) / 16;
    const int inRegisters = dx && (kh == 3 || kh == 5) && vectors <= 3 && c <= 16 && f <= WINDOW_DX_MAX_FILTERS;
    float kPadded[16 + WINDOW_DX_MAX_FILTERS * 7 * 48] __attribute__((aligned(64)));
    if (inRegisters) window_dx_kernels(kT, kh, filters, kPadded);
    patch_block blocks[16];
    const int nblocks = patch_blocks(32, kh, blocks);
    const long padded = rowsP * lineP;
    memset(dkT, 0, sizeof(float) * f * kh * 32);
    for (int image = 0; image < images; image++) {
        pad_image(x + image * height * line, height, width, c, padT, padL, rowsP, colsP, 32, xp);
        memset(count, 0, sizeof(int) * f);
        int pairs = 0;
        for (int i = 0; i < ph; i++)
            for (int j = 0; j < pw; j++) {
                const long w = image * perImage + ((long)i * pw + j) * f;
                // 16 filters a vector: g routed as pool_sparse_narrow routes it, the bias sums one
                // add a lane as there; the pair lists compressed from the lanes with g ≠ 0 (NaN too).
                for (long k = 0; k < f; k += 16) {
                    const __mmask16 lanes = f - k < 16 ? (__mmask16)((1u << (f - k)) - 1) : (__mmask16)0xffff;
                    __m512 g = _mm512_maskz_loadu_ps(lanes, dy + w + k);
                    if (relu)                                                                   // NaN → 0
                        g = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(lanes, y + w + k),
                                                                   _mm512_setzero_ps(), _CMP_GT_OQ), g);
                    const __m512i q = _mm512_maskz_loadu_epi32(lanes, argmax + w + k);
                    _mm512_mask_storeu_ps(biasSums + k, lanes, _mm512_add_ps(_mm512_maskz_loadu_ps(lanes, biasSums + k), g));
                    const __mmask16 nonzero = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_NEQ_UQ) & lanes;
                    const __m512i offset = _mm512_add_epi32(
                        _mm512_set1_epi32((int)(2 * i * lineP + 2 * j * c)),
                        _mm512_add_epi32(_mm512_mullo_epi32(_mm512_srli_epi32(q, 1), _mm512_set1_epi32((int)lineP)),
                                         _mm512_mullo_epi32(_mm512_and_si512(q, _mm512_set1_epi32(1)),
                                                            _mm512_set1_epi32((int)c))));
                    const __m512i filter = _mm512_add_epi32(_mm512_set1_epi32((int)k),
                                                            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
                    _mm512_storeu_si512(pairAt + pairs, _mm512_maskz_compress_epi32(nonzero, offset));
                    _mm512_storeu_si512(pairFilter + pairs, _mm512_maskz_compress_epi32(nonzero, filter));
                    _mm512_storeu_ps(pairG + pairs, _mm512_maskz_compress_ps(nonzero, g));
                    const __m512i shift = _mm512_add_epi32(
                        _mm512_mullo_epi32(_mm512_srli_epi32(q, 1), _mm512_set1_epi32(48)),
                        _mm512_mullo_epi32(_mm512_and_si512(q, _mm512_set1_epi32(1)), _mm512_set1_epi32((int)c)));
                    _mm512_storeu_si512(pairShift + pairs, _mm512_maskz_compress_epi32(nonzero, shift));
                    for (int e = pairs, end = pairs + __builtin_popcount(nonzero); e < end; e++) {
                        const int k1 = pairFilter[e];
                        const long slot = (long)k1 * windows + count[k1]++;
                        at[slot] = pairAt[e];
                        gs[slot] = pairG[e];
                    }
                    pairs += __builtin_popcount(nonzero);
                }
                windowEnd[i * pw + j] = pairs;
            }
        for (long k = 0; k < f; k++)
            for (int b = 0; b < nblocks; b++) {
                const patch_block bl = blocks[b];
                add_block(16, bl.nr, bl.n16, dkT + (k * kh + bl.r0) * 32 + bl.col, 32, xp + bl.r0 * lineP + bl.col,
                          lineP, at + k * windows, gs + k * windows, count[k]);
            }
        if (!dx) continue;
        memset(dxp, 0, sizeof(float) * (padded + 32));
        if (inRegisters) {
            const __mmask16 last = (__mmask16)((1u << ((kw + 1) * c - 16 * (vectors - 1))) - 1);
#define WINDOWS(KH, NV) window_dx(KH, NV, windows, pw, lineP, c, last, windowEnd, pairShift, pairFilter, pairG, kPadded, \
                                  dxp)
            if (kh == 3) { if (vectors == 3) WINDOWS(3, 3); else if (vectors == 2) WINDOWS(3, 2); else WINDOWS(3, 1); }
            else { if (vectors == 3) WINDOWS(5, 3); else if (vectors == 2) WINDOWS(5, 2); else WINDOWS(5, 1); }
#undef WINDOWS
            unpad_image(dxp, height, width, c, padT, padL, rowsP, colsP, dx + image * height * line);
            continue;
        }
        for (int e = 0; e < pairs; e++) {
            const v16 gv = (v16){0} + pairG[e];
            const float *kr = kT + (long)pairFilter[e] * kh * 32;
            float *out = dxp + pairAt[e];
            for (int r = 0; r < kh; r++) {
                v16u *o = (v16u *)(out + r * lineP);
                const v16u *w = (const v16u *)(kr + r * 32);
                o[0] = gv * w[0] + o[0];
                o[1] = gv * w[1] + o[1];
            }
        }
        unpad_image(dxp, height, width, c, padT, padL, rowsP, colsP, dx + image * height * line);
    }
}

// The wide kernel compiled twice: with AVX-512's 16-float vectors and 32 registers, and with AVX2's
// 8-float ones (the same blocks, the same FMAs per element in the same order, so the same bits).
#define SPARSE_ARGS x, images, height, width, channels, kh, kw, padT, padL, outHeight, outWidth, filters, kT, dy, y, \
                    argmax, relu, dkT, biasSums, dx

__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void pool_sparse_wide_512(const float *x, int images, int height, int width, int channels, int kh, int kw,
                                     int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                                     const float *dy, const float *y, const int *argmax, int relu, float *dkT,
                                     float *biasSums, float *dx) {
    pool_sparse_wide(16, SPARSE_ARGS);
}

AVX static void pool_sparse_wide_256(const float *x, int images, int height, int width, int channels, int kh,
                                         int kw, int padT, int padL, int outHeight, int outWidth, int filters,
                                         const float *kT, const float *dy, const float *y, const int *argmax,
                                         int relu, float *dkT, float *biasSums, float *dx) {
    pool_sparse_wide(8, SPARSE_ARGS);
}

AVX void ck_pool_sparse_gradient(const float *x, int images, int height, int width, int channels, int kh, int kw,
                                 int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                                 const float *dy, const float *y, const int *argmax, int relu, int wide,
                                 float *dkT, float *biasSums, float *dx) {
    if (ck_pool_sparse_row(channels, kw) == 32) {
        if (wide) pool_sparse_narrow_512(SPARSE_ARGS);
        else pool_sparse_narrow(SPARSE_ARGS);
    } else if (wide) pool_sparse_wide_512(SPARSE_ARGS);
    else pool_sparse_wide_256(SPARSE_ARGS);
}
#undef SPARSE_ARGS

#endif
