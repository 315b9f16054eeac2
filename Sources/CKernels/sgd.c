// SGD's step with momentum (Keras's form, Nesterov's too) over a chunk of parameters, AVX-512
// (call only when ck_has_avx512vl() is 1). The Swift loop it replaces
// (Sources/Kernels/OptimizerKernels.swift) ran four floats at a time at best and took 6.5% of
// Caffe's LeNet's step (perf). The operations are the Swift loop's, one by one and in its order —
// each product and difference rounded (no FMA) — so the bits are the same.
#include "ckernels.h"
#include "vec.h"

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__)

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl")))

WIDE void ck_sgd_momentum(long count, float *w, const float *g, float *v, float lr, float momentum, int nesterov) {
    const __m512 vmu = _mm512_set1_ps(momentum), vlr = _mm512_set1_ps(lr);
    for (long i = 0; i < count; i += 16) {
        const __mmask16 k = count - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (count - i)) - 1);
        const __m512 step = _mm512_mul_ps(vlr, _mm512_maskz_loadu_ps(k, g + i));
        // v ← μ·v − lr·g
        const __m512 vn = _mm512_sub_ps(_mm512_mul_ps(vmu, _mm512_maskz_loadu_ps(k, v + i)), step);
        _mm512_mask_storeu_ps(v + i, k, vn);
        // w ← w + v, or with Nesterov w ← w + (μ·v − lr·g)
        const __m512 delta = nesterov ? _mm512_sub_ps(_mm512_mul_ps(vmu, vn), step) : vn;
        _mm512_mask_storeu_ps(w + i, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, w + i), delta));
    }
}

#endif
