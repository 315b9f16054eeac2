// Winograd F(5×5, 3×3) tile and kernel transforms, VW channels or filters a vector (vecw.h;
// winograd_f5x5.c builds them for AVX2 and AVX-512 and picks one), for a 3×3 stride-1 convolution
// whose output goes on through 2×2 max pooling: each 5×5 block of outputs from a 7×7 block of
// inputs, 49 multiplications per (channel, filter) instead of 225. cnn.yaml's second layer pools an 11×11 output to 5×5, which
// needs 10×10 outputs: four 5×5 tiles (196 products per channel and filter) instead of nine
// F(4×4) tiles that compute 12×12 (324). Same layout and conventions as the F(4×4, 3×3) kernels
// in winograd_f4x4.c and Sources/Kernels/Winograd.swift: V (49, T, C), M and dM (49, T, F) position-major,
// ξ = 7r + s; U (49, C, F).
//
// The matrices come from the interpolation points 0, 1, −1, 2, −2, 1/2 and ∞ (Lavin & Gray's
// construction; the script deriving them and checking Y = Aᵀ[(G g) ⊙ (Bᵀ d)] against the direct
// correlation is Tests/KernelsTests/winograd5.py). Transforms are written as matrix products
// over constant tables; once unrolled, the compiler drops the zero terms and turns ±1 into
// additions. The tiles do not line up with the 2×2 pooling windows (5 is odd), so the output
// transform writes an image's outputs for VW filters into a small buffer and pools from there.
#include "ckernels.h"
#include "vecw.h"
#include <string.h>

#if defined(__x86_64__)

#define UNROLL _Pragma("clang loop unroll(full)")

static const float BT[7][7] = {
    {-2, 4, 2.5f, -5, -0.5f, 1, 0},
    {0, 2, -2, -4.5f, 0.5f, 1, 0},
    {0, -2, 6, -3.5f, -1.5f, 1, 0},
    {0, 1, -1.5f, -2, 1.5f, 1, 0},
    {0, -1, 2.5f, 0, -2.5f, 1, 0},
    {0, 4, 0, -5, 0, 1, 0},
    {0, -2, 4, 2.5f, -5, -0.5f, 1},
};
static const float AT[5][7] = {
    {1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0.5f, 0},
    {0, 1, 1, 4, 4, 0.25f, 0},
    {0, 1, -1, 8, -8, 0.125f, 0},
    {0, 1, 1, 16, 16, 0.0625f, 1},
};
static const float G[7][3] = {
    {-1.0f / 2, 0, 0},
    {-1.0f / 3, -1.0f / 3, -1.0f / 3},
    {1.0f / 9, -1.0f / 9, 1.0f / 9},
    {1.0f / 36, 1.0f / 18, 1.0f / 9},
    {-1.0f / 60, 1.0f / 30, -1.0f / 15},
    {32.0f / 45, 16.0f / 45, 8.0f / 45},
    {0, 0, 1},
};

/// acc + c·x, with the constant c = ±1 as an addition (−0 + x is x exactly, so a sum starts at −0).
VINLINE vf term(vf acc, float c, vf x) {
    if (c == 1.0f) return acc + x;
    if (c == -1.0f) return acc - x;
    return VSPLAT(c) * x + acc;
}

/// o[i] = Σ_j M[i][j]·in[j] (R × K table), and its transpose o[j] = Σ_i M[i][j]·in[i].
#define MATVEC(M, R, K, in, o)                                                                     \
    UNROLL for (int i_ = 0; i_ < (R); i_++) {                                                      \
        vf acc_ = VSPLAT(-0.0f);                                                                    \
        UNROLL for (int j_ = 0; j_ < (K); j_++)                                                    \
            if (M[i_][j_] != 0.0f) acc_ = term(acc_, M[i_][j_], (in)[j_]);                         \
        (o)[i_] = acc_;                                                                            \
    }
#define MATVEC_T(M, R, K, in, o)                                                                   \
    UNROLL for (int j_ = 0; j_ < (K); j_++) {                                                      \
        vf acc_ = VSPLAT(-0.0f);                                                                    \
        UNROLL for (int i_ = 0; i_ < (R); i_++)                                                    \
            if (M[i_][j_] != 0.0f) acc_ = term(acc_, M[i_][j_], (in)[i_]);                         \
        (o)[j_] = acc_;                                                                            \
    }

/// Largest output region (tilesH·5 × tilesW·5) the pooled output transforms take.
#define WINO5_MAX_OUTPUTS 1024

/// One tile's V: rows[·][s] = Bᵀ · d[·][s] column by column, then V[r][·] = rows[r][·] · B to
/// positions ξ = 7r + s.
VINLINE void input_tile(const tile_block *b) {
    vf rows[7][7];
    for (int s = 0; s < 7; s++) {
        vf d[7], o[7];
        UNROLL for (int r = 0; r < 7; r++) d[r] = tile_load(b, r, s);
        MATVEC(BT, 7, 7, d, o);
        UNROLL for (int r = 0; r < 7; r++) rows[r][s] = o[r];
    }
    for (int r = 0; r < 7; r++) {
        vf o[7];
        MATVEC(BT, 7, 7, rows[r], o);
        float *out = b->out + b->position + r * 7 * b->step;
        UNROLL for (int s = 0; s < 7; s++) vstore(o[s], out + s * b->step, b->lanes);
    }
}

VTARGET void WNAME(ck_wino5_input)(const float *x, int images, int height, int width, int channels, int pad,
                                   int tilesH, int tilesW, float *v) {
    for_each_tile_block(x, v, images, height, width, channels, pad, tilesH, tilesW, 5, 7, input_tile);
}

/// One tile's input gradient: rows[r][·] = B · dV[r][·] over s, then d[·][s] = B · rows[·][s]
/// over r, added into dx where inside the image.
VINLINE void input_gradient_tile(const tile_block *b) {
    vf rows[7][7];
    for (int r = 0; r < 7; r++) {
        vf in[7];
        UNROLL for (int s = 0; s < 7; s++) in[s] = vload(b->in + b->position + (r * 7 + s) * b->step, b->lanes);
        MATVEC_T(BT, 7, 7, in, rows[r]);
    }
    for (int s = b->s0; s < b->s1; s++) {
        vf in[7], o[7];
        UNROLL for (int r = 0; r < 7; r++) in[r] = rows[r][s];
        MATVEC_T(BT, 7, 7, in, o);
        add_column(b, s, o);
    }
}

VTARGET void WNAME(ck_wino5_input_gradient)(const float *dv, int images, int height, int width, int channels,
                                            int pad, int tilesH, int tilesW, float *dx) {
    memset(dx, 0, sizeof(float) * images * height * width * channels);
    for_each_tile_block(dv, dx, images, height, width, channels, pad, tilesH, tilesW, 5, 7, input_gradient_tile);
}

VTARGET void WNAME(ck_wino5_output_pool)(const float *m, int images, int outHeight, int outWidth, int filters,
                                         int tilesH, int tilesW, const float *bias, int relu, float *y,
                                         int *argmax) {
    const long f = filters, t = (long)images * tilesH * tilesW, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2, zw = tilesW * 5;
    vf z[WINO5_MAX_OUTPUTS];                          // one image's outputs for VW filters
    for (int image = 0; image < images; image++) {
        const long first = (long)image * tilesH * tilesW;
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            for (int i = 0; i < tilesH; i++)
                for (int j = 0; j < tilesW; j++) {
                    const float *mt = m + (first + i * tilesW + j) * f + k;
                    vf rows[5][7];
                    // rows[·][s] = Aᵀ · M[·][s], then z = rows · A.
                    for (int s = 0; s < 7; s++) {
                        vf in[7], o[5];
                        UNROLL for (int r = 0; r < 7; r++) in[r] = vload(mt + (r * 7 + s) * step, lanes);
                        MATVEC(AT, 5, 7, in, o);
                        UNROLL for (int a = 0; a < 5; a++) rows[a][s] = o[a];
                    }
                    for (int a = 0; a < 5; a++) {
                        vf o[5];
                        MATVEC(AT, 5, 7, rows[a], o);
                        UNROLL for (int b = 0; b < 5; b++) z[(i * 5 + a) * zw + j * 5 + b] = o[b];
                    }
                }
            // f(z + b) and the 2×2 windows: maximum in scan order, strict (ties keep the first).
            const vf bv = bias ? vload(bias + k, lanes) : VSPLAT(0.0f);
            for (int pi = 0; pi < ph; pi++)
                for (int pj = 0; pj < pw; pj++) {
                    const vf *w = z + 2 * pi * zw + 2 * pj;
                    vf v[4] = {w[0] + bv, w[1] + bv, w[zw] + bv, w[zw + 1] + bv};
                    if (relu)
                        for (int p = 0; p < 4; p++) v[p] = vrelu(v[p]);
                    vf best;
                    vi taken;
                    vwindow_max(v, &best, &taken);
                    const long at = (long)image * ph * pw * f + ((long)pi * pw + pj) * f + k;
                    vstore(best, y + at, lanes);
                    vstore_int(taken, argmax + at, lanes);
                }
        }
    }
}

VTARGET void WNAME(ck_wino5_output_pool_gradient)(const float *dy, const float *y, int relu, const int *argmax,
                                                  int images, int outHeight, int outWidth, int filters, int tilesH,
                                                  int tilesW, float *dm, float *biasSums) {
    const long f = filters, t = (long)images * tilesH * tilesW, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2, zw = tilesW * 5, zh = tilesH * 5;
    vf dz[WINO5_MAX_OUTPUTS];
    for (int image = 0; image < images; image++) {
        const long first = (long)image * tilesH * tilesW;
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            for (int p = 0; p < zh * zw; p++) dz[p] = VSPLAT(0.0f);
            // dz = dy at each window's maximum (where y > 0 with ReLU); the bias sums in window order.
            vf sums = vload(biasSums + k, lanes);
            for (int pi = 0; pi < ph; pi++)
                for (int pj = 0; pj < pw; pj++) {
                    const long at = (long)image * ph * pw * f + ((long)pi * pw + pj) * f + k;
                    vf g = vload(dy + at, lanes);
                    if (relu) g = (vf)((vi)g & (vload(y + at, lanes) > VSPLAT(0.0f)));   // NaN → 0
                    sums += g;
                    const vi q = vload_int(argmax + at, lanes, 0);
                    vf *w = dz + 2 * pi * zw + 2 * pj;
                    w[0] = (vf)((vi)g & (q == 0));
                    w[1] = (vf)((vi)g & (q == 1));
                    w[zw] = (vf)((vi)g & (q == 2));
                    w[zw + 1] = (vf)((vi)g & (q == 3));
                }
            vstore(sums, biasSums + k, lanes);
            // dM = A dZ Aᵀ, tile by tile.
            for (int i = 0; i < tilesH; i++)
                for (int j = 0; j < tilesW; j++) {
                    vf rows[5][7];
                    for (int a = 0; a < 5; a++) MATVEC_T(AT, 5, 7, dz + (i * 5 + a) * zw + j * 5, rows[a]);
                    float *mt = dm + (first + i * tilesW + j) * f + k;
                    for (int s = 0; s < 7; s++) {
                        vf in[5], o[7];
                        UNROLL for (int a = 0; a < 5; a++) in[a] = rows[a][s];
                        MATVEC_T(AT, 5, 7, in, o);
                        UNROLL for (int r = 0; r < 7; r++) vstore(o[r], mt + (r * 7 + s) * step, lanes);
                    }
                }
        }
    }
}

VTARGET void WNAME(ck_wino5_kernel)(const float *g, int channels, int filters, int c0, int c1, float *u) {
    const long f = filters, cf = (long)channels * f;
    for (int c = c0; c < c1; c++)
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            // g[r][s] sits at ((r·3 + s)·C + c)·F + f.
            vf w[3][3], cols[3][7];
            for (int r = 0; r < 3; r++)
                for (int s = 0; s < 3; s++) w[r][s] = vload(g + ((r * 3 + s) * channels + c) * f + k, lanes);
            for (int s = 0; s < 3; s++) {                  // columns of G g: 7 × 3
                vf in[3] = {w[0][s], w[1][s], w[2][s]};
                MATVEC(G, 7, 3, in, cols[s]);
            }
            for (int a = 0; a < 7; a++) {                  // row a of (G g) Gᵀ
                vf in[3] = {cols[0][a], cols[1][a], cols[2][a]}, o[7];
                MATVEC(G, 7, 3, in, o);
                UNROLL for (int b = 0; b < 7; b++) vstore(o[b], u + (a * 7 + b) * cf + c * f + k, lanes);
            }
        }
}

VTARGET void WNAME(ck_wino5_kernel_gradient)(const float *du, int channels, int filters, int c0, int c1,
                                             float *dk) {
    const long f = filters, cf = (long)channels * f;
    for (int c = c0; c < c1; c++)
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            vf rows[7][3];                                 // dU G: 7 × 3
            for (int a = 0; a < 7; a++) {
                vf in[7];
                UNROLL for (int b = 0; b < 7; b++) in[b] = vload(du + (a * 7 + b) * cf + c * f + k, lanes);
                MATVEC_T(G, 7, 3, in, rows[a]);
            }
            for (int s = 0; s < 3; s++) {                  // Gᵀ (dU G), added into dK
                vf in[7], o[3];
                UNROLL for (int a = 0; a < 7; a++) in[a] = rows[a][s];
                MATVEC_T(G, 7, 3, in, o);
                for (int r = 0; r < 3; r++) {
                    float *at = dk + ((r * 3 + s) * channels + c) * f + k;
                    vstore(vload(at, lanes) + o[r], at, lanes);
                }
            }
        }
}

#endif
