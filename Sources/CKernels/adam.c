// The Adam step over a chunk of parameters, AVX2 and AVX-512 (call only when ck_has_avx2_fma() is
// 1; `wide` only when ck_has_avx512vl() is 1). The package's Swift builds for baseline x86-64,
// where this loop runs four floats at a time; here 8 or 16. The operations are those of the Swift
// loop it replaces (Sources/Kernels/OptimizerKernels.swift), one by one and in its order —
// subtract, multiply, add, square root, divide, each rounded (no FMA) — so the bits are the same.
#include "ckernels.h"
#include "vec.h"

#pragma STDC FP_CONTRACT OFF    // the tail's scalar expressions too: rounded step by step, as in Swift

#if defined(__x86_64__)

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl")))

WIDE static void adam16(long count, float *w, const float *g, float *m, float *v, float a, float b, float alpha,
                        float epsilon) {
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b), valpha = _mm512_set1_ps(alpha),
                 veps = _mm512_set1_ps(epsilon);
    for (long i = 0; i < count; i += 16) {
        const __mmask16 k = count - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (count - i)) - 1);
        const __m512 gi = _mm512_maskz_loadu_ps(k, g + i), mi = _mm512_maskz_loadu_ps(k, m + i),
                     vi = _mm512_maskz_loadu_ps(k, v + i), wi = _mm512_maskz_loadu_ps(k, w + i);
        const __m512 mn = _mm512_add_ps(mi, _mm512_mul_ps(_mm512_sub_ps(gi, mi), va));               // m + (g − m)·a
        const __m512 vn = _mm512_add_ps(vi, _mm512_mul_ps(_mm512_sub_ps(_mm512_mul_ps(gi, gi), vi), vb));  // v + (g² − v)·b
        const __m512 step = _mm512_div_ps(_mm512_mul_ps(mn, valpha), _mm512_add_ps(_mm512_sqrt_ps(vn), veps));
        _mm512_mask_storeu_ps(m + i, k, mn);
        _mm512_mask_storeu_ps(v + i, k, vn);
        _mm512_mask_storeu_ps(w + i, k, _mm512_sub_ps(wi, step));                                  // w − m·α/(√v + ε)
    }
}

AVX static void adam8(long count, float *w, const float *g, float *m, float *v, float a, float b, float alpha,
                      float epsilon) {
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b), valpha = _mm256_set1_ps(alpha),
                 veps = _mm256_set1_ps(epsilon);
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 gi = _mm256_loadu_ps(g + i), mi = _mm256_loadu_ps(m + i), vi = _mm256_loadu_ps(v + i);
        const __m256 mn = _mm256_add_ps(mi, _mm256_mul_ps(_mm256_sub_ps(gi, mi), va));
        const __m256 vn = _mm256_add_ps(vi, _mm256_mul_ps(_mm256_sub_ps(_mm256_mul_ps(gi, gi), vi), vb));
        const __m256 step = _mm256_div_ps(_mm256_mul_ps(mn, valpha), _mm256_add_ps(_mm256_sqrt_ps(vn), veps));
        _mm256_storeu_ps(m + i, mn);
        _mm256_storeu_ps(v + i, vn);
        _mm256_storeu_ps(w + i, _mm256_sub_ps(_mm256_loadu_ps(w + i), step));
    }
    for (; i < count; i++) {
        const float gi = g[i];
        const float mn = m[i] + (gi - m[i]) * a, vn = v[i] + (gi * gi - v[i]) * b;
        m[i] = mn;
        v[i] = vn;
        w[i] -= mn * alpha / (__builtin_sqrtf(vn) + epsilon);
    }
}

void ck_adam(long count, float *w, const float *g, float *m, float *v, float a, float b, float alpha, float epsilon,
             int wide) {
    if (wide) adam16(count, w, g, m, v, a, b, alpha, epsilon);
    else adam8(count, w, g, m, v, a, b, alpha, epsilon);
}

#endif
