// Inverted dropout's mask and product, AVX-512 (call only when ck_has_avx512vl() is 1): the Philox
// words of 16 blocks at a time, the same integer operations as Sources/Kernels/Random.swift's
// `philox4x32`, so the same mask as Sources/Kernels/Dropout.swift's loop, 64 elements at a time
// where that draws 32. (The Swift code builds for baseline x86-64, whose 4-lane multiplies made the
// mask cost 3 ns an element: more than the dense product next to it.)
#include "ckernels.h"
#include "vec.h"

#if defined(__x86_64__)

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define INLINE_WIDE static inline __attribute__((always_inline)) WIDE

/// (hi, lo) 32-bit halves of the 64-bit products x·m, lane by lane: the even lanes' products and
/// the odd lanes' (moved down), each half put in place by one masked shuffle (shift-and-blend pairs
/// took two operations each; the generator is bound by the two vector ports).
INLINE_WIDE void multiply(__m512i x, __m512i m, __m512i *hi, __m512i *lo) {
    const __m512i even = _mm512_mul_epu32(x, m), odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
    *hi = _mm512_mask_shuffle_epi32(odd, 0x5555, even, _MM_PERM_DDBB);   // even lanes: even's upper half
    *lo = _mm512_mask_shuffle_epi32(even, 0xaaaa, odd, _MM_PERM_CCAA);   // odd lanes: odd's lower half
}

/// Philox4x32-10 of 16 counters (c0[k], c1[k], c2, c3): lane k of x[w] is word w of block k.
INLINE_WIDE void philox16(__m512i c0, __m512i c1, unsigned c2, unsigned c3, unsigned k0, unsigned k1,
                          __m512i x[4]) {
    __m512i x0 = c0, x1 = c1, x2 = _mm512_set1_epi32((int)c2), x3 = _mm512_set1_epi32((int)c3);
    const __m512i m0 = _mm512_set1_epi32((int)0xD2511F53), m1 = _mm512_set1_epi32((int)0xCD9E8D57);
    for (int round = 0; round < 10; round++) {
        if (round > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
        __m512i h0, l0, h1, l1;
        multiply(x0, m0, &h0, &l0);
        multiply(x2, m1, &h1, &l1);
        x0 = _mm512_ternarylogic_epi32(h1, x1, _mm512_set1_epi32((int)k0), 0x96);   // h1 ^ x1 ^ k0
        x1 = l1;
        x2 = _mm512_ternarylogic_epi32(h0, x3, _mm512_set1_epi32((int)k1), 0x96);   // h0 ^ x3 ^ k1
        x3 = l0;
    }
    x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
}

WIDE void ck_dropout(long count, unsigned long long firstBlock, unsigned key0, unsigned key1,
                     unsigned long long index, unsigned cut, float keep, const float *x, float *y, float *mask) {
    const __m512i lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i cuts = _mm512_set1_epi32((int)cut);
    const __m512 keeps = _mm512_set1_ps(keep);
    // Word w of block k goes to element 4k + w: interleave the four words' vectors.
    const __m512i pairLo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i pairHi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i quadLo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11), quadHi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    long e = 0;
    for (; e + 64 <= count; e += 64) {
        // Blocks firstBlock + e/4 ..< + 16 as 64-bit counters, split into low and high words.
        const unsigned long long b = firstBlock + (unsigned long long)(e / 4);
        const __m512i n0 = _mm512_add_epi64(_mm512_set1_epi64((long long)b), lanes);
        const __m512i n1 = _mm512_add_epi64(n0, _mm512_set1_epi64(8));
        const __m512i lo = _mm512_permutex2var_epi32(n0, _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22,
                                                                            24, 26, 28, 30), n1);
        const __m512i hi = _mm512_permutex2var_epi32(n0, _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23,
                                                                            25, 27, 29, 31), n1);
        __m512i w[4];
        philox16(lo, hi, (unsigned)index, (unsigned)(index >> 32), key0, key1, w);
        __m512 m[4];
        for (int q = 0; q < 4; q++) m[q] = _mm512_maskz_mov_ps(_mm512_cmp_epu32_mask(w[q], cuts, _MM_CMPINT_NLT), keeps);
        const __m512 a = _mm512_permutex2var_ps(m[0], pairLo, m[1]), b2 = _mm512_permutex2var_ps(m[0], pairHi, m[1]);
        const __m512 c = _mm512_permutex2var_ps(m[2], pairLo, m[3]), d = _mm512_permutex2var_ps(m[2], pairHi, m[3]);
        __m512 out[4];
        out[0] = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(a), quadLo, _mm512_castps_pd(c)));
        out[1] = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(a), quadHi, _mm512_castps_pd(c)));
        out[2] = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(b2), quadLo, _mm512_castps_pd(d)));
        out[3] = _mm512_castpd_ps(_mm512_permutex2var_pd(_mm512_castps_pd(b2), quadHi, _mm512_castps_pd(d)));
        for (int q = 0; q < 4; q++) {
            if (mask) _mm512_storeu_ps(mask + e + 16 * q, out[q]);
            _mm512_storeu_ps(y + e + 16 * q, _mm512_mul_ps(_mm512_loadu_ps(x + e + 16 * q), out[q]));
        }
    }
    // The last elements (fewer than 64, a multiple of 4 but for the very end) one block at a time.
    for (; e < count; e += 4) {
        const unsigned long long b = firstBlock + (unsigned long long)(e / 4);
        unsigned c0 = (unsigned)b, c1 = (unsigned)(b >> 32), c2 = (unsigned)index, c3 = (unsigned)(index >> 32);
        unsigned k0 = key0, k1 = key1;
        for (int round = 0; round < 10; round++) {
            if (round > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
            const unsigned long long p0 = 0xD2511F53ull * c0, p1 = 0xCD9E8D57ull * c2;
            const unsigned n0 = (unsigned)(p1 >> 32) ^ c1 ^ k0, n2 = (unsigned)(p0 >> 32) ^ c3 ^ k1;
            c1 = (unsigned)p1, c3 = (unsigned)p0, c0 = n0, c2 = n2;
        }
        const unsigned words[4] = {c0, c1, c2, c3};
        for (int l = 0; l < 4 && e + l < count; l++) {
            const float m = words[l] >= cut ? keep : 0.0f;
            if (mask) mask[e + l] = m;
            y[e + l] = x[e + l] * m;
        }
    }
}

#endif
