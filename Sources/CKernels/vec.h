// What the AVX2/FMA kernels of this target share (x86-64 only; not part of the module's API):
// 8- and 16-float vectors, the target attribute, partial-vector loads and stores, the 2×2 pooling
// window's maximum, integer min/max for tile edges, and the Winograd input gradients' tile walk.
#ifndef CKERNELS_VEC_H
#define CKERNELS_VEC_H
#if defined(__x86_64__)
#include <immintrin.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));   // for unaligned loads and stores
typedef int vi8 __attribute__((vector_size(32)));
typedef int vi8u __attribute__((vector_size(32), aligned(4)));
// 16-float vectors: AVX-512's zmm registers in code compiled for it (two ymm elsewhere).
typedef float v16 __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));
typedef int vi16 __attribute__((vector_size(64)));
typedef int vi16u __attribute__((vector_size(64), aligned(4)));
#define AVX __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline)) AVX
#define SPLAT(x) ((v8){x, x, x, x, x, x, x, x})
#define SPLAT16(x) ((v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x})

static inline int max_int(int a, int b) { return a > b ? a : b; }
static inline int min_int(int a, int b) { return a < b ? a : b; }

/// `lanes` (≤ 8) floats at p, zero-filled.
INLINE v8 load(const float *p, int lanes) {
    if (lanes == 8) return *(const v8u *)p;
    v8 v = SPLAT(0.0f);
    for (int l = 0; l < lanes; l++) v[l] = p[l];
    return v;
}

INLINE void store(v8 v, float *p, int lanes) {
    if (lanes == 8) {
        *(v8u *)p = v;
        return;
    }
    for (int l = 0; l < lanes; l++) p[l] = v[l];
}

/// A mask of the first `lanes` (0…8) lanes, for the masked loads and stores of a last vector.
INLINE __m256i lanes_mask(int lanes) {
    return _mm256_setr_epi32(lanes > 0 ? -1 : 0, lanes > 1 ? -1 : 0, lanes > 2 ? -1 : 0, lanes > 3 ? -1 : 0,
                             lanes > 4 ? -1 : 0, lanes > 5 ? -1 : 0, lanes > 6 ? -1 : 0, lanes > 7 ? -1 : 0);
}

INLINE v8 select8(vi8 mask, v8 yes, v8 no) { return (v8)(((vi8)yes & mask) | ((vi8)no & ~mask)); }

/// max(v, 0) as Activation.relu (NaN stays NaN).
INLINE v8 relu8(v8 v) { return (v8)((vi8)v & ~(v < SPLAT(0.0f))); }

/// A 2×2 pooling window's maximum of v[0…3] (scan order) and its position, strict: ties keep
/// the first.
INLINE void window_max(const v8 v[4], v8 *best, vi8 *taken) {
    v8 b = v[0];
    vi8 t = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int p = 1; p < 4; p++) {
        const vi8 larger = v[p] > b;
        b = select8(larger, v[p], b);
        t = (t & ~larger) | ((vi8){p, p, p, p, p, p, p, p} & larger);
    }
    *best = b;
    *taken = t;
}

/// One block of 8 channels of one Winograd input tile, as the input transforms and their
/// gradients visit them. Images are (N, H, W, c) and V or dV (ξ, T, c) position-major: the tile's
/// corner (possibly outside the image) is at `image` + corner, its position ξ at `tiles` + position
/// + ξ·step; rows [r0, r1) and columns [s0, s1) of the n×n tile lie inside the image (`full`: all).
typedef struct {
    const float *in;
    float *out;
    long corner, position, line, c, step;
    int r0, r1, s0, s1, full, lanes;
} tile_block;

/// Calls `visit` for every block of 8 channels of every n×n input tile of a Winograd transform
/// with m×m output tiles (tile (i, j) of an image starts at row i·m − pad, column j·m − pad), in
/// the order V numbers the tiles. `in` and `out` are passed through to `visit`.
INLINE void for_each_tile_block(const float *in, float *out, int images, int height, int width, int channels,
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
                for (long k = 0; k < c; k += 8) {
                    b.lanes = (int)(c - k < 8 ? c - k : 8);
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
INLINE v8 tile_load(const tile_block *b, int r, int s) {
    return b->full || (r >= b->r0 && r < b->r1 && s >= b->s0 && s < b->s1)
        ? load(b->in + b->corner + r * b->line + s * b->c, b->lanes) : SPLAT(0.0f);
}

/// The image (`out`, dx) at column s of the block's tile += o[r], for the rows r inside the image.
INLINE void add_column(const tile_block *b, int s, const v8 *o) {
    for (int r = b->r0; r < b->r1; r++) {
        float *at = b->out + b->corner + r * b->line + s * b->c;
        store(load(at, b->lanes) + o[r], at, b->lanes);
    }
}

#endif
#endif
