// The augmentation's bilinear warp of one image, AVX-512 (call only when ck_has_avx512vl() is 1):
// Sources/Kernels/ImageKernels.swift's `warpImage`, 16 output pixels a vector. Every operation is
// the Swift loop's, in its order, each rounded (no FMA), so the bits are the same. The image is
// first copied, as floats, into a frame one pixel wider on every side, zero there: a neighbour
// outside the image then reads 0 as the Swift loop's bounds checks give it, and every pixel the
// four gathers ask for is inside the frame.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl,avx512dq")))

WIDE void ck_warp_image(const unsigned char *src, int rows, int cols, float a, float b, float e, float d, float f,
                        float g, float scale, float shift, float *dst) {
    float frame[4096];
    const int stride = cols + 2;
    for (int i = 0; i < stride; i++) frame[i] = 0, frame[(rows + 1) * stride + i] = 0;
    for (int r = 0; r < rows; r++) {
        float *line = frame + (r + 1) * stride;
        line[0] = 0, line[cols + 1] = 0;
        for (int c = 0; c < cols; c++) line[c + 1] = (float)src[r * cols + c];
    }
    const __m512 width = _mm512_set1_ps((float)cols), height = _mm512_set1_ps((float)rows);
    const __m512 one = _mm512_set1_ps(1), minusOne = _mm512_set1_ps(-1);
    const __m512 va = _mm512_set1_ps(a), vd = _mm512_set1_ps(d), vscale = _mm512_set1_ps(scale),
                 vshift = _mm512_set1_ps(shift);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i vstride = _mm512_set1_epi32(stride), ones = _mm512_set1_epi32(1);
    for (int r = 0; r < rows; r++) {
        const float fr = (float)r;
        const __m512 rowX = _mm512_set1_ps(b * fr + e), rowY = _mm512_set1_ps(f * fr + g);
        for (int c = 0; c < cols; c += 16) {
            const __mmask16 valid = cols - c >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (cols - c)) - 1);
            const __m512 fc = _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32(c), lane));
            const __m512 x = _mm512_add_ps(_mm512_mul_ps(va, fc), rowX), y = _mm512_add_ps(_mm512_mul_ps(vd, fc), rowY);
            // Inside unless all four neighbours are outside: x > −1, y > −1, x < width, y < height.
            const __mmask16 inside = _mm512_cmp_ps_mask(x, minusOne, _CMP_GT_OQ)
                & _mm512_cmp_ps_mask(y, minusOne, _CMP_GT_OQ) & _mm512_cmp_ps_mask(x, width, _CMP_LT_OQ)
                & _mm512_cmp_ps_mask(y, height, _CMP_LT_OQ) & valid;
            // ⌊x⌋ by truncation of x + 1 > 0, as the Swift loop; (i, j) → the frame's (i + 1, j + 1).
            const __m512i i = _mm512_sub_epi32(_mm512_cvttps_epi32(_mm512_add_ps(x, one)), ones);
            const __m512i j = _mm512_sub_epi32(_mm512_cvttps_epi32(_mm512_add_ps(y, one)), ones);
            const __m512 fx = _mm512_sub_ps(x, _mm512_cvtepi32_ps(i)), fy = _mm512_sub_ps(y, _mm512_cvtepi32_ps(j));
            const __m512i at = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(j, ones), vstride),
                                                _mm512_add_epi32(i, ones));
            const __m512 zero = _mm512_setzero_ps();
            const __m512 p00 = _mm512_mask_i32gather_ps(zero, inside, at, frame, 4);
            const __m512 p01 = _mm512_mask_i32gather_ps(zero, inside, _mm512_add_epi32(at, ones), frame, 4);
            const __m512i below = _mm512_add_epi32(at, vstride);
            const __m512 p10 = _mm512_mask_i32gather_ps(zero, inside, below, frame, 4);
            const __m512 p11 = _mm512_mask_i32gather_ps(zero, inside, _mm512_add_epi32(below, ones), frame, 4);
            const __m512 top = _mm512_add_ps(p00, _mm512_mul_ps(fx, _mm512_sub_ps(p01, p00)));
            const __m512 bottom = _mm512_add_ps(p10, _mm512_mul_ps(fx, _mm512_sub_ps(p11, p10)));
            const __m512 value = _mm512_maskz_add_ps(inside, top, _mm512_mul_ps(fy, _mm512_sub_ps(bottom, top)));
            _mm512_mask_storeu_ps(dst + r * cols + c, valid, _mm512_add_ps(_mm512_mul_ps(value, vscale), vshift));
        }
    }
}

#endif
