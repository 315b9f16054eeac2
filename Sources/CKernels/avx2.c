// AVX2/FMA kernels, compiled for AVX2+FMA alone (function attributes) and called only when
// ck_has_avx2_fma() is true: the tile transforms of Winograd F(4×4, 3×3) (the same loops as the
// Swift fallback in Sources/Kernels/Winograd.swift, 8 channels per vector) and the narrow
// products of a pooled convolution (Sources/Kernels/ConvolutionPool.swift). With FMA, products
// and sums round differently from the fallbacks (the tests compare both to a tolerance), but each
// function has one fixed order of operations, so results do not depend on the thread count.
#include "ckernels.h"
#include "vec.h"
#include <string.h>

#if defined(__x86_64__)

int ck_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/// Bᵀ d: (4a − 5c + e, −4b − 4c + d + e, 4b − 4c − d + e, −2b − c + 2d + e, 2b − c − 2d + e, 4b − 5d + f)
INLINE void input_transform(v8 a, v8 b, v8 c, v8 d, v8 e, v8 f, v8 o[6]) {
    v8 ec = e - c, twice = SPLAT(2.0f) * (d - b);
    o[0] = SPLAT(4.0f) * (a - c) + ec;
    o[1] = (d + e) - SPLAT(4.0f) * (b + c);
    o[2] = (e - d) + SPLAT(4.0f) * (b - c);
    o[3] = ec + twice;
    o[4] = ec - twice;
    o[5] = SPLAT(4.0f) * (b - d) + (f - d);
}

/// B g, the adjoint of input_transform.
INLINE void input_adjoint(v8 a, v8 b, v8 c, v8 d, v8 e, v8 f, v8 o[6]) {
    v8 p = b + c, q = d + e, m = c - b, n = e - d;
    o[0] = SPLAT(4.0f) * a;
    o[1] = SPLAT(4.0f) * (m + f) + SPLAT(2.0f) * n;
    o[2] = -(SPLAT(4.0f) * (p + a) + (q + a));
    o[3] = -(m + SPLAT(2.0f) * n + SPLAT(5.0f) * f);
    o[4] = a + p + q;
    o[5] = f;
}

static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline int min_int(int a, int b) { return a < b ? a : b; }

AVX void ck_winograd_input(const float *x, int images, int height, int width, int channels, int pad,
                           int tilesH, int tilesW, float *v) {
    const long c = channels, t = (long)images * tilesH * tilesW, line = (long)width * c, step = t * c;
    long tile = 0;
    for (int image = 0; image < images; image++) {
        const float *base = x + image * height * line;
        for (int i = 0; i < tilesH; i++) {
            const int top = i * 4 - pad, r0 = max_int(0, -top), r1 = max_int(0, min_int(6, height - top));
            for (int j = 0; j < tilesW; j++) {
                const int left = j * 4 - pad, s0 = max_int(0, -left), s1 = max_int(0, min_int(6, width - left));
                const int full = r0 == 0 && r1 == 6 && s0 == 0 && s1 == 6;
                for (long k = 0; k < c; k += 8) {
                    const int lanes = (int)(c - k < 8 ? c - k : 8);
                    const float *corner = base + top * line + left * c + k;
                    v8 rows[36];
                    // rows[·][s] = Bᵀ · d[·][s], column by column.
                    for (int s = 0; s < 6; s++) {
                        v8 d[6], o[6];
                        for (int r = 0; r < 6; r++) {
                            d[r] = full || (r >= r0 && r < r1 && s >= s0 && s < s1)
                                ? load(corner + r * line + s * c, lanes) : SPLAT(0.0f);
                        }
                        input_transform(d[0], d[1], d[2], d[3], d[4], d[5], o);
                        for (int r = 0; r < 6; r++) rows[r * 6 + s] = o[r];
                    }
                    // V[r][·] = rows[r][·] · B, to positions ξ = 6r + s.
                    for (int r = 0; r < 6; r++) {
                        v8 o[6];
                        const v8 *q = rows + r * 6;
                        input_transform(q[0], q[1], q[2], q[3], q[4], q[5], o);
                        float *out = v + ((r * 6) * t + tile) * c + k;
                        for (int s = 0; s < 6; s++) store(o[s], out + s * step, lanes);
                    }
                }
                tile++;
            }
        }
    }
}

AVX void ck_winograd_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                                    int tilesH, int tilesW, float *dx) {
    const long c = channels, t = (long)images * tilesH * tilesW, line = (long)width * c, step = t * c;
    memset(dx, 0, sizeof(float) * images * height * line);
    long tile = 0;
    for (int image = 0; image < images; image++) {
        float *base = dx + image * height * line;
        for (int i = 0; i < tilesH; i++) {
            const int top = i * 4 - pad, r0 = max_int(0, -top), r1 = max_int(0, min_int(6, height - top));
            for (int j = 0; j < tilesW; j++) {
                const int left = j * 4 - pad, s0 = max_int(0, -left), s1 = max_int(0, min_int(6, width - left));
                for (long k = 0; k < c; k += 8) {
                    const int lanes = (int)(c - k < 8 ? c - k : 8);
                    v8 rows[36];
                    // rows[r][·] = B · dV[r][·] over s.
                    const float *dt = dv + tile * c + k;
                    for (int r = 0; r < 6; r++) {
                        const float *at = dt + r * 6 * step;
                        input_adjoint(load(at, lanes), load(at + step, lanes), load(at + 2 * step, lanes),
                                      load(at + 3 * step, lanes), load(at + 4 * step, lanes),
                                      load(at + 5 * step, lanes), rows + r * 6);
                    }
                    // d[·][s] = B · rows[·][s] over r, added into dx where inside the image.
                    float *corner = base + top * line + left * c + k;
                    for (int s = s0; s < s1; s++) {
                        v8 o[6];
                        input_adjoint(rows[s], rows[6 + s], rows[12 + s], rows[18 + s], rows[24 + s], rows[30 + s], o);
                        for (int r = r0; r < r1; r++) {
                            float *at = corner + r * line + s * c;
                            store(load(at, lanes) + o[r], at, lanes);
                        }
                    }
                }
                tile++;
            }
        }
    }
}


/// Aᵀ m (4 from 6): (a + b + c + d + e, b − c + 2d − 2e, b + c + 4d + 4e, b − c + 8d − 8e + f)
INLINE void output_transform(v8 a, v8 b, v8 c, v8 d, v8 e, v8 f, v8 o[4]) {
    v8 p = b + c, q = d + e, r = b - c, s = d - e;
    o[0] = a + p + q;
    o[1] = r + SPLAT(2.0f) * s;
    o[2] = p + SPLAT(4.0f) * q;
    o[3] = r + SPLAT(8.0f) * s + f;
}

/// A g (6 from 4), the adjoint of output_transform.
INLINE void output_adjoint(v8 a, v8 b, v8 c, v8 d, v8 o[6]) {
    v8 p = a + c, q = b + d, r = a + SPLAT(4.0f) * c, s = SPLAT(2.0f) * (b + SPLAT(4.0f) * d);
    o[0] = a;
    o[1] = p + q;
    o[2] = p - q;
    o[3] = r + s;
    o[4] = r - s;
    o[5] = d;
}

AVX void ck_winograd_output(const float *m, int images, int outHeight, int outWidth, int filters,
                            int tilesH, int tilesW, const float *bias, int relu, float *y, int *argmax) {
    const long f = filters, t = (long)images * tilesH * tilesW, line = (long)outWidth * f, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2;
    long tile = 0;
    for (int image = 0; image < images; image++) {
        const long imageOffset = image * (argmax == NULL ? outHeight * line : (long)ph * pw * f);
        float *base = y + imageOffset;
        for (int i = 0; i < tilesH; i++) {
            const int height = min_int(4, outHeight - i * 4);
            for (int j = 0; j < tilesW; j++) {
                const int width = min_int(4, outWidth - j * 4);
                for (long k = 0; k < f; k += 8) {
                    const int lanes = (int)(f - k < 8 ? f - k : 8);
                    const v8 b = bias ? load(bias + k, lanes) : SPLAT(0.0f);
                    const float *mt = m + tile * f + k;
                    v8 rows[24], z[16];
                    for (int s = 0; s < 6; s++) {
                        const float *column = mt + s * step;
                        v8 o[4];
                        output_transform(load(column, lanes), load(column + 6 * step, lanes),
                                         load(column + 12 * step, lanes), load(column + 18 * step, lanes),
                                         load(column + 24 * step, lanes), load(column + 30 * step, lanes), o);
                        rows[s] = o[0]; rows[6 + s] = o[1]; rows[12 + s] = o[2]; rows[18 + s] = o[3];
                    }
                    for (int r = 0; r < height; r++) {
                        v8 o[4];
                        const v8 *q = rows + r * 6;
                        output_transform(q[0], q[1], q[2], q[3], q[4], q[5], o);
                        float *out = base + (i * 4 + r) * line + j * 4 * f + k;
                        for (int s = 0; s < width; s++) {
                            v8 value = o[s] + b;
                            if (relu) value = relu8(value);
                            if (argmax == NULL) store(value, out + s * f, lanes); else z[r * 4 + s] = value;
                        }
                    }
                    if (argmax == NULL) continue;
                    // The tile's 2×2 windows: maximum in scan order, strict (ties keep the first).
                    for (int wr = 0; wr < 2 && i * 2 + wr < ph; wr++) {
                        for (int wc = 0; wc < 2 && j * 2 + wc < pw; wc++) {
                            const int z0 = wr * 8 + wc * 2;
                            const v8 window[4] = {z[z0], z[z0 + 1], z[z0 + 4], z[z0 + 5]};
                            v8 best;
                            vi8 taken;
                            window_max(window, &best, &taken);
                            const long at = ((long)(i * 2 + wr) * pw + j * 2 + wc) * f + k;
                            store(best, base + at, lanes);
                            if (lanes == 8) *(vi8u *)(argmax + imageOffset + at) = taken;
                            else for (int l = 0; l < lanes; l++) argmax[imageOffset + at + l] = taken[l];
                        }
                    }
                }
                tile++;
            }
        }
    }
}

AVX void ck_winograd_output_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,
                                     int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                     float *dm, float *biasSums) {
    const long f = filters, t = (long)images * tilesH * tilesW, line = (long)outWidth * f, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2;
    long tile = 0;
    for (int image = 0; image < images; image++) {
        const long base = image * (argmax == NULL ? outHeight * line : (long)ph * pw * f);
        for (int i = 0; i < tilesH; i++) {
            const int height = min_int(4, outHeight - i * 4);
            for (int j = 0; j < tilesW; j++) {
                const int width = min_int(4, outWidth - j * 4);
                for (long k = 0; k < f; k += 8) {
                    const int lanes = (int)(f - k < 8 ? f - k : 8);
                    v8 sum = load(biasSums + k, lanes);
                    v8 dz[16], cols[24];
                    for (int q = 0; q < 16; q++) dz[q] = SPLAT(0.0f);
                    if (argmax != NULL) {
                        // From the tile's 2×2 windows' gradients.
                        for (int wr = 0; wr < 2 && i * 2 + wr < ph; wr++) {
                            for (int wc = 0; wc < 2 && j * 2 + wc < pw; wc++) {
                                const long at = base + ((long)(i * 2 + wr) * pw + j * 2 + wc) * f + k;
                                v8 g = load(dy + at, lanes);
                                if (relu) g = (v8)((vi8)g & (load(y + at, lanes) > SPLAT(0.0f)));
                                sum += g;
                                vi8 taken = {-1, -1, -1, -1, -1, -1, -1, -1};
                                if (lanes == 8) taken = *(const vi8u *)(argmax + at);
                                else for (int l = 0; l < lanes; l++) taken[l] = argmax[at + l];
                                const int z0 = wr * 8 + wc * 2;
                                static const int offsets[4] = {0, 1, 4, 5};
                                for (int q = 0; q < 4; q++) {
                                    const vi8 hit = taken == (vi8){q, q, q, q, q, q, q, q};
                                    dz[z0 + offsets[q]] = (v8)((vi8)g & hit);
                                }
                            }
                        }
                    } else {
                        for (int r = 0; r < height; r++) {
                            for (int s = 0; s < width; s++) {
                                const long at = base + (i * 4 + r) * line + (j * 4 + s) * f + k;
                                v8 d = load(dy + at, lanes);
                                if (relu) d = (v8)((vi8)d & (load(y + at, lanes) > SPLAT(0.0f)));
                                sum += d;
                                dz[r * 4 + s] = d;
                            }
                        }
                    }
                    // cols[r][·] = A · dZ[r][·] over s (4 → 6).
                    for (int r = 0; r < 4; r++) {
                        output_adjoint(dz[r * 4], dz[r * 4 + 1], dz[r * 4 + 2], dz[r * 4 + 3], cols + r * 6);
                    }
                    store(sum, biasSums + k, lanes);
                    // dM[·][s] = A · cols[·][s] over r (4 → 6), to positions ξ = 6r + s.
                    float *out = dm + tile * f + k;
                    for (int s = 0; s < 6; s++) {
                        v8 o[6];
                        output_adjoint(cols[s], cols[6 + s], cols[12 + s], cols[18 + s], o);
                        float *column = out + s * step;
                        for (int r = 0; r < 6; r++) store(o[r], column + r * 6 * step, lanes);
                    }
                }
                tile++;
            }
        }
    }
}

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

// MARK: Single-channel convolution with 2×2 max pooling, direct
//
// A first layer sees one channel: im2col would copy each pixel kh·kw times to feed a product
// whose inner dimension is only kh·kw. These kernels read a zero-padded copy of each image
// instead and keep a 2×4 block of outputs (two pooling windows) in registers, so neither the
// columns nor the unpooled output z exist. Each output is summed over the taps in the order
// r·kw + s from zero, one FMA a term, and the kernel gradient over the pixels in scan order:
// the same operations as im2col + ck_gemm_narrow(_tn), so the results are the same bits.

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
        for (int j = 0; j < cols; j++) {
            const int sj = j - padL;
            if (sj >= 0 && sj < width) memcpy(row + j * c, x + (si * width + sj) * c, sizeof(float) * c);
            else memset(row + j * c, 0, sizeof(float) * c);
        }
    }
}

/// The bias, ReLU and window maximum of NW pooling windows whose 2 × 2·NW outputs are in acc,
/// stored at y/argmax one window after the other (stride f); masked to `mask` unless FULL.
INLINE void windows_store(const int NW, const int FULL, v8 acc[2][8], v8 b, int relu, float *y, int *argmax, long f,
                          __m256i mask) {
    for (int q = 0; q < NW; q++) {
        v8 v[4] = {acc[0][2 * q] + b, acc[0][2 * q + 1] + b, acc[1][2 * q] + b, acc[1][2 * q + 1] + b};
        if (relu)
            for (int p = 0; p < 4; p++) v[p] = relu8(v[p]);
        v8 best;
        vi8 taken;
        window_max(v, &best, &taken);
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

/// conv1_windows for two full 8-filter groups at once (w and w2, b and b2; outputs at y and
/// y + 8): each broadcast input feeds 16 FMAs instead of 8. The same FMAs per output, so the
/// same bits; for 32 vector registers (16 accumulators).
INLINE void conv1_windows2(const int KH, const int KW, const int CH, int channels, const int NW, const float *xp,
                           int cols, const v8 *w, const v8 *w2, v8 b, v8 b2, int relu, float *y, int *argmax,
                           long f) {
    const int C = CH ? CH : channels;
    v8 acc[2][2][4];
    for (int g = 0; g < 2; g++)
        for (int a = 0; a < 2; a++)
            for (int c = 0; c < 2 * NW; c++) acc[g][a][c] = SPLAT(0.0f);
    for (int r = 0; r < KH; r++)
        for (int s = 0; s < KW; s++)
            for (int ch = 0; ch < C; ch++) {
                const int t = (r * KW + s) * C + ch;
                const v8 wv = w[t], wv2 = w2[t];
                for (int a = 0; a < 2; a++)
                    for (int c = 0; c < 2 * NW; c++) {
                        const v8 xv = SPLAT(xp[((a + r) * cols + c + s) * C + ch]);
                        acc[0][a][c] = xv * wv + acc[0][a][c];
                        acc[1][a][c] = xv * wv2 + acc[1][a][c];
                    }
            }
    for (int g = 0; g < 2; g++) {
        const v8 bg = g ? b2 : b;
        for (int q = 0; q < NW; q++) {
            v8 v[4] = {acc[g][0][2 * q] + bg, acc[g][0][2 * q + 1] + bg, acc[g][1][2 * q] + bg, acc[g][1][2 * q + 1] + bg};
            if (relu)
                for (int p = 0; p < 4; p++) v[p] = relu8(v[p]);
            v8 best;
            vi8 taken;
            window_max(v, &best, &taken);
            *(v8u *)(y + q * f + 8 * g) = best;
            *(vi8u *)(argmax + q * f + 8 * g) = taken;
        }
    }
}

/// PAIRS: whether whole pairs of full 8-filter groups go through conv1_windows2 (32 registers).
INLINE void conv1_pool(const int KH, const int KW, const int CH, const int PAIRS, const float *x, int images,
                       int height, int width,
                       int channels, int padT, int padL, int outHeight, int outWidth, int filters, const float *kernel,
                       const float *bias, int relu, float *y, int *argmax) {
    const int ph = outHeight / 2, pw = outWidth / 2, rows = 2 * ph + KH - 1, cols = 2 * pw + KW - 1;
    const long f = filters, perImage = (long)ph * pw * f;
    float xp[CONV1_MAX_PADDED] __attribute__((aligned(32)));
    v8 w[5 * 5 * 32], w2[5 * 5 * 32];                 // a group's kernel (two with PAIRS): kh·kw·C vectors
    const int taps = KH * KW * channels;
    for (int image = 0; image < images; image++) {
        conv1_pad(x + (long)image * height * width * channels, height, width, channels, padT, padL, rows, cols, xp);
        int k = 0;
        for (; PAIRS && k + 16 <= filters; k += 16) {
            for (int t = 0; t < taps; t++) {
                w[t] = *(const v8u *)(kernel + t * f + k);
                w2[t] = *(const v8u *)(kernel + t * f + k + 8);
            }
            const v8 b = bias ? *(const v8u *)(bias + k) : SPLAT(0.0f);
            const v8 b2 = bias ? *(const v8u *)(bias + k + 8) : SPLAT(0.0f);
            float *out = y + image * perImage + k;
            int *taken = argmax + image * perImage + k;
            for (int i = 0; i < ph; i++) {
                const float *top = xp + 2 * i * cols * channels;
                const long at = (long)i * pw * f;
                int j = 0;
                for (; j + 2 <= pw; j += 2)
                    conv1_windows2(KH, KW, CH, channels, 2, top + 2 * j * channels, cols, w, w2, b, b2, relu,
                                   out + at + j * f, taken + at + j * f, f);
                if (j < pw)
                    conv1_windows2(KH, KW, CH, channels, 1, top + 2 * j * channels, cols, w, w2, b, b2, relu,
                                   out + at + j * f, taken + at + j * f, f);
            }
        }
        for (; k < filters; k += 8) {
            const int lanes = filters - k < 8 ? filters - k : 8;
            const __m256i mask = lanes_mask(lanes);
            for (int t = 0; t < taps; t++) w[t] = (v8)_mm256_maskload_ps(kernel + t * f + k, mask);
            const v8 b = bias ? (v8)_mm256_maskload_ps(bias + k, mask) : SPLAT(0.0f);
            float *out = y + image * perImage + k;
            int *taken = argmax + image * perImage + k;
            for (int i = 0; i < ph; i++) {
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

// Compiled twice like the kernel gradient below: with AVX-512VL's 32 registers two filter groups
// go through each pass (the same operations per output, so the same bits).
#define CONV_POOL_BODY(PAIRS)                                                                                    \
    if (kh == 3) { if (channels == 1) POOL(3, 1, PAIRS); else POOL(3, 0, PAIRS); }                               \
    else { if (channels == 1) POOL(5, 1, PAIRS); else POOL(5, 0, PAIRS); }
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

int ck_has_avx512vl(void);

AVX void ck_conv_pool(const float *x, int images, int height, int width, int channels, int kh, int kw, int padT,
                      int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                      int relu, int wide, float *y, int *argmax) {
    if (wide && ck_has_avx512vl())
        conv_pool_512(x, images, height, width, channels, kh, padT, padL, outHeight, outWidth, filters, kernel, bias,
                      relu, y, argmax);
    else
        conv_pool_256(x, images, height, width, channels, kh, padT, padL, outHeight, outWidth, filters, kernel, bias,
                      relu, y, argmax);
}

/// Kernel rows r0 ..< r0 + NR of the gradient of NG (1 or 2) adjacent 8-filter groups over one
/// image: acc[g][(r − r0)·KW + s] += x[R + r][c + s] · dz[R][c] for every pixel (R, c) a window
/// covers, in scan order. With `sums`, also sums += each window's gradient (window order).
/// Without FULL (the last group has fewer than 8 filters), loads are masked by masks[g].
INLINE void conv1_gradient_rows(const int KH, const int KW, const int NR, const int NG, const int FULL, int r0,
                                const float *xp, int cols, int ph, int pw, const float *dy, const float *y,
                                const int *argmax, int relu, long f, const __m256i *masks, v8 *acc0, v8 *acc1,
                                float *sums) {
    v8 a[2][10], total[2];
    v8 *acc[2] = {acc0, acc1};
    for (int g = 0; g < NG; g++) {
        for (int t = 0; t < NR * KW; t++) a[g][t] = acc[g][t];
        total[g] = sums ? (v8)_mm256_maskload_ps(sums + 8 * g, masks[g]) : SPLAT(0.0f);
    }
    for (int R = 0; R < 2 * ph; R++) {
        const int i = R >> 1, top = (R & 1) * 2;
        const vi8 first = {top, top, top, top, top, top, top, top}, second = first + 1;
        for (int j = 0; j < pw; j++) {
            v8 d0[2], d1[2];
            for (int g = 0; g < NG; g++) {
                const long at = ((long)i * pw + j) * f + 8 * g;
                v8 dz = FULL ? *(const v8u *)(dy + at) : (v8)_mm256_maskload_ps(dy + at, masks[g]);
                if (relu) {
                    const v8 out = FULL ? *(const v8u *)(y + at) : (v8)_mm256_maskload_ps(y + at, masks[g]);
                    dz = (v8)((vi8)dz & (out > SPLAT(0.0f)));                                   // NaN → 0
                }
                if (sums && top == 0) total[g] += dz;
                const vi8 q = FULL ? *(const vi8u *)(argmax + at)
                                   : (vi8)_mm256_maskload_epi32(argmax + at, masks[g]);
                d0[g] = (v8)((vi8)dz & (q == first));
                d1[g] = (v8)((vi8)dz & (q == second));
            }
            const float *px = xp + (R + r0) * cols + 2 * j;
            for (int r = 0; r < NR; r++)
                for (int s = 0; s < KW; s++) {
                    const v8 x = SPLAT(px[r * cols + s]);
                    for (int g = 0; g < NG; g++) a[g][r * KW + s] = x * d0[g] + a[g][r * KW + s];
                }
            for (int r = 0; r < NR; r++)
                for (int s = 0; s < KW; s++) {
                    const v8 x = SPLAT(px[r * cols + s + 1]);
                    for (int g = 0; g < NG; g++) a[g][r * KW + s] = x * d1[g] + a[g][r * KW + s];
                }
        }
    }
    for (int g = 0; g < NG; g++) {
        for (int t = 0; t < NR * KW; t++) acc[g][t] = a[g][t];
        if (sums) _mm256_maskstore_ps(sums + 8 * g, masks[g], (__m256)total[g]);
    }
}

/// NG: 8-filter groups a pass takes (2 with 32 vector registers, 1 with 16).
INLINE void conv1_pool_gradient(const int KH, const int KW, const int NG, const float *x, int images, int height,
                                int width, int padT, int padL, int outHeight, int outWidth, int filters,
                                const float *dy, const float *y, const int *argmax, int relu, float *dk,
                                float *biasSums) {
    const int ph = outHeight / 2, pw = outWidth / 2, rows = 2 * ph + KH - 1, cols = 2 * pw + KW - 1;
    const int perSet = 10 / KW;                       // kernel rows a pass keeps in registers
    const long f = filters, perImage = (long)ph * pw * f;
    float xp[CONV1_MAX_PADDED] __attribute__((aligned(32)));
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
                for (int r0 = 0; r0 < KH; r0 += perSet) {
                    float *sums = biasSums && r0 == 0 ? biasSums + k : NULL;
                    v8 *a0 = acc[g - g0] + r0 * KW, *a1 = n == 2 ? acc[g - g0 + 1] + r0 * KW : a0;
#define ROWS(NR, N, FULL) conv1_gradient_rows(KH, KW, NR, N, FULL, r0, xp, cols, ph, pw, dy + offset, y + offset, \
                                              argmax + offset, relu, f, masks, a0, a1, sums)
#define ROWS_N(NR) do {                                                                  \
        if (n == 2) { if (lanes == 8) ROWS(NR, 2, 1); else ROWS(NR, 2, 0); }             \
        else { if (lanes == 8) ROWS(NR, 1, 1); else ROWS(NR, 1, 0); }                    \
    } while (0)
                    if (KH - r0 >= perSet) ROWS_N(perSet); else ROWS_N(1);
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

int ck_has_avx512vl(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

AVX void ck_conv1_pool_kernel_gradient(const float *x, int images, int height, int width, int kh, int kw, int padT,
                                       int padL, int outHeight, int outWidth, int filters, const float *dy,
                                       const float *y, const int *argmax, int relu, int wide, float *dk,
                                       float *biasSums) {
    if (wide && ck_has_avx512vl()) conv1_pool_kernel_gradient_512(x, images, height, width, kh, kw, padT, padL, outHeight, outWidth,
                                             filters, dy, y, argmax, relu, dk, biasSums);
    else conv1_pool_kernel_gradient_256(x, images, height, width, kh, kw, padT, padL, outHeight, outWidth, filters,
                                        dy, y, argmax, relu, dk, biasSums);
}

// MARK: Pooled convolution gradient, sparse
//
// After 2×2 max pooling, each (window, filter) passes its gradient g to one output pixel (the
// argmax), and ReLU zeroes more: of a dense dz three quarters or more are zeros. Instead of
// dK = colsᵀ·dz and dx = col2im(dz·Kᵀ) over every pixel, this visits only the (window, filter)
// pairs with g ≠ 0 and adds g times one kernel-sized patch: dKᵀ[f] += g·x[patch] and, for dx,
// dx[patch] += g·Kᵀ[f]. A patch row (kw·C ≤ 32 floats) is 4 vectors; the images are copied into
// zero-padded buffers with room for the fourth vector's overhang (whose kernel lanes are zero).

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

#else

int ck_has_avx2_fma(void) { return 0; }
void ck_winograd_input(const float *x, int images, int height, int width, int channels, int pad,
                       int tilesH, int tilesW, float *v) { __builtin_trap(); }
void ck_winograd_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                                int tilesH, int tilesW, float *dx) { __builtin_trap(); }
void ck_winograd_output(const float *m, int images, int outHeight, int outWidth, int filters,
                        int tilesH, int tilesW, const float *bias, int relu, float *y, int *argmax) { __builtin_trap(); }
void ck_winograd_output_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,
                                 int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                 float *dm, float *biasSums) { __builtin_trap(); }
void ck_gemm_narrow(long rows, int k, int n, const float *a, const float *b, float *c) { __builtin_trap(); }
void ck_gemm_narrow_tn(long rows, int k, int n, const float *a, const float *d, float *c) { __builtin_trap(); }

void ck_conv_pool(const float *x, int images, int height, int width, int channels, int kh, int kw, int padT,
                  int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                  int relu, int wide, float *y, int *argmax) { __builtin_trap(); }
void ck_conv1_pool_kernel_gradient(const float *x, int images, int height, int width, int kh, int kw, int padT,
                                   int padL, int outHeight, int outWidth, int filters, const float *dy,
                                   const float *y, const int *argmax, int relu, int wide, float *dk,
                                   float *biasSums) {
    __builtin_trap();
}
int ck_has_avx512vl(void) { return 0; }
int ck_conv_pool_supported(int height, int width, int channels, int kh, int kw, int padT, int padL, int outHeight,
                           int outWidth, int filters) { return 0; }

int ck_pool_sparse_supported(int channels, int kh, int kw, int outHeight, int outWidth) { return 0; }
void ck_pool_sparse_gradient(const float *x, int images, int height, int width, int channels, int kh, int kw,
                             int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                             const float *dy, const float *y, const int *argmax, int relu, float *dkT,
                             float *biasSums, float *dx) { __builtin_trap(); }

#endif
