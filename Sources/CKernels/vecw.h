// Vectors of VW floats, for kernels whose every lane computes alone (one channel or filter per
// lane): the file that includes this sets VW to 8 (AVX2) or 16 (AVX-512) first, and can be compiled
// once at each width from the same source — a lane's operations are the same at either width, so
// the results are the same bits. Also the 2×2 pooling window's maximum and the Winograd input
// gradients' tile walk, which such kernels share. (x86-64 only; not part of the module's API.)
#ifndef CKERNELS_VECW_H
#define CKERNELS_VECW_H
#if defined(__x86_64__)
#include "vec.h"

#if !defined(VW) || (VW != 8 && VW != 16)
#error "set VW to 8 or 16 before including vecw.h"
#endif

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4)));   // for unaligned loads and stores
typedef int vi __attribute__((vector_size(VW * 4)));
typedef int viu __attribute__((vector_size(VW * 4), aligned(4)));

#if VW == 8
#define VTARGET __attribute__((target("avx2,fma")))
#define VSPLAT(x) ((vf){x, x, x, x, x, x, x, x})
#define ISPLAT(x) ((vi){x, x, x, x, x, x, x, x})
/// A kernel's exported name at this width: name_avx2 …
#define WNAME(name) name##_avx2
#else
#define VTARGET __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define VSPLAT(x) ((vf){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x})
#define ISPLAT(x) ((vi){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x})
/// … and `name_avx512`.
#define WNAME(name) name##_avx512
#endif
#define VINLINE static inline __attribute__((always_inline)) VTARGET

/// Declares name_avx512(parameters…) and defines name(parameters…, int wide), which calls it or
/// name_avx2 (defined before this in the AVX2 build) with `arguments`.
#define WIDTH_DISPATCH(name, arguments, ...)                                                    \
    void name##_avx512(__VA_ARGS__);                                                            \
    void name(__VA_ARGS__, int wide) {                                                          \
        if (wide) name##_avx512 arguments;                                                      \
        else name##_avx2 arguments;                                                             \
    }

/// `lanes` (≤ VW) floats at p, zero-filled; and their store.
#if VW == 8
VINLINE vf vload(const float *p, int lanes) { return load(p, lanes); }
VINLINE void vstore(vf v, float *p, int lanes) { store(v, p, lanes); }
#else
VINLINE vf vload(const float *p, int lanes) {
    return lanes == VW ? *(const vfu *)p : (vf)_mm512_maskz_loadu_ps((__mmask16)((1u << lanes) - 1), p);
}
VINLINE void vstore(vf v, float *p, int lanes) {
    if (lanes == VW) *(vfu *)p = v;
    else _mm512_mask_storeu_ps(p, (__mmask16)((1u << lanes) - 1), (__m512)v);
}
#endif

/// `lanes` ints at p (the rest `fill`).
VINLINE vi vload_int(const int *p, int lanes, int fill) {
    if (lanes == VW) return *(const viu *)p;
    vi v = ISPLAT(fill);
    for (int l = 0; l < lanes; l++) v[l] = p[l];
    return v;
}

VINLINE void vstore_int(vi v, int *p, int lanes) {
    if (lanes == VW) {
        *(viu *)p = v;
        return;
    }
    for (int l = 0; l < lanes; l++) p[l] = v[l];
}

VINLINE vf vselect(vi mask, vf yes, vf no) { return (vf)(((vi)yes & mask) | ((vi)no & ~mask)); }

/// max(v, 0) as Activation.relu (NaN stays NaN).
VINLINE vf vrelu(vf v) { return (vf)((vi)v & ~(v < VSPLAT(0.0f))); }

/// A 2×2 pooling window's maximum of v[0…3] (scan order) and its position, strict: ties keep
/// the first.
VINLINE void vwindow_max(const vf v[4], vf *best, vi *taken) {
    vf b = v[0];
    vi t = ISPLAT(0);
    for (int p = 1; p < 4; p++) {
        const vi larger = v[p] > b;
        b = vselect(larger, v[p], b);
        t = (t & ~larger) | (ISPLAT(p) & larger);
    }
    *best = b;
    *taken = t;
}

/// One block of VW channels of one Winograd input tile, as the input transforms and their
/// gradients visit them. Images are (N, H, W, c) and V or dV (ξ, T, c) position-major: the tile's
/// corner (possibly outside the image) is at `image` + corner, its position ξ at `tiles` + position
/// + ξ·step; rows [r0, r1) and columns [s0, s1) of the n×n tile lie inside the image (`full`: all).
typedef struct {
    const float *in;
    float *out;
    long corner, position, line, c, step;
    int r0, r1, s0, s1, full, lanes;
} tile_block;

/// Calls `visit` for every block of VW channels of every n×n input tile of a Winograd transform
/// with m×m output tiles (tile (i, j) of an image starts at row i·m − pad, column j·m − pad), in
/// the order V numbers the tiles. `in` and `out` are passed through to `visit`.
VINLINE void for_each_tile_block(const float *in, float *out, int images, int height, int width, int channels,
                                 int pad, int tilesH, int tilesW, int m, int n, void (*visit)(const tile_block *)) {
    const long c = channels, t = (long)images * tilesH * tilesW, line = (long)width * c;
    tile_block b = {.in = in, .out = out, .line = line, .c = c, .step = t * c};
    long tile = 0;
    for (int image = 0; image < images; image++) {
        for (int i = 0; i < tilesH; i++) {
            const int top = i * m - pad;
            b.r0 = max_int(0, -top);
            b.r1 = max_int(0, min_int(n, height - top));
            for (int j = 0; j < tilesW; j++) {
                const int left = j * m - pad;
                b.s0 = max_int(0, -left);
                b.s1 = max_int(0, min_int(n, width - left));
                b.full = b.r0 == 0 && b.r1 == n && b.s0 == 0 && b.s1 == n;
                for (long k = 0; k < c; k += VW) {
                    b.lanes = (int)(c - k < VW ? c - k : VW);
                    b.corner = (long)image * height * line + top * line + left * c + k;
                    b.position = tile * c + k;
                    visit(&b);
                }
                tile++;
            }
        }
    }
}

/// The image's value at row r, column s of the block's tile; zero outside the image.
VINLINE vf tile_load(const tile_block *b, int r, int s) {
    return b->full || (r >= b->r0 && r < b->r1 && s >= b->s0 && s < b->s1)
        ? vload(b->in + b->corner + r * b->line + s * b->c, b->lanes) : VSPLAT(0.0f);
}

/// The image (`out`, dx) at column s of the block's tile += o[r], for the rows r inside the image.
VINLINE void add_column(const tile_block *b, int s, const vf *o) {
    for (int r = b->r0; r < b->r1; r++) {
        float *at = b->out + b->corner + r * b->line + s * b->c;
        vstore(vload(at, b->lanes) + o[r], at, b->lanes);
    }
}

/// Fully unrolls the loop after it (the transforms' loops over constant tables).
#define UNROLL _Pragma("clang loop unroll(full)")

/// acc + c·x, with the constant c = ±1 as an addition (−0 + x is x exactly, so a sum starts at −0).
VINLINE vf term(vf acc, float c, vf x) {
    if (c == 1.0f) return acc + x;
    if (c == -1.0f) return acc - x;
    return VSPLAT(c) * x + acc;
}

/// o[i] = Σ_j M[i][j]·in[j] (R × K table), and its transpose o[j] = Σ_i M[i][j]·in[i]: matrix
/// products over constant tables, which once unrolled drop their zero terms and turn ±1 into
/// additions.
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

/// One block of VW filters of one Winograd output tile, as the output transforms and their
/// adjoints visit them: outputs [i·m, i·m + height) × [j·m, j·m + width) of image `image` (cropped
/// at the output's edge), filters k ..< k + lanes, and the tile's number in M's order.
typedef struct {
    int image, i, j, height, width, lanes;
    long k, tile;
} output_block;

/// Calls `visit(block, context)` for every block of VW filters of every m×m output tile of
/// `images` images, in the order M numbers the tiles.
VINLINE void for_each_output_block(int images, int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                   int m, const void *context, void (*visit)(const output_block *, const void *)) {
    output_block b = {.tile = 0};
    for (b.image = 0; b.image < images; b.image++) {
        for (b.i = 0; b.i < tilesH; b.i++) {
            b.height = min_int(m, outHeight - b.i * m);
            for (b.j = 0; b.j < tilesW; b.j++, b.tile++) {
                b.width = min_int(m, outWidth - b.j * m);
                for (b.k = 0; b.k < filters; b.k += VW) {
                    b.lanes = (int)(filters - b.k < VW ? filters - b.k : VW);
                    visit(&b, context);
                }
            }
        }
    }
}

#endif
#endif
