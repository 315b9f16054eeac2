// Winograd F(4×4, 3×3) tile transforms, VW channels or filters a vector (vecw.h; winograd_f4x4.c
// builds them for AVX2 and AVX-512 and picks one): the same loops as the portable Swift transforms
// in Sources/Kernels/WinogradPortable.swift. Layout, formulas and the drivers that call these are in
// Sources/Kernels/Winograd.swift: V (36, T, C), M and dM (36, T, F), position ξ = 6r + s. The
// kernel transforms of F(4×4) stay in Swift (once per step, small). With FMA, products and sums
// round differently from the Swift code (the tests compare both to a tolerance), but each function
// has one fixed order of operations, so results do not depend on the thread count.
#include "ckernels.h"
#include "vecw.h"
#include <string.h>

#if defined(__x86_64__)

/// Bᵀ d: (4a − 5c + e, −4b − 4c + d + e, 4b − 4c − d + e, −2b − c + 2d + e, 2b − c − 2d + e, 4b − 5d + f)
VINLINE void input_transform(vf a, vf b, vf c, vf d, vf e, vf f, vf o[6]) {
    vf ec = e - c, twice = VSPLAT(2.0f) * (d - b);
    o[0] = VSPLAT(4.0f) * (a - c) + ec;
    o[1] = (d + e) - VSPLAT(4.0f) * (b + c);
    o[2] = (e - d) + VSPLAT(4.0f) * (b - c);
    o[3] = ec + twice;
    o[4] = ec - twice;
    o[5] = VSPLAT(4.0f) * (b - d) + (f - d);
}

/// B g, the adjoint of input_transform.
VINLINE void input_adjoint(vf a, vf b, vf c, vf d, vf e, vf f, vf o[6]) {
    vf p = b + c, q = d + e, m = c - b, n = e - d;
    o[0] = VSPLAT(4.0f) * a;
    o[1] = VSPLAT(4.0f) * (m + f) + VSPLAT(2.0f) * n;
    o[2] = -(VSPLAT(4.0f) * (p + a) + (q + a));
    o[3] = -(m + VSPLAT(2.0f) * n + VSPLAT(5.0f) * f);
    o[4] = a + p + q;
    o[5] = f;
}


/// One tile's V: rows[·][s] = Bᵀ · d[·][s] column by column, then V[r][·] = rows[r][·] · B to
/// positions ξ = 6r + s.
VINLINE void input_tile(const tile_block *b) {
    vf rows[36];
    for (int s = 0; s < 6; s++) {
        vf d[6], o[6];
        for (int r = 0; r < 6; r++) d[r] = tile_load(b, r, s);
        input_transform(d[0], d[1], d[2], d[3], d[4], d[5], o);
        for (int r = 0; r < 6; r++) rows[r * 6 + s] = o[r];
    }
    for (int r = 0; r < 6; r++) {
        vf o[6];
        const vf *q = rows + r * 6;
        input_transform(q[0], q[1], q[2], q[3], q[4], q[5], o);
        float *out = b->out + b->position + r * 6 * b->step;
        for (int s = 0; s < 6; s++) vstore(o[s], out + s * b->step, b->lanes);
    }
}

VTARGET void WNAME(ck_winograd_input)(const float *x, int images, int height, int width, int channels, int pad,
                                      int tilesH, int tilesW, float *v) {
    for_each_tile_block(x, v, images, height, width, channels, pad, tilesH, tilesW, 4, 6, input_tile);
}

/// One tile's input gradient: rows[r][·] = B · dV[r][·] over s, then d[·][s] = B · rows[·][s]
/// over r, added into dx where inside the image.
VINLINE void input_gradient_tile(const tile_block *b) {
    const int lanes = b->lanes;
    const long step = b->step;
    vf rows[36];
    for (int r = 0; r < 6; r++) {
        const float *at = b->in + b->position + r * 6 * step;
        input_adjoint(vload(at, lanes), vload(at + step, lanes), vload(at + 2 * step, lanes),
                      vload(at + 3 * step, lanes), vload(at + 4 * step, lanes),
                      vload(at + 5 * step, lanes), rows + r * 6);
    }
    for (int s = b->s0; s < b->s1; s++) {
        vf o[6];
        input_adjoint(rows[s], rows[6 + s], rows[12 + s], rows[18 + s], rows[24 + s], rows[30 + s], o);
        add_column(b, s, o);
    }
}

VTARGET void WNAME(ck_winograd_input_gradient)(const float *dv, int images, int height, int width, int channels,
                                               int pad, int tilesH, int tilesW, float *dx) {
    memset(dx, 0, sizeof(float) * images * height * width * channels);
    for_each_tile_block(dv, dx, images, height, width, channels, pad, tilesH, tilesW, 4, 6, input_gradient_tile);
}

/// Aᵀ m (4 from 6): (a + b + c + d + e, b − c + 2d − 2e, b + c + 4d + 4e, b − c + 8d − 8e + f)
VINLINE void output_transform(vf a, vf b, vf c, vf d, vf e, vf f, vf o[4]) {
    vf p = b + c, q = d + e, r = b - c, s = d - e;
    o[0] = a + p + q;
    o[1] = r + VSPLAT(2.0f) * s;
    o[2] = p + VSPLAT(4.0f) * q;
    o[3] = r + VSPLAT(8.0f) * s + f;
}

/// A g (6 from 4), the adjoint of output_transform.
VINLINE void output_adjoint(vf a, vf b, vf c, vf d, vf o[6]) {
    vf p = a + c, q = b + d, r = a + VSPLAT(4.0f) * c, s = VSPLAT(2.0f) * (b + VSPLAT(4.0f) * d);
    o[0] = a;
    o[1] = p + q;
    o[2] = p - q;
    o[3] = r + s;
    o[4] = r - s;
    o[5] = d;
}

VTARGET void WNAME(ck_winograd_output)(const float *m, int images, int outHeight, int outWidth, int filters,
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
                for (long k = 0; k < f; k += VW) {
                    const int lanes = (int)(f - k < VW ? f - k : VW);
                    const vf b = bias ? vload(bias + k, lanes) : VSPLAT(0.0f);
                    const float *mt = m + tile * f + k;
                    vf rows[24], z[16];
                    for (int s = 0; s < 6; s++) {
                        const float *column = mt + s * step;
                        vf o[4];
                        output_transform(vload(column, lanes), vload(column + 6 * step, lanes),
                                         vload(column + 12 * step, lanes), vload(column + 18 * step, lanes),
                                         vload(column + 24 * step, lanes), vload(column + 30 * step, lanes), o);
                        rows[s] = o[0]; rows[6 + s] = o[1]; rows[12 + s] = o[2]; rows[18 + s] = o[3];
                    }
                    for (int r = 0; r < height; r++) {
                        vf o[4];
                        const vf *q = rows + r * 6;
                        output_transform(q[0], q[1], q[2], q[3], q[4], q[5], o);
                        float *out = base + (i * 4 + r) * line + j * 4 * f + k;
                        for (int s = 0; s < width; s++) {
                            vf value = o[s] + b;
                            if (relu) value = vrelu(value);
                            if (argmax == NULL) vstore(value, out + s * f, lanes); else z[r * 4 + s] = value;
                        }
                    }
                    if (argmax == NULL) continue;
                    // The tile's 2×2 windows: maximum in scan order, strict (ties keep the first).
                    for (int wr = 0; wr < 2 && i * 2 + wr < ph; wr++) {
                        for (int wc = 0; wc < 2 && j * 2 + wc < pw; wc++) {
                            const int z0 = wr * 8 + wc * 2;
                            const vf window[4] = {z[z0], z[z0 + 1], z[z0 + 4], z[z0 + 5]};
                            vf best;
                            vi taken;
                            vwindow_max(window, &best, &taken);
                            const long at = ((long)(i * 2 + wr) * pw + j * 2 + wc) * f + k;
                            vstore(best, base + at, lanes);
                            vstore_int(taken, argmax + imageOffset + at, lanes);
                        }
                    }
                }
                tile++;
            }
        }
    }
}

VTARGET void WNAME(ck_winograd_output_gradient)(const float *dy, const float *y, int relu, const int *argmax,
                                                int images, int outHeight, int outWidth, int filters, int tilesH,
                                                int tilesW, float *dm, float *biasSums) {
    const long f = filters, t = (long)images * tilesH * tilesW, line = (long)outWidth * f, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2;
    long tile = 0;
    for (int image = 0; image < images; image++) {
        const long base = image * (argmax == NULL ? outHeight * line : (long)ph * pw * f);
        for (int i = 0; i < tilesH; i++) {
            const int height = min_int(4, outHeight - i * 4);
            for (int j = 0; j < tilesW; j++) {
                const int width = min_int(4, outWidth - j * 4);
                for (long k = 0; k < f; k += VW) {
                    const int lanes = (int)(f - k < VW ? f - k : VW);
                    vf sum = vload(biasSums + k, lanes);
                    vf dz[16], cols[24];
                    for (int q = 0; q < 16; q++) dz[q] = VSPLAT(0.0f);
                    if (argmax != NULL) {
                        // From the tile's 2×2 windows' gradients.
                        for (int wr = 0; wr < 2 && i * 2 + wr < ph; wr++) {
                            for (int wc = 0; wc < 2 && j * 2 + wc < pw; wc++) {
                                const long at = base + ((long)(i * 2 + wr) * pw + j * 2 + wc) * f + k;
                                vf g = vload(dy + at, lanes);
                                if (relu) g = (vf)((vi)g & (vload(y + at, lanes) > VSPLAT(0.0f)));
                                sum += g;
                                const vi taken = vload_int(argmax + at, lanes, -1);
                                const int z0 = wr * 8 + wc * 2;
                                static const int offsets[4] = {0, 1, 4, 5};
                                for (int q = 0; q < 4; q++) {
                                    const vi hit = taken == ISPLAT(q);
                                    dz[z0 + offsets[q]] = (vf)((vi)g & hit);
                                }
                            }
                        }
                    } else {
                        for (int r = 0; r < height; r++) {
                            for (int s = 0; s < width; s++) {
                                const long at = base + (i * 4 + r) * line + (j * 4 + s) * f + k;
                                vf d = vload(dy + at, lanes);
                                if (relu) d = (vf)((vi)d & (vload(y + at, lanes) > VSPLAT(0.0f)));
                                sum += d;
                                dz[r * 4 + s] = d;
                            }
                        }
                    }
                    // cols[r][·] = A · dZ[r][·] over s (4 → 6).
                    for (int r = 0; r < 4; r++) {
                        output_adjoint(dz[r * 4], dz[r * 4 + 1], dz[r * 4 + 2], dz[r * 4 + 3], cols + r * 6);
                    }
                    vstore(sum, biasSums + k, lanes);
                    // dM[·][s] = A · cols[·][s] over r (4 → 6), to positions ξ = 6r + s.
                    float *out = dm + tile * f + k;
                    for (int s = 0; s < 6; s++) {
                        vf o[6];
                        output_adjoint(cols[s], cols[6 + s], cols[12 + s], cols[18 + s], o);
                        float *column = out + s * step;
                        for (int r = 0; r < 6; r++) vstore(o[r], column + r * 6 * step, lanes);
                    }
                }
                tile++;
            }
        }
    }
}

#endif
