// What the AVX2/FMA kernels of this target share (x86-64 only; not part of the module's API):
// 8-float vectors (and 16-float ones for code compiled for AVX-512), the target attribute,
// partial-vector loads and stores, and integer min/max. (Kernels compiled at both widths from one
// source use vecw.h.)
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

#endif
#endif
