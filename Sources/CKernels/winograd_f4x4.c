// Winograd F(4×4, 3×3) tile transforms, AVX2/FMA (call only when ck_has_avx2_fma() is 1): the
// same loops as the portable Swift transforms in Sources/Kernels/WinogradPortable.swift, 8
// channels per vector. Layout, formulas and the drivers that call these are in
// Sources/Kernels/Winograd.swift: V (36, T, C), M and dM (36, T, F), position ξ = 6r + s. The
// kernel transforms of F(4×4) stay in Swift (once per step, small). With FMA, products and sums
// round differently from the Swift code (the tests compare both to a tolerance), but each function
// has one fixed order of operations, so results do not depend on the thread count.
#include "ckernels.h"
#include "vec.h"
#include <string.h>

#if defined(__x86_64__)

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


/// One tile's V: rows[·][s] = Bᵀ · d[·][s] column by column, then V[r][·] = rows[r][·] · B to
/// positions ξ = 6r + s.
INLINE void input_tile(const tile_block *b) {
    v8 rows[36];
    for (int s = 0; s < 6; s++) {
        v8 d[6], o[6];
        for (int r = 0; r < 6; r++) d[r] = tile_load(b, r, s);
        input_transform(d[0], d[1], d[2], d[3], d[4], d[5], o);
        for (int r = 0; r < 6; r++) rows[r * 6 + s] = o[r];
    }
    for (int r = 0; r < 6; r++) {
        v8 o[6];
        const v8 *q = rows + r * 6;
        input_transform(q[0], q[1], q[2], q[3], q[4], q[5], o);
        float *out = b->out + b->position + r * 6 * b->step;
        for (int s = 0; s < 6; s++) store(o[s], out + s * b->step, b->lanes);
    }
}

AVX void ck_winograd_input(const float *x, int images, int height, int width, int channels, int pad,
                           int tilesH, int tilesW, float *v) {
    for_each_tile_block(x, v, images, height, width, channels, pad, tilesH, tilesW, 4, 6, input_tile);
}

/// One tile's input gradient: rows[r][·] = B · dV[r][·] over s, then d[·][s] = B · rows[·][s]
/// over r, added into dx where inside the image.
INLINE void input_gradient_tile(const tile_block *b) {
    const int lanes = b->lanes;
    const long step = b->step;
    v8 rows[36];
    for (int r = 0; r < 6; r++) {
        const float *at = b->in + b->position + r * 6 * step;
        input_adjoint(load(at, lanes), load(at + step, lanes), load(at + 2 * step, lanes),
                      load(at + 3 * step, lanes), load(at + 4 * step, lanes),
                      load(at + 5 * step, lanes), rows + r * 6);
    }
    for (int s = b->s0; s < b->s1; s++) {
        v8 o[6];
        input_adjoint(rows[s], rows[6 + s], rows[12 + s], rows[18 + s], rows[24 + s], rows[30 + s], o);
        add_column(b, s, o);
    }
}

AVX void ck_winograd_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                                    int tilesH, int tilesW, float *dx) {
    memset(dx, 0, sizeof(float) * images * height * width * channels);
    for_each_tile_block(dv, dx, images, height, width, channels, pad, tilesH, tilesW, 4, 6, input_gradient_tile);
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

#endif
