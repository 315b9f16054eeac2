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

/// What the output passes need besides the block: M (or dM) and its step between positions, the
/// filters, y's (and dy's) images and row length, the pooled output's size, the bias and ReLU,
/// the argmax, the bias sums.
typedef struct {
    const float *m, *dy, *bias, *relu_y;
    float *y, *dm, *biasSums;
    int *argmax;
    const int *argmaxIn;
    long f, step, line, image;
    int ph, pw, relu;
} f4_output_args;

/// y = f(Aᵀ M A + b) for one block (and its 2×2 max pooling with `argmax`).
VINLINE void f4_output_block(const output_block *b, const void *context) {
    const f4_output_args *a = context;
    const long f = a->f, step = a->step, k = b->k;
    const int lanes = b->lanes, i = b->i, j = b->j;
    const long imageOffset = b->image * a->image;
    float *base = a->y + imageOffset;
    const vf bv = a->bias ? vload(a->bias + k, lanes) : VSPLAT(0.0f);
    const float *mt = a->m + b->tile * f + k;
    vf rows[24], z[16];
    for (int s = 0; s < 6; s++) {
        const float *column = mt + s * step;
        vf o[4];
        output_transform(vload(column, lanes), vload(column + 6 * step, lanes),
                         vload(column + 12 * step, lanes), vload(column + 18 * step, lanes),
                         vload(column + 24 * step, lanes), vload(column + 30 * step, lanes), o);
        rows[s] = o[0]; rows[6 + s] = o[1]; rows[12 + s] = o[2]; rows[18 + s] = o[3];
    }
    for (int r = 0; r < b->height; r++) {
        vf o[4];
        const vf *q = rows + r * 6;
        output_transform(q[0], q[1], q[2], q[3], q[4], q[5], o);
        float *out = base + (i * 4 + r) * a->line + j * 4 * f + k;
        for (int s = 0; s < b->width; s++) {
            vf value = o[s] + bv;
            if (a->relu) value = vrelu(value);
            if (a->argmax == NULL) vstore(value, out + s * f, lanes); else z[r * 4 + s] = value;
        }
    }
    if (a->argmax == NULL) return;
    // The tile's 2×2 windows: maximum in scan order, strict (ties keep the first).
    for (int wr = 0; wr < 2 && i * 2 + wr < a->ph; wr++) {
        for (int wc = 0; wc < 2 && j * 2 + wc < a->pw; wc++) {
            const int z0 = wr * 8 + wc * 2;
            const vf window[4] = {z[z0], z[z0 + 1], z[z0 + 4], z[z0 + 5]};
            vf best;
            vi taken;
            vwindow_max(window, &best, &taken);
            const long at = ((long)(i * 2 + wr) * a->pw + j * 2 + wc) * f + k;
            vstore(best, base + at, lanes);
            vstore_int(taken, a->argmax + imageOffset + at, lanes);
        }
    }
}

VTARGET void WNAME(ck_winograd_output)(const float *m, int images, int outHeight, int outWidth, int filters,
                                       int tilesH, int tilesW, const float *bias, int relu, float *y, int *argmax) {
    const long f = filters, line = (long)outWidth * f;
    const int ph = outHeight / 2, pw = outWidth / 2;
    const f4_output_args a = {.m = m, .bias = bias, .y = y, .argmax = argmax, .f = f,
                              .step = (long)images * tilesH * tilesW * f, .line = line,
                              .image = argmax == NULL ? outHeight * line : (long)ph * pw * f, .ph = ph, .pw = pw,
                              .relu = relu};
    for_each_output_block(images, outHeight, outWidth, filters, tilesH, tilesW, 4, &a, f4_output_block);
}

/// dM = A dZ Aᵀ for one block, dZ = dy ⊙ f'(y) (from the pooled gradient with `argmaxIn`); the
/// bias sums += Σ dZ.
VINLINE void f4_output_gradient_block(const output_block *b, const void *context) {
    const f4_output_args *a = context;
    const long f = a->f, step = a->step, k = b->k, base = b->image * a->image;
    const int lanes = b->lanes, i = b->i, j = b->j;
    vf sum = vload(a->biasSums + k, lanes);
    vf dz[16], cols[24];
    for (int q = 0; q < 16; q++) dz[q] = VSPLAT(0.0f);
    if (a->argmaxIn != NULL) {
        // From the tile's 2×2 windows' gradients.
        for (int wr = 0; wr < 2 && i * 2 + wr < a->ph; wr++) {
            for (int wc = 0; wc < 2 && j * 2 + wc < a->pw; wc++) {
                const long at = base + ((long)(i * 2 + wr) * a->pw + j * 2 + wc) * f + k;
                vf g = vload(a->dy + at, lanes);
                if (a->relu) g = (vf)((vi)g & (vload(a->relu_y + at, lanes) > VSPLAT(0.0f)));
                sum += g;
                const vi taken = vload_int(a->argmaxIn + at, lanes, -1);
                const int z0 = wr * 8 + wc * 2;
                static const int offsets[4] = {0, 1, 4, 5};
                for (int q = 0; q < 4; q++) {
                    const vi hit = taken == ISPLAT(q);
                    dz[z0 + offsets[q]] = (vf)((vi)g & hit);
                }
            }
        }
    } else {
        for (int r = 0; r < b->height; r++) {
            for (int s = 0; s < b->width; s++) {
                const long at = base + (i * 4 + r) * a->line + (j * 4 + s) * f + k;
                vf d = vload(a->dy + at, lanes);
                if (a->relu) d = (vf)((vi)d & (vload(a->relu_y + at, lanes) > VSPLAT(0.0f)));
                sum += d;
                dz[r * 4 + s] = d;
            }
        }
    }
    // cols[r][·] = A · dZ[r][·] over s (4 → 6).
    for (int r = 0; r < 4; r++) {
        output_adjoint(dz[r * 4], dz[r * 4 + 1], dz[r * 4 + 2], dz[r * 4 + 3], cols + r * 6);
    }
    vstore(sum, a->biasSums + k, lanes);
    // dM[·][s] = A · cols[·][s] over r (4 → 6), to positions ξ = 6r + s.
    float *out = a->dm + b->tile * f + k;
    for (int s = 0; s < 6; s++) {
        vf o[6];
        output_adjoint(cols[s], cols[6 + s], cols[12 + s], cols[18 + s], o);
        float *column = out + s * step;
        for (int r = 0; r < 6; r++) vstore(o[r], column + r * 6 * step, lanes);
    }
}

VTARGET void WNAME(ck_winograd_output_gradient)(const float *dy, const float *y, int relu, const int *argmax,
                                                int images, int outHeight, int outWidth, int filters, int tilesH,
                                                int tilesW, float *dm, float *biasSums) {
    const long f = filters, line = (long)outWidth * f;
    const int ph = outHeight / 2, pw = outWidth / 2;
    const f4_output_args a = {.dy = dy, .relu_y = y, .dm = dm, .biasSums = biasSums, .argmaxIn = argmax, .f = f,
                              .step = (long)images * tilesH * tilesW * f, .line = line,
                              .image = argmax == NULL ? outHeight * line : (long)ph * pw * f, .ph = ph, .pw = pw,
                              .relu = relu};
    for_each_output_block(images, outHeight, outWidth, filters, tilesH, tilesW, 4, &a, f4_output_gradient_block);
}

#endif
