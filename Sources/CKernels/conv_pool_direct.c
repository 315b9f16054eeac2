// A convolution with 2×2 max pooling after it, computed directly from the image, AVX2/FMA (call
// only when ck_has_avx2_fma() is 1): the forward of the pooled path's `direct` layers (3×3 or 5×5
// kernels, stride 1, up to 32 channels) and the kernel gradient of single-channel first layers
// (Sources/Kernels/ConvolutionPool.swift decides which layers take them).
//
// A first layer sees one channel: im2col would copy each pixel kh·kw times to feed a product
// whose inner dimension is only kh·kw. These kernels read a zero-padded copy of each image
// instead and keep a 2×4 block of outputs (two pooling windows) in registers, so neither the
// columns nor the unpooled output z exist. Each output is summed over the taps in the order
// r·kw + s (then c) from zero, one FMA a term, and the kernel gradient over the pixels in scan
// order (those with a gradient: the others add only zeros): the same operations as im2col +
// ck_gemm_narrow(_tn), so the results are the same bits.
// Both are compiled twice, for AVX2's 16 vector registers and AVX-512's 32 (with 16-float vectors
// for 16 filters at a time in the forward; chosen by the caller with `wide`, once, from
// ck_has_avx512vl()): the same operations per output, so the same bits.
#include "ckernels.h"
#include "vec.h"
#define VW 8
#include "vecw.h"
#include <string.h>

#if defined(__x86_64__)

// The channel loops ask to be unrolled in full, which clang does where the channel count is known
// when compiled (CH > 0) and cannot where it is not (CH = 0, any count): there it says so, once
// per instance. Expected, so not reported.
#pragma clang diagnostic ignored "-Wpass-failed"


/// Largest padded image (rows × columns) the direct kernels take.
#define CONV1_MAX_PADDED 4096

int ck_conv_pool_supported(int height, int width, int channels, int kh, int kw, int padT, int padL, int outHeight,
                           int outWidth, int filters) {
    if (!((kh == 3 && kw == 3) || (kh == 5 && kw == 5)) || filters < 1 || outHeight < 2 || outWidth < 2) return 0;
    const int rows = (outHeight / 2) * 2 + kh - 1, cols = (outWidth / 2) * 2 + kw - 1;
    return channels >= 1 && channels <= 32 && rows * cols * channels <= CONV1_MAX_PADDED && padT >= 0 && padL >= 0
        && padT < kh && padL < kw && height >= 1 && width >= 1;
}

/// xp (rows × cols × C) = the image's pixels at (i − padT, j − padL), zero outside it.
INLINE void conv1_pad(const float *x, int height, int width, int channels, int padT, int padL, int rows, int cols,
                      float *xp) {
    const long c = channels;
    for (int i = 0; i < rows; i++) {
        const int si = i - padT;
        float *row = xp + i * cols * c;
        if (si < 0 || si >= height) { memset(row, 0, sizeof(float) * cols * c); continue; }
        if (c == 1) {
            for (int j = 0; j < cols; j++) {
                const int sj = j - padL;
                row[j] = sj >= 0 && sj < width ? x[si * width + sj] : 0.0f;
            }
            continue;
        }
        // (A row at a time: a copy per pixel of C floats cost more than the copying.)
        const int inside = min_int(width, cols - padL);                  // pixels of the row in xp
        memset(row, 0, sizeof(float) * padL * c);
        memcpy(row + padL * c, x + si * width * c, sizeof(float) * inside * c);
        memset(row + (padL + inside) * c, 0, sizeof(float) * (cols - padL - inside) * c);
    }
}

/// The bias, ReLU and window maximum of NW pooling windows whose 2 × 2·NW outputs are in acc,
/// stored at y/argmax one window after the other (stride f); masked to `mask` unless FULL.
INLINE void windows_store(const int NW, const int FULL, v8 acc[2][8], v8 b, int relu, float *y, int *argmax, long f,
                          __m256i mask) {
    for (int q = 0; q < NW; q++) {
        v8 v[4] = {acc[0][2 * q] + b, acc[0][2 * q + 1] + b, acc[1][2 * q] + b, acc[1][2 * q + 1] + b};
        if (relu)
            for (int p = 0; p < 4; p++) v[p] = vrelu(v[p]);
        v8 best;
        vi8 taken;
        vwindow_max(v, &best, &taken);
        if (FULL) {                                   // (masked stores of whole vectors cost more)
            *(v8u *)(y + q * f) = best;
            *(vi8u *)(argmax + q * f) = taken;
        } else {
            _mm256_maskstore_ps(y + q * f, mask, (__m256)best);
            _mm256_maskstore_epi32(argmax + q * f, mask, (__m256i)taken);
        }
    }
}

/// NW (1 or 2) pooling windows side by side: the 2 × 2·NW outputs of one 8-filter group, then
/// bias, ReLU and the window maximum, stored at y/argmax (one window after the other, stride f).
/// CH channels (CH = 0: `channels`, known at run time); the terms in im2col's order r, s, c.
INLINE void conv1_windows(const int KH, const int KW, const int CH, int channels, const int NW, const int FULL,
                          const float *xp, int cols, const v8 *w, v8 b, int relu, float *y, int *argmax, long f,
                          __m256i mask) {
    const int C = CH ? CH : channels;
    v8 acc[2][8];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2 * NW; c++) acc[a][c] = SPLAT(0.0f);
    for (int r = 0; r < KH; r++)
        for (int s = 0; s < KW; s++)
            for (int ch = 0; ch < C; ch++) {
                const v8 wv = w[(r * KW + s) * C + ch];
                for (int a = 0; a < 2; a++)
                    for (int c = 0; c < 2 * NW; c++)
                        acc[a][c] = SPLAT(xp[((a + r) * cols + c + s) * C + ch]) * wv + acc[a][c];
            }
    windows_store(NW, FULL, acc, b, relu, y, argmax, f, mask);
}

/// conv1_windows for one channel (CH = 1), sweeping each output row's input rows instead of the
/// taps: the K weight vectors of a kernel row stay in registers and each pixel of the input row
/// is broadcast once for every tap that reads it (up to K FMAs), instead of once per FMA, which
/// bound conv1_windows on the broadcasts (LeNet-5's first layer: 0.40 → 0.28 ms per batch with
/// 16 registers, 0.22 ms with 32 and NW = 4). Each output still sums its terms in the order r, s:
/// the same bits.
INLINE void conv1_rows(const int K, const int NW, const int FULL, const float *xp, int cols, const v8 *w, v8 b,
                       int relu, float *y, int *argmax, long f, __m256i mask) {
    const int NC = 2 * NW;
    v8 acc[2][8];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < NC; c++) acc[a][c] = SPLAT(0.0f);
#pragma clang loop unroll(full)
    for (int a = 0; a < 2; a++)
        for (int r = 0; r < K; r++) {
            v8 wr[5];                                 // kernel row r
#pragma clang loop unroll(full)
            for (int t = 0; t < K; t++) wr[t] = w[r * K + t];
            const float *row = xp + (a + r) * cols;
#pragma clang loop unroll(full)
            for (int p = 0; p < NC + K - 1; p++) {
                const v8 xv = SPLAT(row[p]);
#pragma clang loop unroll(full)
                for (int t = 0; t < K; t++) {
                    const int c = p - t;
                    if (c >= 0 && c < NC) acc[a][c] = xv * wr[t] + acc[a][c];
                }
            }
        }
    windows_store(NW, FULL, acc, b, relu, y, argmax, f, mask);
}

typedef double v8d __attribute__((vector_size(64)));

/// vrelu and vwindow_max (vecw.h) on 16-float vectors: the same operations lane by lane.
INLINE void relu_window_max16(v16 v[4], int relu, v16 *best, vi16 *taken) {
    if (relu)
        for (int p = 0; p < 4; p++) v[p] = (v16)((vi16)v[p] & ~(v[p] < SPLAT16(0.0f)));
    v16 b = v[0];
    vi16 t = {0};
    for (int p = 1; p < 4; p++) {
        const vi16 larger = v[p] > b;
        b = (v16)(((vi16)v[p] & larger) | ((vi16)b & ~larger));
        t = (t & ~larger) | ((vi16){0} + p & larger);
    }
    *best = b;
    *taken = t;
}

/// conv1_rows for up to 8 filters in 16-float vectors: lane 2·f + h holds filter f of the upper
/// (h = 0) or the lower half of the image (h = 1, 2·H rows down), so each pass computes the windows
/// of two window rows at once, 12 of 16 lanes busy with LeNet-5's 6 filters instead of 6 of 8.
/// `pairs` holds each padded pixel with the one 2·H rows below it, (upper, lower), broadcast as one
/// double to every lane pair; w and b repeat each filter's value in both lanes of its pair. The
/// same FMAs per output in the same order, so the same bits. Outputs at y (upper) and y2 (lower),
/// `mask` of the filters' lanes.
INLINE void conv1_rows16(const int K, const int NW, const double *pairs, int cols, const v16 *w, const v16 *bias,
                         int relu, float *y, float *y2, int *argmax, int *argmax2, long f, __m256i mask) {
    const int NC = 2 * NW;
    const v16 b = *bias;
    v16 acc[2][8];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < NC; c++) acc[a][c] = SPLAT16(0.0f);
    // Both output rows in one sweep: an accumulator's FMAs are 2·K apart, not K (at two FMAs a
    // cycle, K = 5 is 2.5 cycles, less than an FMA's latency).
    for (int r = 0; r < K; r++) {
        v16 wr[5];                                    // kernel row r
#pragma clang loop unroll(full)
        for (int t = 0; t < K; t++) wr[t] = w[r * K + t];
#pragma clang loop unroll(full)
        for (int p = 0; p < NC + K - 1; p++) {
            v16 xv[2];
            for (int a = 0; a < 2; a++) {
                const double x = pairs[(a + r) * cols + p];
                xv[a] = (v16)(v8d){x, x, x, x, x, x, x, x};
            }
#pragma clang loop unroll(full)
            for (int t = 0; t < K; t++) {
                const int c = p - t;
                if (c >= 0 && c < NC)
                    for (int a = 0; a < 2; a++) acc[a][c] = xv[a] * wr[t] + acc[a][c];
            }
        }
    }
    for (int q = 0; q < NW; q++) {
        v16 v[4] = {acc[0][2 * q] + b, acc[0][2 * q + 1] + b, acc[1][2 * q] + b, acc[1][2 * q + 1] + b};
        v16 best;
        vi16 taken;
        relu_window_max16(v, relu, &best, &taken);
        const v8 upper = __builtin_shufflevector(best, best, 0, 2, 4, 6, 8, 10, 12, 14);
        const v8 lower = __builtin_shufflevector(best, best, 1, 3, 5, 7, 9, 11, 13, 15);
        const vi8 upperTaken = __builtin_shufflevector(taken, taken, 0, 2, 4, 6, 8, 10, 12, 14);
        const vi8 lowerTaken = __builtin_shufflevector(taken, taken, 1, 3, 5, 7, 9, 11, 13, 15);
        _mm256_maskstore_ps(y + q * f, mask, (__m256)upper);
        _mm256_maskstore_ps(y2 + q * f, mask, (__m256)lower);
        _mm256_maskstore_epi32(argmax + q * f, mask, (__m256i)upperTaken);
        _mm256_maskstore_epi32(argmax2 + q * f, mask, (__m256i)lowerTaken);
    }
}

/// conv1_windows for 16 filters in 16-float vectors (w, b; outputs at y): each broadcast input
/// feeds one FMA for all 16, instead of two of 8-float vectors. The same FMAs per output, so the
/// same bits; for AVX-512's 32 registers (up to 20 accumulators: NW ≤ 5).
INLINE void conv1_windows16(const int KH, const int KW, const int CH, int channels, const int NW, const float *xp,
                            int cols, const v16 *w, const v16 *bias, int relu, float *y, int *argmax, long f) {
    const int C = CH ? CH : channels;
    const v16 b = *bias;
    v16 acc[2][10];
    for (int a = 0; a < 2; a++)
        for (int c = 0; c < 2 * NW; c++) acc[a][c] = SPLAT16(0.0f);
    // (The accumulators stay in registers only with the taps' loops kept and the rest unrolled.)
#pragma clang loop unroll(disable)
    for (int r = 0; r < KH; r++)
#pragma clang loop unroll(disable)
        for (int s = 0; s < KW; s++)
#pragma clang loop unroll(full)
            for (int ch = 0; ch < C; ch++) {
                const v16 wv = w[(r * KW + s) * C + ch];
                // (Two row pointers: with C known, every input is at a constant offset from one.)
                const float *rowp[2] = {xp + ((long)r * cols + s) * C + ch, xp + ((long)(r + 1) * cols + s) * C + ch};
#pragma clang loop unroll(full)
                for (int a = 0; a < 2; a++)
#pragma clang loop unroll(full)
                    for (int c = 0; c < 2 * NW; c++) acc[a][c] = SPLAT16(rowp[a][c * C]) * wv + acc[a][c];
            }
    for (int q = 0; q < NW; q++) {
        v16 v[4] = {acc[0][2 * q] + b, acc[0][2 * q + 1] + b, acc[1][2 * q] + b, acc[1][2 * q + 1] + b};
        v16 best;
        vi16 taken;
        relu_window_max16(v, relu, &best, &taken);
        *(v16u *)(y + q * f) = best;
        *(vi16u *)(argmax + q * f) = taken;
    }
}

/// PAIRS: whether whole pairs of full 8-filter groups go through conv1_windows16 (AVX-512).
INLINE void conv1_pool(const int KH, const int KW, const int CH, const int PAIRS, const float *x, int images,
                       int height, int width,
                       int channels, int padT, int padL, int outHeight, int outWidth, int filters, const float *kernel,
                       const float *bias, int relu, float *y, int *argmax) {
    const int ph = outHeight / 2, pw = outWidth / 2, rows = 2 * ph + KH - 1, cols = 2 * pw + KW - 1;
    const long f = filters, perImage = (long)ph * pw * f;
    float xp[CONV1_MAX_PADDED] __attribute__((aligned(32)));
    v8 w[5 * 5 * 32];                                 // a group's kernel: kh·kw·C vectors
    v16 w16[PAIRS ? 5 * 5 * 32 : 1];                  // (PAIRS) two groups' kernel, or a group's in pairs
    const int taps = KH * KW * channels;
    // One channel with AVX-512: the window rows i < 2·H of an 8-filter group go through conv1_rows16
    // two at a time (i and i + H), each padded pixel paired with the one 2·H rows below it.
    const int H = PAIRS && CH == 1 ? ph / 2 : 0, pairRows = 2 * H + KH - 1;
    double pairs[PAIRS && CH == 1 ? CONV1_MAX_PADDED : 1];
    for (int image = 0; image < images; image++) {
        conv1_pad(x + (long)image * height * width * channels, height, width, channels, padT, padL, rows, cols, xp);
        if (H > 0)
            for (int p = 0; p < pairRows * cols; p++) {
                const float two[2] = {xp[p], xp[p + 2 * H * cols]};
                memcpy(pairs + p, two, sizeof(double));
            }
        int k = 0;
        for (; PAIRS && k + 16 <= filters; k += 16) {
            for (int t = 0; t < taps; t++) w16[t] = *(const v16u *)(kernel + t * f + k);
            const v16 b = bias ? *(const v16u *)(bias + k) : SPLAT16(0.0f);
            float *out = y + image * perImage + k;
            int *taken = argmax + image * perImage + k;
            for (int i = 0; i < ph; i++) {
                const float *top = xp + 2 * i * cols * channels;
                const long at = (long)i * pw * f;
                int j = 0;
#define WINDOWS16(NW) conv1_windows16(KH, KW, CH, channels, NW, top + 2 * j * channels, cols, w16, &b, relu, \
                                      out + at + j * f, taken + at + j * f, f)
                // Four windows a pass, the last 2 to 5 in one (one window alone, 4 accumulators, waits
                // on the FMAs' latency: LeNet-5's rows of 5 windows ran 4 + 1 at 0.70 ms per batch).
                for (; pw - j > 5; j += 4) WINDOWS16(4);
                switch (pw - j) {
                case 5: WINDOWS16(5); break;
                case 4: WINDOWS16(4); break;
                case 3: WINDOWS16(3); break;
                case 2: WINDOWS16(2); break;
                default: WINDOWS16(1);
                }
#undef WINDOWS16
            }
        }
        for (; k < filters; k += 8) {
            const int lanes = filters - k < 8 ? filters - k : 8;
            const __m256i mask = lanes_mask(lanes);
            for (int t = 0; t < taps; t++) w[t] = (v8)_mm256_maskload_ps(kernel + t * f + k, mask);
            const v8 b = bias ? (v8)_mm256_maskload_ps(bias + k, mask) : SPLAT(0.0f);
            float *out = y + image * perImage + k;
            int *taken = argmax + image * perImage + k;
            if (H > 0) {
                for (int t = 0; t < taps; t++)
                    w16[t] = (v16)__builtin_shufflevector(w[t], w[t], 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                const v16 b16 = __builtin_shufflevector(b, b, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
                for (int i = 0; i < H; i++) {
                    const double *top = pairs + 2 * i * cols;
                    const long at = (long)i * pw * f, at2 = (long)(i + H) * pw * f;
                    int j = 0;
#define ROWS16(NW) conv1_rows16(KH, NW, top + 2 * j, cols, w16, &b16, relu, out + at + j * f, out + at2 + j * f, \
                                taken + at + j * f, taken + at2 + j * f, f, mask)
                    for (; j + 4 <= pw; j += 4) ROWS16(4);
                    for (; j + 2 <= pw; j += 2) ROWS16(2);
                    if (j < pw) ROWS16(1);
#undef ROWS16
                }
            }
            for (int i = 2 * H; i < ph; i++) {        // (all of them without conv1_rows16; else an odd last)
                const float *top = xp + 2 * i * cols * channels;
                const long at = (long)i * pw * f;
                int j = 0;
#define WINDOWS(NW, FULL)                                                                                      \
    if (CH == 1)                                                                                               \
        conv1_rows(KH, NW, FULL, top + 2 * j, cols, w, b, relu, out + at + j * f, taken + at + j * f, f, mask);  \
    else                                                                                                       \
        conv1_windows(KH, KW, CH, channels, NW, FULL, top + 2 * j * channels, cols, w, b, relu,                \
                      out + at + j * f, taken + at + j * f, f, mask)
                // Fewer than 8 filters in all: whole vectors too, each one's extra lanes landing on
                // the next window, which is stored after it, except in the call's last row.
                const int overhang = filters < 8 && !(image == images - 1 && i == ph - 1);
                // One channel with 32 registers: four windows (16 accumulators) a pass where they fit.
#define ROW(FULL) do {                                                                                         \
        if (PAIRS && CH == 1) for (; j + 4 <= pw; j += 4) { WINDOWS(4, FULL); }                               \
        for (; j + 2 <= pw; j += 2) { WINDOWS(2, FULL); }                                                      \
        if (j < pw) { WINDOWS(1, FULL); }                                                                      \
    } while (0)
                if (lanes == 8 || overhang) ROW(1);
                else ROW(0);
#undef ROW
#undef WINDOWS
            }
        }
    }
}

// Compiled twice like the kernel gradient below: with AVX-512's 16-float vectors for 16 filters at a
// time (the same operations per output, so the same bits). Six channels (LeNet-5's second layer)
// known when compiled: each input's offset is then a constant from one of two row pointers.
#define CONV_POOL_BODY(PAIRS)                                                                                    \
    if (kh == 3) { if (channels == 1) POOL(3, 1, PAIRS); else POOL(3, 0, PAIRS); }                               \
    else if (channels == 1) POOL(5, 1, PAIRS);                                                                   \
    else if (channels == 6) POOL(5, 6, PAIRS);                                                                 \
    else POOL(5, 0, PAIRS);
#define POOL(KH, CH, PAIRS) conv1_pool(KH, KH, CH, PAIRS, x, images, height, width, channels, padT, padL,          \
                                       outHeight, outWidth, filters, kernel, bias, relu, y, argmax)

__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void conv_pool_512(const float *x, int images, int height, int width, int channels, int kh, int padT,
                          int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                          int relu, float *y, int *argmax) {
    CONV_POOL_BODY(1)
}

AVX static void conv_pool_256(const float *x, int images, int height, int width, int channels, int kh, int padT,
                              int padL, int outHeight, int outWidth, int filters, const float *kernel,
                              const float *bias, int relu, float *y, int *argmax) {
    CONV_POOL_BODY(0)
}
#undef POOL
#undef CONV_POOL_BODY

AVX void ck_conv_pool(const float *x, int images, int height, int width, int channels, int kh, int kw, int padT,
                      int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                      int relu, int wide, float *y, int *argmax) {
    if (wide)
        conv_pool_512(x, images, height, width, channels, kh, padT, padL, outHeight, outWidth, filters, kernel, bias,
                      relu, y, argmax);
    else
        conv_pool_256(x, images, height, width, channels, kh, padT, padL, outHeight, outWidth, filters, kernel, bias,
                      relu, y, argmax);
}

/// The gradient's terms of one image for NG (1 or 2) adjacent 8-filter groups, the output pixels
/// (R, c) in scan order: at[e] = R·cols + c, the pixel's offset in the padded image, and d[e·NG + g]
/// its gradient for group g (dz at its window's argmax, zero elsewhere). A pixel whose d is zero
/// in every lane is left out: its terms x·0 are zeros, which leave a sum that starts from zero as
/// it was (unless x holds an infinity or NaN), so the bits are those of every pixel summed. After
/// the pooling a pixel has a gradient for about a quarter of the filters, and the ReLU zeroes
/// more: training `speedrun.yaml`, LeNet-5's first layer keeps 37% of its pixels. With `sums`,
/// also sums += each window's gradient (window order). Without FULL (the last group has fewer
/// than 8 filters), loads are masked by masks[g]. Returns the number of terms.
INLINE int conv1_gradient_terms(const int NG, const int FULL, int cols, int ph, int pw, const float *dy, const float *y,
                                const int *argmax, int relu, long f, const __m256i *masks, int *at, v8 *d,
                                float *sums) {
    v8 total[2];
    for (int g = 0; g < NG; g++) total[g] = sums ? (v8)_mm256_maskload_ps(sums + 8 * g, masks[g]) : SPLAT(0.0f);
    int n = 0;
    for (int R = 0; R < 2 * ph; R++) {
        const int i = R >> 1, top = (R & 1) * 2;
        const vi8 first = {top, top, top, top, top, top, top, top}, second = first + 1;
        for (int j = 0; j < pw; j++) {
            v8 d0[2], d1[2];
            vi8 any0 = {0}, any1 = {0};
            for (int g = 0; g < NG; g++) {
                const long w = ((long)i * pw + j) * f + 8 * g;
                v8 dz = FULL ? *(const v8u *)(dy + w) : (v8)_mm256_maskload_ps(dy + w, masks[g]);
                if (relu) {
                    const v8 out = FULL ? *(const v8u *)(y + w) : (v8)_mm256_maskload_ps(y + w, masks[g]);
                    dz = (v8)((vi8)dz & (out > SPLAT(0.0f)));                                   // NaN → 0
                }
                if (sums && top == 0) total[g] += dz;
                const vi8 q = FULL ? *(const vi8u *)(argmax + w) : (vi8)_mm256_maskload_epi32(argmax + w, masks[g]);
                d0[g] = (v8)((vi8)dz & (q == first));
                d1[g] = (v8)((vi8)dz & (q == second));
                any0 |= (vi8)d0[g];
                any1 |= (vi8)d1[g];
            }
            // Written always, kept when nonzero: no branch to mispredict on the argmax.
            at[n] = R * cols + 2 * j;
            for (int g = 0; g < NG; g++) d[n * NG + g] = d0[g];
            n += !_mm256_testz_si256((__m256i)any0, (__m256i)any0);
            at[n] = R * cols + 2 * j + 1;
            for (int g = 0; g < NG; g++) d[n * NG + g] = d1[g];
            n += !_mm256_testz_si256((__m256i)any1, (__m256i)any1);
        }
    }
    if (sums)
        for (int g = 0; g < NG; g++) _mm256_maskstore_ps(sums + 8 * g, masks[g], (__m256)total[g]);
    return n;
}

/// Kernel rows r0 ..< r0 + NR of the gradient of NG adjacent 8-filter groups:
/// acc[g][(r − r0)·KW + s] += x[R + r][c + s] · d[e][g] for the n terms e (pixels (R, c)) in order.
INLINE void conv1_gradient_rows(const int KW, const int NR, const int NG, int r0, const float *xp, int cols,
                                const int *at, const v8 *d, int n, v8 *acc0, v8 *acc1) {
    v8 a[2][25];
    v8 *acc[2] = {acc0, acc1};
    for (int g = 0; g < NG; g++)
        for (int t = 0; t < NR * KW; t++) a[g][t] = acc[g][t];
    for (int e = 0; e < n; e++) {
        const float *px = xp + at[e] + r0 * cols;
        for (int r = 0; r < NR; r++)
            for (int s = 0; s < KW; s++) {
                const v8 x = SPLAT(px[r * cols + s]);
                for (int g = 0; g < NG; g++) a[g][r * KW + s] = x * d[e * NG + g] + a[g][r * KW + s];
            }
    }
    for (int g = 0; g < NG; g++)
        for (int t = 0; t < NR * KW; t++) acc[g][t] = a[g][t];
}

/// conv1_gradient_rows for all KH kernel rows of one 8-filter group in 16-float vectors (AVX-512):
/// lane 2·f + e of a[r][h] holds tap (r, 2h + e) of filter f, so each pixel's gradient (each
/// filter's value in both lanes of its pair) meets two adjacent inputs broadcast together as one
/// double: (KW + 1)/2 FMAs a kernel row instead of KW (with an odd KW the last pair's second lane,
/// a tap past the kernel, is dropped). The same terms in the same order per element: the same
/// bits. acc (KH·KW vectors, tap-major) is read and written back.
INLINE void conv1_gradient_pairs(const int KH, const int KW, const float *xp, int cols, const int *at, const v8 *d,
                                 int n, v8 *acc) {
    const int SP = (KW + 1) / 2;
    v16 a[5][3];
    for (int r = 0; r < KH; r++)
        for (int h = 0; h < SP; h++) {
            const v8 even = acc[r * KW + 2 * h], odd = 2 * h + 1 < KW ? acc[r * KW + 2 * h + 1] : SPLAT(0.0f);
            a[r][h] = __builtin_shufflevector(even, odd, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
        }
    for (int e = 0; e < n; e++) {
        const v16 dd = __builtin_shufflevector(d[e], d[e], 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        const float *px = xp + at[e];
        for (int r = 0; r < KH; r++)
            for (int h = 0; h < SP; h++) {
                double two;
                memcpy(&two, px + r * cols + 2 * h, sizeof two);
                a[r][h] = (v16)(v8d){two, two, two, two, two, two, two, two} * dd + a[r][h];
            }
    }
    for (int r = 0; r < KH; r++)
        for (int h = 0; h < SP; h++) {
            acc[r * KW + 2 * h] = __builtin_shufflevector(a[r][h], a[r][h], 0, 2, 4, 6, 8, 10, 12, 14);
            if (2 * h + 1 < KW) acc[r * KW + 2 * h + 1] = __builtin_shufflevector(a[r][h], a[r][h], 1, 3, 5, 7, 9, 11, 13, 15);
        }
}

/// NG: 8-filter groups a pass takes (2 with 32 vector registers, 1 with 16); a pass keeps as many
/// kernel rows' accumulators in registers as fit in 25 (32 registers) or 10 (16): two rows of a
/// 5×5 kernel with AVX2. A single group with AVX-512 takes conv1_gradient_pairs (all rows).
INLINE void conv1_pool_gradient(const int KH, const int KW, const int NG, const float *x, int images, int height,
                                int width, int padT, int padL, int outHeight, int outWidth, int filters,
                                const float *dy, const float *y, const int *argmax, int relu, float *dk,
                                float *biasSums) {
    const int ph = outHeight / 2, pw = outWidth / 2, rows = 2 * ph + KH - 1, cols = 2 * pw + KW - 1;
    const int budget = NG == 2 ? 25 : 10;             // accumulator vectors a pass
    const long f = filters, perImage = (long)ph * pw * f;
    float xp[CONV1_MAX_PADDED + 1] __attribute__((aligned(32)));    // (+ a tap pair's overreach)
    int at[4 * ph * pw];                              // an image's terms (conv1_gradient_terms)
    v8 d[4 * ph * pw * NG];
    v8 acc[4][KH * KW];                               // 8-filter groups × taps, summed over the images
    const int groups = (filters + 7) / 8;
    for (int g = 0; g < groups && g < 4; g++)
        for (int t = 0; t < KH * KW; t++) acc[g][t] = SPLAT(0.0f);
    for (int g0 = 0; g0 < groups; g0 += 4) {          // (more than 32 filters: four groups a round)
        const int g1 = groups < g0 + 4 ? groups : g0 + 4;
        for (int image = 0; image < images; image++) {
            conv1_pad(x + (long)image * height * width, height, width, 1, padT, padL, rows, cols, xp);
            for (int g = g0; g < g1; g += NG) {
                const int n = g + NG <= g1 ? NG : 1;  // groups this pass
                const long k = g * 8;
                const int lanes = filters - k - 8 * (n - 1) < 8 ? (int)(filters - k - 8 * (n - 1)) : 8;
                const __m256i masks[2] = {n == 1 ? lanes_mask(lanes) : lanes_mask(8), lanes_mask(lanes)};
                const long offset = image * perImage + k;
                float *sums = biasSums ? biasSums + k : NULL;
#define TERMS(N, FULL) conv1_gradient_terms(N, FULL, cols, ph, pw, dy + offset, y + offset, argmax + offset, relu, \
                                            f, masks, at, d, sums)
                int terms;
                if (n == 2) terms = lanes == 8 ? TERMS(2, 1) : TERMS(2, 0);
                else terms = lanes == 8 ? TERMS(1, 1) : TERMS(1, 0);
#undef TERMS
                if (NG == 2 && n == 1) {              // (AVX-512, one group: tap pairs, all rows at once)
                    conv1_gradient_pairs(KH, KW, xp, cols, at, d, terms, acc[g - g0]);
                    continue;
                }
                const int perSet = budget / (n * KW) < KH ? budget / (n * KW) : KH;   // kernel rows a pass
                for (int r0 = 0, nr; r0 < KH; r0 += nr) {
                    nr = KH - r0 < perSet ? KH - r0 : perSet;                 // 5, 3, 2 or (last) 1
                    v8 *a0 = acc[g - g0] + r0 * KW, *a1 = n == 2 ? acc[g - g0 + 1] + r0 * KW : a0;
#define ROWS(NR, N) conv1_gradient_rows(KW, NR, N, r0, xp, cols, at, d, terms, a0, a1)
#define ROWS_N(NR) do { if (n == 2) ROWS(NR, 2); else ROWS(NR, 1); } while (0)
                    switch (nr) {
                    case 5: ROWS_N(5); break;
                    case 3: ROWS_N(3); break;
                    case 2: ROWS_N(2); break;
                    default: ROWS_N(1);
                    }
#undef ROWS_N
#undef ROWS
                }
            }
        }
        for (int g = g0; g < g1; g++) {
            const long k = g * 8;
            const __m256i mask = lanes_mask(filters - k < 8 ? (int)(filters - k) : 8);
            for (int t = 0; t < KH * KW; t++) {
                _mm256_maskstore_ps(dk + t * f + k, mask, (__m256)acc[g - g0][t]);
                acc[g - g0][t] = SPLAT(0.0f);
            }
        }
    }
}

// The same code compiled twice: with AVX-512VL the compiler has 32 vector registers instead of 16,
// enough to keep two filter groups' accumulators in registers a pass (with 16 one group's already
// spill); each accumulator sees the same FMAs in the same order, so the bits are the same.
#define CONV1_GRADIENT_BODY(NG)                                                                                  \
    if (kh == 3) conv1_pool_gradient(3, 3, NG, x, images, height, width, padT, padL, outHeight, outWidth,       \
                                     filters, dy, y, argmax, relu, dk, biasSums);                               \
    else conv1_pool_gradient(5, 5, NG, x, images, height, width, padT, padL, outHeight, outWidth, filters, dy,  \
                             y, argmax, relu, dk, biasSums);

__attribute__((target("avx2,fma,avx512f,avx512vl")))
static void conv1_pool_kernel_gradient_512(const float *x, int images, int height, int width, int kh, int kw,
                                           int padT, int padL, int outHeight, int outWidth, int filters,
                                           const float *dy, const float *y, const int *argmax, int relu, float *dk,
                                           float *biasSums) {
    CONV1_GRADIENT_BODY(2)
}

AVX static void conv1_pool_kernel_gradient_256(const float *x, int images, int height, int width, int kh, int kw,
                                               int padT, int padL, int outHeight, int outWidth, int filters,
                                               const float *dy, const float *y, const int *argmax, int relu,
                                               float *dk, float *biasSums) {
    CONV1_GRADIENT_BODY(1)
}

AVX void ck_conv1_pool_kernel_gradient(const float *x, int images, int height, int width, int kh, int kw, int padT,
                                       int padL, int outHeight, int outWidth, int filters, const float *dy,
                                       const float *y, const int *argmax, int relu, int wide, float *dk,
                                       float *biasSums) {
    if (wide) conv1_pool_kernel_gradient_512(x, images, height, width, kh, kw, padT, padL, outHeight, outWidth,
                                             filters, dy, y, argmax, relu, dk, biasSums);
    else conv1_pool_kernel_gradient_256(x, images, height, width, kh, kw, padT, padL, outHeight, outWidth, filters,
                                        dy, y, argmax, relu, dk, biasSums);
}

#endif
