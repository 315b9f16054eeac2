// Winograd tile and kernel transforms of a 3×3 convolution at stride 2, VW channels or filters a
// vector (vecw.h). Formulas, layouts and the drivers that call these are in
// Sources/Kernels/Winograd.swift; the scheme is this.
//
// Along one axis, output o of a stride-2 window reads inputs 2o, 2o + 1, 2o + 2: the even inputs
// e_j = d_2j through the kernel taps (g0, g2) — a stride-1, 2-tap convolution, done by F(M, 2) —
// and the odd inputs d_2j+1 through g1 alone, one product each. A tile of M outputs reads N =
// 2M + 1 inputs (tiles at a stride of 2M) and has N points: E = M + 1 of F(M, 2), then M odd
// inputs, against 3M products directly. In 2-D, N² points for M² outputs (9M² directly), and
// (E + 1)² distinct kernel matrices: each point (a, b) of two even axes has its own, the M points
// (a, E…N−1) of an even row axis and an odd column axis share row a's (G g[{0,2}][1]), likewise
// the M points (E…N−1, b), and the M² odd × odd points share g[1][1]. Positions ξ put the points
// sharing a kernel next to each other, so the products stack them into one (count·T × C) matrix
// (Swift's WinogradKernels.stride2):
//
//   ξ(a, b) = E·a + b                       a, b < E     kernel E·a + b
//           = E² + M·a + (b − E)            a < E ≤ b    kernel E² + a
//           = E² + E·M + M·b + (a − E)      b < E ≤ a    kernel E² + E + b
//           = E² + 2E·M + M·(a − E) + (b − E)            kernel E² + 2E
//
// The file that includes this sets VW, S2_M, the tables S2_BT (E × E), S2_AT (M × E) and S2_G (E ×
// 2) of F(M, 2), and S2_PREFIX, the entry points' prefix (ckernels.h):
//
//   winograd_s2.c    F(4, 2), points 0, 1, −1, 2, ∞: 81 points for 4×4 outputs (144 directly)
//   winograd_s2m7.c  F(7, 2), points 0, ±1, ±2, ±1/2, ∞: 225 for 7×7 (441)
//
// With FMA the sums round differently from im2col's (the tests compare them to a tolerance), but
// every function has one fixed order of operations.
#include "ckernels.h"
#include "vecw.h"
#include <string.h>

#if defined(__x86_64__)

#define E (S2_M + 1)
#define NP (2 * S2_M + 1)
#define S2_CAT_(a, b) a##b
#define S2_CAT(a, b) S2_CAT_(a, b)
#define S2_NAME_(name) WNAME(name)
/// This tile size's kernel `x` at this width: S2_PREFIX x _avx2 or _avx512.
#define SFN(x) S2_NAME_(S2_CAT(S2_PREFIX, x))

/// The position of point (a, b) of a tile (above).
static inline long s2_position(int a, int b) {
    if (a < E) return b < E ? E * a + b : E * E + S2_M * a + (b - E);
    return b < E ? E * E + E * S2_M + S2_M * b + (a - E) : E * E + 2 * E * S2_M + S2_M * (a - E) + (b - E);
}

/// The N points of N inputs along one axis: Bᵀ of the even ones, then the odd ones.
VINLINE void s2_input_axis(const vf d[NP], vf o[NP]) {
    vf e[E];
    UNROLL for (int j = 0; j < E; j++) e[j] = d[2 * j];
    MATVEC(S2_BT, E, E, e, o);
    UNROLL for (int j = 0; j < S2_M; j++) o[E + j] = d[2 * j + 1];
}

/// The adjoint of s2_input_axis: N inputs' gradients from the N points'.
VINLINE void s2_input_adjoint(const vf p[NP], vf d[NP]) {
    vf e[E];
    MATVEC_T(S2_BT, E, E, p, e);
    UNROLL for (int j = 0; j < E; j++) d[2 * j] = e[j];
    UNROLL for (int j = 0; j < S2_M; j++) d[2 * j + 1] = p[E + j];
}

/// M outputs from the N points along one axis: Aᵀ of the first E plus the odd points.
VINLINE void s2_output_axis(const vf m[NP], vf o[S2_M]) {
    MATVEC(S2_AT, S2_M, E, m, o);
    UNROLL for (int j = 0; j < S2_M; j++) o[j] += m[E + j];
}

/// The adjoint of s2_output_axis: the N points' gradients from M outputs'.
VINLINE void s2_output_adjoint(const vf y[S2_M], vf m[NP]) {
    MATVEC_T(S2_AT, S2_M, E, y, m);
    UNROLL for (int j = 0; j < S2_M; j++) m[E + j] = y[j];
}

/// G h for the taps (h0, h1) = (g0, g2): F(M, 2)'s E kernel points.
VINLINE void s2_kernel_axis(vf h0, vf h1, vf u[E]) {
    const vf h[2] = {h0, h1};
    MATVEC(S2_G, E, 2, h, u);
}

/// Gᵀ u, the adjoint of s2_kernel_axis: the two taps' gradients.
VINLINE void s2_kernel_adjoint(const vf u[E], vf *h0, vf *h1) {
    vf h[2];
    MATVEC_T(S2_G, E, 2, u, h);
    *h0 = h[0];
    *h1 = h[1];
}

/// One tile's V: the points of each column (over rows), then of each row of those (over columns).
VINLINE void s2_input_tile(const tile_block *b) {
    vf rows[NP][NP];
    for (int s = 0; s < NP; s++) {
        vf d[NP], o[NP];
        UNROLL for (int r = 0; r < NP; r++) d[r] = tile_load(b, r, s);
        s2_input_axis(d, o);
        UNROLL for (int a = 0; a < NP; a++) rows[a][s] = o[a];
    }
    for (int a = 0; a < NP; a++) {
        vf o[NP];
        s2_input_axis(rows[a], o);
        float *out = b->out + b->position;
        UNROLL for (int q = 0; q < NP; q++) vstore(o[q], out + s2_position(a, q) * b->step, b->lanes);
    }
}

VTARGET void SFN(input)(const float *x, int images, int height, int width, int channels, int pad, int tilesH,
                        int tilesW, float *v) {
    for_each_tile_block(x, v, images, height, width, channels, pad, tilesH, tilesW, 2 * S2_M, NP, s2_input_tile);
}

/// One tile's input gradient: the adjoint of s2_input_tile, added into dx where inside the image.
VINLINE void s2_input_gradient_tile(const tile_block *b) {
    const float *at = b->in + b->position;
    vf rows[NP][NP];
    for (int a = 0; a < NP; a++) {
        vf p[NP];
        UNROLL for (int q = 0; q < NP; q++) p[q] = vload(at + s2_position(a, q) * b->step, b->lanes);
        s2_input_adjoint(p, rows[a]);
    }
    for (int s = b->s0; s < b->s1; s++) {
        vf p[NP], o[NP];
        UNROLL for (int a = 0; a < NP; a++) p[a] = rows[a][s];
        s2_input_adjoint(p, o);
        add_column(b, s, o);
    }
}

VTARGET void SFN(input_gradient)(const float *dv, int images, int height, int width, int channels, int pad,
                                 int tilesH, int tilesW, float *dx) {
    memset(dx, 0, sizeof(float) * images * height * width * channels);
    for_each_tile_block(dv, dx, images, height, width, channels, pad, tilesH, tilesW, 2 * S2_M, NP,
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

/// y = f(Aᵀ M A + b) for one block: the M outputs of each column's points, then of each row's.
VINLINE void s2_output_block(const output_block *b, const void *context) {
    const s2_output_args *a = context;
    const int lanes = b->lanes;
    const vf bias = a->bias ? vload(a->bias + b->k, lanes) : VSPLAT(0.0f);
    const float *mt = a->m + b->tile * a->f + b->k;
    vf rows[S2_M][NP];     // rows[r][q]: output row r of column q's points
    for (int q = 0; q < NP; q++) {
        vf column[NP], o[S2_M];
        UNROLL for (int p = 0; p < NP; p++) column[p] = vload(mt + s2_position(p, q) * a->step, lanes);
        s2_output_axis(column, o);
        UNROLL for (int r = 0; r < S2_M; r++) rows[r][q] = o[r];
    }
    float *base = a->y + b->image * a->image + (b->i * S2_M) * a->line + b->j * S2_M * a->f + b->k;
    for (int r = 0; r < b->height; r++) {
        vf o[S2_M];
        s2_output_axis(rows[r], o);
        for (int s = 0; s < b->width; s++) {
            vf value = o[s] + bias;
            if (a->relu) value = vrelu(value);
            vstore(value, base + r * a->line + s * a->f, lanes);
        }
    }
}

VTARGET void SFN(output)(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH,
                         int tilesW, const float *bias, int relu, float *y) {
    const long f = filters, line = (long)outWidth * f;
    const s2_output_args a = {.m = m, .bias = bias, .y = y, .f = f, .step = (long)images * tilesH * tilesW * f,
                              .line = line, .image = outHeight * line, .relu = relu};
    for_each_output_block(images, outHeight, outWidth, filters, tilesH, tilesW, S2_M, &a, s2_output_block);
}

/// dM = A dZ Aᵀ for one block, dZ = dy ⊙ f'(y) inside the output and 0 beyond; the bias sums += Σ dZ.
VINLINE void s2_output_gradient_block(const output_block *b, const void *context) {
    const s2_output_args *a = context;
    const int lanes = b->lanes;
    const long first = b->image * a->image + (b->i * S2_M) * a->line + b->j * S2_M * a->f + b->k;
    vf sum = vload(a->biasSums + b->k, lanes);
    vf dz[S2_M][S2_M], cols[S2_M][NP];     // cols[r]: the points of dZ's row r
    UNROLL for (int r = 0; r < S2_M; r++) UNROLL for (int s = 0; s < S2_M; s++) dz[r][s] = VSPLAT(0.0f);
    for (int r = 0; r < b->height; r++) {
        for (int s = 0; s < b->width; s++) {
            const long at = first + r * a->line + s * a->f;
            vf d = vload(a->dy + at, lanes);
            if (a->relu) d = (vf)((vi)d & (vload(a->relu_y + at, lanes) > VSPLAT(0.0f)));
            sum += d;
            dz[r][s] = d;
        }
    }
    vstore(sum, a->biasSums + b->k, lanes);
    UNROLL for (int r = 0; r < S2_M; r++) s2_output_adjoint(dz[r], cols[r]);
    float *out = a->dm + b->tile * a->f + b->k;
    for (int q = 0; q < NP; q++) {
        vf column[S2_M], o[NP];
        UNROLL for (int r = 0; r < S2_M; r++) column[r] = cols[r][q];
        s2_output_adjoint(column, o);
        UNROLL for (int p = 0; p < NP; p++) vstore(o[p], out + s2_position(p, q) * a->step, lanes);
    }
}

VTARGET void SFN(output_gradient)(const float *dy, const float *y, int relu, int images, int outHeight,
                                  int outWidth, int filters, int tilesH, int tilesW, float *dm, float *biasSums) {
    const long f = filters, line = (long)outWidth * f;
    const s2_output_args a = {.dy = dy, .relu_y = y, .dm = dm, .biasSums = biasSums, .f = f,
                              .step = (long)images * tilesH * tilesW * f, .line = line, .image = outHeight * line,
                              .relu = relu};
    for_each_output_block(images, outHeight, outWidth, filters, tilesH, tilesW, S2_M, &a,
                          s2_output_gradient_block);
}

/// U ((E + 1)², C, F): the distinct kernel matrices (above) of channels c0 ..< c1 of g (3, 3, C, F).
VTARGET void SFN(kernel)(const float *g, int channels, int filters, int c0, int c1, float *u) {
    const long f = filters, plane = (long)channels * f;
    for (int c = c0; c < c1; c++) {
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            vf w[9];
            for (int tap = 0; tap < 9; tap++) w[tap] = vload(g + (tap * (long)channels + c) * f + k, lanes);
            float *out = u + c * f + k;
            // Columns j of the taps of rows 0 and 2 through G: rowPoints[j][a].
            vf rowPoints[3][E];
            for (int j = 0; j < 3; j++) s2_kernel_axis(w[j], w[6 + j], rowPoints[j]);
            for (int a = 0; a < E; a++) {
                vf points[E];
                s2_kernel_axis(rowPoints[0][a], rowPoints[2][a], points);
                for (int b = 0; b < E; b++) vstore(points[b], out + (E * a + b) * plane, lanes);
                vstore(rowPoints[1][a], out + (E * E + a) * plane, lanes);
            }
            vf middle[E];
            s2_kernel_axis(w[3], w[5], middle);
            for (int b = 0; b < E; b++) vstore(middle[b], out + (E * E + E + b) * plane, lanes);
            vstore(w[4], out + (E * E + 2 * E) * plane, lanes);
        }
    }
}

/// dk (3, 3, C, F) += the adjoint of `kernel` applied to dU ((E + 1)², C, F), channels c0 ..< c1.
VTARGET void SFN(kernel_gradient)(const float *du, int channels, int filters, int c0, int c1, float *dk) {
    const long f = filters, plane = (long)channels * f;
    for (int c = c0; c < c1; c++) {
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            const float *in = du + c * f + k;
            vf d[9];     // the taps' gradients
            vf rowPoints[3][E];
            for (int a = 0; a < E; a++) {
                vf points[E];
                for (int b = 0; b < E; b++) points[b] = vload(in + (E * a + b) * plane, lanes);
                s2_kernel_adjoint(points, &rowPoints[0][a], &rowPoints[2][a]);
                rowPoints[1][a] = vload(in + (E * E + a) * plane, lanes);
            }
            for (int j = 0; j < 3; j++) s2_kernel_adjoint(rowPoints[j], &d[j], &d[6 + j]);
            vf middle[E];
            for (int b = 0; b < E; b++) middle[b] = vload(in + (E * E + E + b) * plane, lanes);
            s2_kernel_adjoint(middle, &d[3], &d[5]);
            d[4] = vload(in + (E * E + 2 * E) * plane, lanes);
            for (int tap = 0; tap < 9; tap++) {
                float *at = dk + (tap * (long)channels + c) * f + k;
                vstore(vload(at, lanes) + d[tap], at, lanes);
            }
        }
    }
}

#if VW == 8
// The entry points (once, in the AVX2 build): each calls the build `wide` asks for.
#define S2_DISPATCH_(name, ...) WIDTH_DISPATCH(name, __VA_ARGS__)
#define S2_DISPATCH(x, ...) S2_DISPATCH_(S2_CAT(S2_PREFIX, x), __VA_ARGS__)
S2_DISPATCH(input, (x, images, height, width, channels, pad, tilesH, tilesW, v), const float *x, int images,
            int height, int width, int channels, int pad, int tilesH, int tilesW, float *v)
S2_DISPATCH(input_gradient, (dv, images, height, width, channels, pad, tilesH, tilesW, dx), const float *dv,
            int images, int height, int width, int channels, int pad, int tilesH, int tilesW, float *dx)
S2_DISPATCH(output, (m, images, outHeight, outWidth, filters, tilesH, tilesW, bias, relu, y), const float *m,
            int images, int outHeight, int outWidth, int filters, int tilesH, int tilesW, const float *bias,
            int relu, float *y)
S2_DISPATCH(output_gradient, (dy, y, relu, images, outHeight, outWidth, filters, tilesH, tilesW, dm, biasSums),
            const float *dy, const float *y, int relu, int images, int outHeight, int outWidth, int filters,
            int tilesH, int tilesW, float *dm, float *biasSums)
S2_DISPATCH(kernel, (g, channels, filters, c0, c1, u), const float *g, int channels, int filters, int c0, int c1,
            float *u)
S2_DISPATCH(kernel_gradient, (du, channels, filters, c0, c1, dk), const float *du, int channels, int filters,
            int c0, int c1, float *dk)
#endif

#endif
