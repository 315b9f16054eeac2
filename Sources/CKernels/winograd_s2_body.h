// Winograd tile transforms of a 3×3 convolution at stride 2, VW channels or filters a vector
// (vecw.h; winograd_s2.c builds them for AVX2 and AVX-512 and picks one). Formulas, layouts and
// the drivers that call these are in Sources/Kernels/Winograd.swift; the scheme is this.
//
// Along one axis, output o of a stride-2 window reads inputs 2o, 2o + 1, 2o + 2 of the tile: the
// even inputs e = (d0, d2, d4, d6, d8) through the kernel taps (g0, g2) — a stride-1, 2-tap
// convolution, done by F(4, 2) (points 0, 1, −1, 2, ∞: 5 products for 4 outputs) — and the odd
// inputs (d1, d3, d5, d7) through g1 alone, one product each. A 9-input tile (stride 8) so has 9
// points for 4 outputs where a direct stride-2 window has 12: 0–4 are F(4, 2)'s, 5–8 the odd
// inputs. In 2-D, 81 points for 16 outputs (144 direct), and 36 distinct kernel matrices: the 25
// points (a, b) of two even axes have one each, the 4 points (a, 5…8) of an even row axis and an
// odd column axis share row a's (G g[{0,2}][1]), likewise the 4 points (5…8, b), and the 16 odd ×
// odd points share g[1][1]. Positions ξ put the points sharing a kernel next to each other, so
// the products stack them into one (count·T × C) matrix:
//
//   ξ(a, b) = 5a + b              a, b < 5     kernel 5a + b
//           = 25 + 4a + (b − 5)   a < 5 ≤ b    kernel 25 + a
//           = 45 + 4b + (a − 5)   b < 5 ≤ a    kernel 30 + b
//           = 65 + 4(a − 5) + (b − 5)          kernel 35
//
// F(4, 2):  Bᵀ e = (2e0 − e1 − 2e2 + e3, −2e1 − e2 + e3, 2e1 − 3e2 + e3, e3 − e1, 2e1 − e2 − 2e3 + e4)
//           G h  = (h0/2, −(h0 + h1)/2, (h1 − h0)/6, h0/6 + h1/3, h1)
//           Aᵀ m = (m0 + m1 + m2 + m3, m1 − m2 + 2m3, m1 + m2 + 4m3, m1 − m2 + 8m3 + m4)
// and each pass's adjoint for the gradients. With FMA the sums round differently from im2col's
// (the tests compare them to a tolerance), but every function has one fixed order of operations.
#include "ckernels.h"
#include "vecw.h"
#include <string.h>

#if defined(__x86_64__)

/// The position of point (a, b) of a tile (above).
static inline long s2_position(int a, int b) {
    if (a < 5) return b < 5 ? 5 * a + b : 25 + 4 * a + (b - 5);
    return b < 5 ? 45 + 4 * b + (a - 5) : 65 + 4 * (a - 5) + (b - 5);
}

/// The 9 points of 9 inputs along one axis: Bᵀ of the even ones, then the odd ones.
VINLINE void s2_input_axis(const vf d[9], vf o[9]) {
    const vf two = VSPLAT(2.0f), e0 = d[0], e1 = d[2], e2 = d[4], e3 = d[6], e4 = d[8];
    o[0] = two * (e0 - e2) + (e3 - e1);
    o[1] = (e3 - e2) - two * e1;
    o[2] = two * (e1 - e2) + (e3 - e2);
    o[3] = e3 - e1;
    o[4] = two * (e1 - e3) + (e4 - e2);
    o[5] = d[1];
    o[6] = d[3];
    o[7] = d[5];
    o[8] = d[7];
}

/// The adjoint of s2_input_axis: 9 inputs' gradients from the 9 points'.
VINLINE void s2_input_adjoint(const vf p[9], vf d[9]) {
    const vf two = VSPLAT(2.0f);
    d[0] = two * p[0];
    d[2] = two * ((p[2] - p[1]) + p[4]) - (p[0] + p[3]);
    d[4] = -((two * p[0] + p[1]) + (VSPLAT(3.0f) * p[2] + p[4]));
    d[6] = ((p[0] + p[1]) + (p[2] + p[3])) - two * p[4];
    d[8] = p[4];
    d[1] = p[5];
    d[3] = p[6];
    d[5] = p[7];
    d[7] = p[8];
}

/// 4 outputs from the 9 points along one axis: Aᵀ of the first 5 plus the odd points.
VINLINE void s2_output_axis(const vf m[9], vf o[4]) {
    const vf p = m[1] + m[2], r = m[1] - m[2];
    o[0] = (m[0] + p + m[3]) + m[5];
    o[1] = (r + VSPLAT(2.0f) * m[3]) + m[6];
    o[2] = (p + VSPLAT(4.0f) * m[3]) + m[7];
    o[3] = (r + VSPLAT(8.0f) * m[3] + m[4]) + m[8];
}

/// The adjoint of s2_output_axis: the 9 points' gradients from 4 outputs'.
VINLINE void s2_output_adjoint(const vf y[4], vf m[9]) {
    const vf p = y[0] + y[2], q = y[1] + y[3];
    m[0] = y[0];
    m[1] = p + q;
    m[2] = p - q;
    m[3] = (y[0] + VSPLAT(2.0f) * y[1]) + (VSPLAT(4.0f) * y[2] + VSPLAT(8.0f) * y[3]);
    m[4] = y[3];
    m[5] = y[0];
    m[6] = y[1];
    m[7] = y[2];
    m[8] = y[3];
}

/// G h for the taps (h0, h1) = (g0, g2): F(4, 2)'s 5 kernel points.
VINLINE void s2_kernel_axis(vf h0, vf h1, vf u[5]) {
    const vf half = VSPLAT(0.5f), sixth = VSPLAT(1.0f / 6.0f), third = VSPLAT(1.0f / 3.0f);
    u[0] = half * h0;
    u[1] = -(half * (h0 + h1));
    u[2] = sixth * (h1 - h0);
    u[3] = sixth * h0 + third * h1;
    u[4] = h1;
}

/// Gᵀ u, the adjoint of s2_kernel_axis: the two taps' gradients.
VINLINE void s2_kernel_adjoint(const vf u[5], vf *h0, vf *h1) {
    const vf half = VSPLAT(0.5f), sixth = VSPLAT(1.0f / 6.0f), third = VSPLAT(1.0f / 3.0f);
    *h0 = half * (u[0] - u[1]) + sixth * (u[3] - u[2]);
    *h1 = (sixth * u[2] - half * u[1]) + (third * u[3] + u[4]);
}

/// One tile's V: the points of each column (over rows), then of each row of those (over columns).
VINLINE void s2_input_tile(const tile_block *b) {
    vf rows[81];
    for (int s = 0; s < 9; s++) {
        vf d[9], o[9];
        for (int r = 0; r < 9; r++) d[r] = tile_load(b, r, s);
        s2_input_axis(d, o);
        for (int a = 0; a < 9; a++) rows[a * 9 + s] = o[a];
    }
    for (int a = 0; a < 9; a++) {
        vf o[9];
        s2_input_axis(rows + a * 9, o);
        float *out = b->out + b->position;
        for (int q = 0; q < 9; q++) vstore(o[q], out + s2_position(a, q) * b->step, b->lanes);
    }
}

VTARGET void WNAME(ck_wino_s2_input)(const float *x, int images, int height, int width, int channels, int pad,
                                     int tilesH, int tilesW, float *v) {
    for_each_tile_block(x, v, images, height, width, channels, pad, tilesH, tilesW, 8, 9, s2_input_tile);
}

/// One tile's input gradient: the adjoint of s2_input_tile, added into dx where inside the image.
VINLINE void s2_input_gradient_tile(const tile_block *b) {
    const float *at = b->in + b->position;
    vf rows[81];
    for (int a = 0; a < 9; a++) {
        vf p[9];
        for (int q = 0; q < 9; q++) p[q] = vload(at + s2_position(a, q) * b->step, b->lanes);
        s2_input_adjoint(p, rows + a * 9);
    }
    for (int s = b->s0; s < b->s1; s++) {
        vf p[9], o[9];
        for (int a = 0; a < 9; a++) p[a] = rows[a * 9 + s];
        s2_input_adjoint(p, o);
        add_column(b, s, o);
    }
}

VTARGET void WNAME(ck_wino_s2_input_gradient)(const float *dv, int images, int height, int width, int channels,
                                              int pad, int tilesH, int tilesW, float *dx) {
    memset(dx, 0, sizeof(float) * images * height * width * channels);
    for_each_tile_block(dv, dx, images, height, width, channels, pad, tilesH, tilesW, 8, 9,
                        s2_input_gradient_tile);
}

/// What the output passes need besides the block: M (or dM) and its step between positions, the
/// filters, y's (and dy's) images and row length, the bias and ReLU, the bias sums.
typedef struct {
    const float *m, *dy, *bias, *relu_y;
    float *y, *dm, *biasSums;
    long f, step, line, image;
    int relu;
} s2_output_args;

/// y = f(Aᵀ M A + b) for one block: the 4 outputs of each column's points, then of each row's.
VINLINE void s2_output_block(const output_block *b, const void *context) {
    const s2_output_args *a = context;
    const int lanes = b->lanes;
    const vf bias = a->bias ? vload(a->bias + b->k, lanes) : VSPLAT(0.0f);
    const float *mt = a->m + b->tile * a->f + b->k;
    vf rows[36];     // rows[r][q]: output row r of column q's points
    for (int q = 0; q < 9; q++) {
        vf column[9], o[4];
        for (int p = 0; p < 9; p++) column[p] = vload(mt + s2_position(p, q) * a->step, lanes);
        s2_output_axis(column, o);
        for (int r = 0; r < 4; r++) rows[r * 9 + q] = o[r];
    }
    float *base = a->y + b->image * a->image + (b->i * 4) * a->line + b->j * 4 * a->f + b->k;
    for (int r = 0; r < b->height; r++) {
        vf o[4];
        s2_output_axis(rows + r * 9, o);
        for (int s = 0; s < b->width; s++) {
            vf value = o[s] + bias;
            if (a->relu) value = vrelu(value);
            vstore(value, base + r * a->line + s * a->f, lanes);
        }
    }
}

VTARGET void WNAME(ck_wino_s2_output)(const float *m, int images, int outHeight, int outWidth, int filters,
                                      int tilesH, int tilesW, const float *bias, int relu, float *y) {
    const long f = filters, line = (long)outWidth * f;
    const s2_output_args a = {.m = m, .bias = bias, .y = y, .f = f, .step = (long)images * tilesH * tilesW * f,
                              .line = line, .image = outHeight * line, .relu = relu};
    for_each_output_block(images, outHeight, outWidth, filters, tilesH, tilesW, 4, &a, s2_output_block);
}

/// dM = A dZ Aᵀ for one block, dZ = dy ⊙ f'(y) inside the output and 0 beyond; the bias sums += Σ dZ.
VINLINE void s2_output_gradient_block(const output_block *b, const void *context) {
    const s2_output_args *a = context;
    const int lanes = b->lanes;
    const long first = b->image * a->image + (b->i * 4) * a->line + b->j * 4 * a->f + b->k;
    vf sum = vload(a->biasSums + b->k, lanes);
    vf dz[16], cols[36];     // cols[r][q]: the points of dZ's row r
    for (int q = 0; q < 16; q++) dz[q] = VSPLAT(0.0f);
    for (int r = 0; r < b->height; r++) {
        for (int s = 0; s < b->width; s++) {
            const long at = first + r * a->line + s * a->f;
            vf d = vload(a->dy + at, lanes);
            if (a->relu) d = (vf)((vi)d & (vload(a->relu_y + at, lanes) > VSPLAT(0.0f)));
            sum += d;
            dz[r * 4 + s] = d;
        }
    }
    vstore(sum, a->biasSums + b->k, lanes);
    for (int r = 0; r < 4; r++) s2_output_adjoint(dz + r * 4, cols + r * 9);
    float *out = a->dm + b->tile * a->f + b->k;
    for (int q = 0; q < 9; q++) {
        const vf column[4] = {cols[q], cols[9 + q], cols[18 + q], cols[27 + q]};
        vf o[9];
        s2_output_adjoint(column, o);
        for (int p = 0; p < 9; p++) vstore(o[p], out + s2_position(p, q) * a->step, lanes);
    }
}

VTARGET void WNAME(ck_wino_s2_output_gradient)(const float *dy, const float *y, int relu, int images,
                                               int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                               float *dm, float *biasSums) {
    const long f = filters, line = (long)outWidth * f;
    const s2_output_args a = {.dy = dy, .relu_y = y, .dm = dm, .biasSums = biasSums, .f = f,
                              .step = (long)images * tilesH * tilesW * f, .line = line, .image = outHeight * line,
                              .relu = relu};
    for_each_output_block(images, outHeight, outWidth, filters, tilesH, tilesW, 4, &a, s2_output_gradient_block);
}

/// U (36, C, F): the 36 distinct kernel matrices (above) of channels c0 ..< c1 of g (3, 3, C, F).
VTARGET void WNAME(ck_wino_s2_kernel)(const float *g, int channels, int filters, int c0, int c1, float *u) {
    const long f = filters, plane = (long)channels * f;
    for (int c = c0; c < c1; c++) {
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            vf w[9];
            for (int tap = 0; tap < 9; tap++) w[tap] = vload(g + (tap * (long)channels + c) * f + k, lanes);
            float *out = u + c * f + k;
            // Columns j of the taps of rows 0 and 2 through G: rowPoints[j][a].
            vf rowPoints[3][5];
            for (int j = 0; j < 3; j++) s2_kernel_axis(w[j], w[6 + j], rowPoints[j]);
            for (int a = 0; a < 5; a++) {
                vf points[5];
                s2_kernel_axis(rowPoints[0][a], rowPoints[2][a], points);
                for (int b = 0; b < 5; b++) vstore(points[b], out + (5 * a + b) * plane, lanes);
                vstore(rowPoints[1][a], out + (25 + a) * plane, lanes);
            }
            vf middle[5];
            s2_kernel_axis(w[3], w[5], middle);
            for (int b = 0; b < 5; b++) vstore(middle[b], out + (30 + b) * plane, lanes);
            vstore(w[4], out + 35 * plane, lanes);
        }
    }
}

/// dk (3, 3, C, F) += the adjoint of ck_wino_s2_kernel applied to dU (36, C, F), channels c0 ..< c1.
VTARGET void WNAME(ck_wino_s2_kernel_gradient)(const float *du, int channels, int filters, int c0, int c1,
                                               float *dk) {
    const long f = filters, plane = (long)channels * f;
    for (int c = c0; c < c1; c++) {
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            const float *in = du + c * f + k;
            vf d[9];     // the taps' gradients
            vf rowPoints[3][5];
            for (int a = 0; a < 5; a++) {
                vf points[5];
                for (int b = 0; b < 5; b++) points[b] = vload(in + (5 * a + b) * plane, lanes);
                s2_kernel_adjoint(points, &rowPoints[0][a], &rowPoints[2][a]);
                rowPoints[1][a] = vload(in + (25 + a) * plane, lanes);
            }
            for (int j = 0; j < 3; j++) s2_kernel_adjoint(rowPoints[j], &d[j], &d[6 + j]);
            vf middle[5];
            for (int b = 0; b < 5; b++) middle[b] = vload(in + (30 + b) * plane, lanes);
            s2_kernel_adjoint(middle, &d[3], &d[5]);
            d[4] = vload(in + 35 * plane, lanes);
            for (int tap = 0; tap < 9; tap++) {
                float *at = dk + (tap * (long)channels + c) * f + k;
                vstore(vload(at, lanes) + d[tap], at, lanes);
            }
        }
    }
}

#endif
