// RMSprop's and Adadelta's steps over a chunk of parameters, AVX-512 (call only when
// ck_has_avx512vl() is 1). The package's Swift builds for baseline x86-64, where these loops run
// four floats at a time at best, and their square root and division per parameter made the
// optimizer step a fifth of a 512-512 MLP's epoch (Keras 2's mnist_mlp.py, RMSprop). The operations
// are those of the Swift loops they replace (Sources/Kernels/OptimizerKernels.swift), one by one
// and in their order — multiply, add, square root, divide, each rounded (no FMA) — so the bits are
// the same.
#include "ckernels.h"
#include "vec.h"

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl")))

/// The mask of the `count - i` (at most 16) lanes left from i.
#define LANES(count, i) ((count) - (i) >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << ((count) - (i))) - 1))

WIDE void ck_rmsprop(long count, float *w, const float *g, float *s, float lr, float rho, float epsilon) {
    const __m512 vrho = _mm512_set1_ps(rho), vc = _mm512_set1_ps(1 - rho), vlr = _mm512_set1_ps(lr),
                 veps = _mm512_set1_ps(epsilon);
    for (long i = 0; i < count; i += 16) {
        const __mmask16 k = LANES(count, i);
        const __m512 gi = _mm512_maskz_loadu_ps(k, g + i);
        // s ← ρ·s + ((1−ρ)·g)·g
        const __m512 sn = _mm512_add_ps(_mm512_mul_ps(vrho, _mm512_maskz_loadu_ps(k, s + i)),
                                        _mm512_mul_ps(_mm512_mul_ps(vc, gi), gi));
        // w ← w − (lr·g)/√(s + ε)
        const __m512 step = _mm512_div_ps(_mm512_mul_ps(vlr, gi), _mm512_sqrt_ps(_mm512_add_ps(sn, veps)));
        _mm512_mask_storeu_ps(s + i, k, sn);
        _mm512_mask_storeu_ps(w + i, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, w + i), step));
    }
}

WIDE void ck_adadelta(long count, float *w, const float *g, float *a, float *d, float lr, float rho, float epsilon) {
    const __m512 vrho = _mm512_set1_ps(rho), vc = _mm512_set1_ps(1 - rho), vlr = _mm512_set1_ps(lr),
                 veps = _mm512_set1_ps(epsilon);
    for (long i = 0; i < count; i += 16) {
        const __mmask16 k = LANES(count, i);
        const __m512 gi = _mm512_maskz_loadu_ps(k, g + i), di = _mm512_maskz_loadu_ps(k, d + i);
        // E[g²] ← ρ·E[g²] + ((1−ρ)·g)·g
        const __m512 an = _mm512_add_ps(_mm512_mul_ps(vrho, _mm512_maskz_loadu_ps(k, a + i)),
                                        _mm512_mul_ps(_mm512_mul_ps(vc, gi), gi));
        // Δ = (√(E[Δ²] + ε)·g) / √(E[g²] + ε)
        const __m512 delta = _mm512_div_ps(_mm512_mul_ps(_mm512_sqrt_ps(_mm512_add_ps(di, veps)), gi),
                                           _mm512_sqrt_ps(_mm512_add_ps(an, veps)));
        // E[Δ²] ← ρ·E[Δ²] + ((1−ρ)·Δ)·Δ
        const __m512 dn = _mm512_add_ps(_mm512_mul_ps(vrho, di), _mm512_mul_ps(_mm512_mul_ps(vc, delta), delta));
        _mm512_mask_storeu_ps(a + i, k, an);
        _mm512_mask_storeu_ps(d + i, k, dn);
        // w ← w − lr·Δ
        _mm512_mask_storeu_ps(w + i, k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, w + i), _mm512_mul_ps(vlr, delta)));
    }
}

#endif
