// Winograd F(M×M, R×R) tile and kernel transforms for a stride-1 R×R convolution whose output goes
// on through 2×2 max pooling, VW channels or filters a vector (vecw.h): each M×M block of outputs
// from an N×N block of inputs (N = M + R − 1), N² multiplications per (channel, filter) instead
// of M²R². One source for every tile size: the file that includes this sets VW (8: AVX2, 16:
// AVX-512), WP_N, WP_M, WP_R (N, M, R below), the constant tables BT (N × N), AT (M × N) and
// G (N × R), and WP_PREFIX, the entry points' prefix —
//
//   winograd_f5x5_body.h    F(5×5, 3×3), ck_wino5_…   (cnn.yaml's second layer)
//   winograd_f4x4k5_body.h  F(4×4, 5×5), ck_wino45_…  (Caffe's LeNet's second layer)
//
// — and the AVX2 build also defines the entry points (ckernels.h), which take the build the
// caller asks for with `wide`. Same layout and conventions as the F(4×4, 3×3) kernels in
// winograd_f4x4.c and Sources/Kernels/Winograd.swift: V (N², T, C), M and dM (N², T, F)
// position-major, ξ = N·r + s; U (N², C, F).
//
// The matrices come from interpolation points (Lavin & Gray's construction; the script deriving
// them and checking Y = Aᵀ[(G g) ⊙ (Bᵀ d)] against the direct correlation is
// Tests/KernelsTests/winograd5.py). Transforms are written as matrix products over constant
// tables; once unrolled, the compiler drops the zero terms and turns ±1 into additions. When M is
// odd the tiles do not line up with the 2×2 pooling windows, so the output transform writes an
// image's outputs for VW filters into a small buffer and pools from there.
#include "ckernels.h"
#include "vecw.h"
#include <string.h>

#if defined(__x86_64__)

#define N WP_N
#define M WP_M
#define R WP_R
#define WP_CAT_(a, b) a##b
#define WP_CAT(a, b) WP_CAT_(a, b)
#define WP_NAME_(name) WNAME(name)
/// This tile size's kernel `x` at this width: WP_PREFIX x _avx2 or _avx512.
#define WFN(x) WP_NAME_(WP_CAT(WP_PREFIX, x))

/// Largest output region (tilesH·M × tilesW·M) the pooled output transforms take.
#define WP_MAX_OUTPUTS 1024

/// One tile's V: rows[·][s] = Bᵀ · d[·][s] column by column, then V[r][·] = rows[r][·] · B to
/// positions ξ = N·r + s.
VINLINE void input_tile(const tile_block *b) {
    vf rows[N][N];
    for (int s = 0; s < N; s++) {
        vf d[N], o[N];
        UNROLL for (int r = 0; r < N; r++) d[r] = tile_load(b, r, s);
        MATVEC(BT, N, N, d, o);
        UNROLL for (int r = 0; r < N; r++) rows[r][s] = o[r];
    }
    for (int r = 0; r < N; r++) {
        vf o[N];
        MATVEC(BT, N, N, rows[r], o);
        float *out = b->out + b->position + r * N * b->step;
        UNROLL for (int s = 0; s < N; s++) vstore(o[s], out + s * b->step, b->lanes);
    }
}

VTARGET void WFN(input)(const float *x, int images, int height, int width, int channels, int pad, int tilesH,
                        int tilesW, float *v) {
    for_each_tile_block(x, v, images, height, width, channels, pad, tilesH, tilesW, M, N, input_tile);
}

/// One tile's input gradient: rows[r][·] = B · dV[r][·] over s, then d[·][s] = B · rows[·][s]
/// over r, added into dx where inside the image.
VINLINE void input_gradient_tile(const tile_block *b) {
    vf rows[N][N];
    for (int r = 0; r < N; r++) {
        vf in[N];
        UNROLL for (int s = 0; s < N; s++) in[s] = vload(b->in + b->position + (r * N + s) * b->step, b->lanes);
        MATVEC_T(BT, N, N, in, rows[r]);
    }
    for (int s = b->s0; s < b->s1; s++) {
        vf in[N], o[N];
        UNROLL for (int r = 0; r < N; r++) in[r] = rows[r][s];
        MATVEC_T(BT, N, N, in, o);
        add_column(b, s, o);
    }
}

VTARGET void WFN(input_gradient)(const float *dv, int images, int height, int width, int channels, int pad,
                                 int tilesH, int tilesW, float *dx) {
    memset(dx, 0, sizeof(float) * images * height * width * channels);
    for_each_tile_block(dv, dx, images, height, width, channels, pad, tilesH, tilesW, M, N, input_gradient_tile);
}

VTARGET void WFN(output_pool)(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH,
                              int tilesW, const float *bias, int relu, float *y, int *argmax) {
    const long f = filters, t = (long)images * tilesH * tilesW, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2, zw = tilesW * M;
    vf z[WP_MAX_OUTPUTS];                          // one image's outputs for VW filters
    for (int image = 0; image < images; image++) {
        const long first = (long)image * tilesH * tilesW;
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            for (int i = 0; i < tilesH; i++)
                for (int j = 0; j < tilesW; j++) {
                    const float *mt = m + (first + i * tilesW + j) * f + k;
                    vf rows[M][N];
                    // rows[·][s] = Aᵀ · M[·][s], then z = rows · A.
                    for (int s = 0; s < N; s++) {
                        vf in[N], o[M];
                        UNROLL for (int r = 0; r < N; r++) in[r] = vload(mt + (r * N + s) * step, lanes);
                        MATVEC(AT, M, N, in, o);
                        UNROLL for (int a = 0; a < M; a++) rows[a][s] = o[a];
                    }
                    for (int a = 0; a < M; a++) {
                        vf o[M];
                        MATVEC(AT, M, N, rows[a], o);
                        UNROLL for (int b = 0; b < M; b++) z[(i * M + a) * zw + j * M + b] = o[b];
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

VTARGET void WFN(output_pool_gradient)(const float *dy, const float *y, int relu, const int *argmax, int images,
                                       int outHeight, int outWidth, int filters, int tilesH, int tilesW, float *dm,
                                       float *biasSums) {
    const long f = filters, t = (long)images * tilesH * tilesW, step = t * f;
    const int ph = outHeight / 2, pw = outWidth / 2, zw = tilesW * M, zh = tilesH * M;
    vf dz[WP_MAX_OUTPUTS];
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
                    vf rows[M][N];
                    for (int a = 0; a < M; a++) MATVEC_T(AT, M, N, dz + (i * M + a) * zw + j * M, rows[a]);
                    float *mt = dm + (first + i * tilesW + j) * f + k;
                    for (int s = 0; s < N; s++) {
                        vf in[M], o[N];
                        UNROLL for (int a = 0; a < M; a++) in[a] = rows[a][s];
                        MATVEC_T(AT, M, N, in, o);
                        UNROLL for (int r = 0; r < N; r++) vstore(o[r], mt + (r * N + s) * step, lanes);
                    }
                }
        }
    }
}

VTARGET void WFN(kernel)(const float *g, int channels, int filters, int c0, int c1, float *u) {
    const long f = filters, cf = (long)channels * f;
    for (int c = c0; c < c1; c++)
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            // g[r][s] sits at ((r·R + s)·C + c)·F + f.
            vf w[R][R], cols[R][N];
            for (int r = 0; r < R; r++)
                for (int s = 0; s < R; s++) w[r][s] = vload(g + ((r * R + s) * channels + c) * f + k, lanes);
            for (int s = 0; s < R; s++) {                  // columns of G g: N × R
                vf in[R];
                UNROLL for (int r = 0; r < R; r++) in[r] = w[r][s];
                MATVEC(G, N, R, in, cols[s]);
            }
            for (int a = 0; a < N; a++) {                  // row a of (G g) Gᵀ
                vf in[R], o[N];
                UNROLL for (int s = 0; s < R; s++) in[s] = cols[s][a];
                MATVEC(G, N, R, in, o);
                UNROLL for (int b = 0; b < N; b++) vstore(o[b], u + (a * N + b) * cf + c * f + k, lanes);
            }
        }
}

VTARGET void WFN(kernel_gradient)(const float *du, int channels, int filters, int c0, int c1, float *dk) {
    const long f = filters, cf = (long)channels * f;
    for (int c = c0; c < c1; c++)
        for (long k = 0; k < f; k += VW) {
            const int lanes = (int)(f - k < VW ? f - k : VW);
            vf rows[N][R];                                 // dU G: N × R
            for (int a = 0; a < N; a++) {
                vf in[N];
                UNROLL for (int b = 0; b < N; b++) in[b] = vload(du + (a * N + b) * cf + c * f + k, lanes);
                MATVEC_T(G, N, R, in, rows[a]);
            }
            for (int s = 0; s < R; s++) {                  // Gᵀ (dU G), added into dK
                vf in[N], o[R];
                UNROLL for (int a = 0; a < N; a++) in[a] = rows[a][s];
                MATVEC_T(G, N, R, in, o);
                for (int r = 0; r < R; r++) {
                    float *at = dk + ((r * R + s) * channels + c) * f + k;
                    vstore(vload(at, lanes) + o[r], at, lanes);
                }
            }
        }
}

#if VW == 8
// The entry points (once, in the AVX2 build): each calls the build `wide` asks for.
#define WP_DISPATCH_(name, ...) WIDTH_DISPATCH(name, __VA_ARGS__)
#define WP_DISPATCH(x, ...) WP_DISPATCH_(WP_CAT(WP_PREFIX, x), __VA_ARGS__)

int WP_CAT(WP_PREFIX, supported)(int tilesH, int tilesW) {
    return tilesH >= 1 && tilesW >= 1 && tilesH * M * tilesW * M <= WP_MAX_OUTPUTS;
}

WP_DISPATCH(input, (x, images, height, width, channels, pad, tilesH, tilesW, v), const float *x, int images,
            int height, int width, int channels, int pad, int tilesH, int tilesW, float *v)
WP_DISPATCH(input_gradient, (dv, images, height, width, channels, pad, tilesH, tilesW, dx), const float *dv,
            int images, int height, int width, int channels, int pad, int tilesH, int tilesW, float *dx)
WP_DISPATCH(output_pool, (m, images, outHeight, outWidth, filters, tilesH, tilesW, bias, relu, y, argmax),
            const float *m, int images, int outHeight, int outWidth, int filters, int tilesH, int tilesW,
            const float *bias, int relu, float *y, int *argmax)
WP_DISPATCH(output_pool_gradient,
            (dy, y, relu, argmax, images, outHeight, outWidth, filters, tilesH, tilesW, dm, biasSums),
            const float *dy, const float *y, int relu, const int *argmax, int images, int outHeight, int outWidth,
            int filters, int tilesH, int tilesW, float *dm, float *biasSums)
WP_DISPATCH(kernel, (g, channels, filters, c0, c1, u), const float *g, int channels, int filters, int c0, int c1,
            float *u)
WP_DISPATCH(kernel_gradient, (du, channels, filters, c0, c1, dk), const float *du, int channels, int filters,
            int c0, int c1, float *dk)
#endif

#endif
