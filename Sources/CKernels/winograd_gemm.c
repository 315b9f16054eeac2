// The Winograd convolution's per-position products (Sources/Kernels/WinogradProducts.swift),
// AVX2/FMA (call only when ck_has_avx2_fma() is 1), and a portable transpose. OpenBLAS packs both
// operands on every call, which for these tiny products (a few dozen rows, 32–64 columns) costs
// about a third as much as the arithmetic; these read both operands where they lie and pack
// nothing: register tiles of 6 rows × 16 columns (12 accumulators, so 12 independent FMA chains
// hide the FMA latency), A's elements broadcast straight from memory, B's rows loaded straight
// from memory, C's last columns masked. The transposed-A form differs only in where A(i, p)
// lies, so one kernel serves both.
#include "ckernels.h"
#include "vec.h"

void ck_transpose(int rows, int cols, const float *a, int lda, float *b, int ldb) {
    // 8 × 8 blocks keep both sides' cache lines in use.
    for (int i0 = 0; i0 < rows; i0 += 8)
        for (int j0 = 0; j0 < cols; j0 += 8)
            for (int i = i0; i < i0 + 8 && i < rows; i++)
                for (int j = j0; j < j0 + 8 && j < cols; j++) b[(long)j * ldb + i] = a[(long)i * lda + j];
}

#if defined(__x86_64__)

enum { MR = 6, NV = 2 };    // a full tile: MR rows × NV vectors of 8 columns (measured on Zen 4 against
                            // 4 × 16, 5 × 16 and 4 × 24 for the cnn.yaml shapes: the fastest)

/// C[0..<rows][0..<nv·8] (the last vector masked by `tail` when `masked`) of C (+)= op(A) · B.
/// op(A)(i, p) is a[i·lda + p], or a[p·lda + i] when `ta`.
INLINE void tile(const int rows, const int nv, const int masked, const int ta, int k,
                 const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                 int accumulate, __m256i tail) {
    __m256 acc[MR][NV];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm256_setzero_ps();
    for (int p = 0; p < k; p++) {
        __m256 bv[NV];
        for (int v = 0; v < nv; v++) {
            const float *at = b + p * ldb + v * 8;
            bv[v] = masked && v == nv - 1 ? _mm256_maskload_ps(at, tail) : _mm256_loadu_ps(at);
        }
        for (int r = 0; r < rows; r++) {
            const __m256 x = _mm256_broadcast_ss(ta ? a + p * lda + r : a + r * lda + p);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            float *at = c + r * ldc + v * 8;
            const int part = masked && v == nv - 1;
            // Added to C after the sum, as sgemm's beta = 1 does: chaining a kernel gradient's
            // blocks into one long FMA sequence measured less accurate (RMS error 1.6× OpenBLAS's).
            if (accumulate) acc[r][v] = _mm256_add_ps(part ? _mm256_maskload_ps(at, tail) : _mm256_loadu_ps(at), acc[r][v]);
            if (part) _mm256_maskstore_ps(at, tail, acc[r][v]);
            else _mm256_storeu_ps(at, acc[r][v]);
        }
}

/// One column panel (nv vectors, the last masked when `masked`): every row, MR at a time, then
/// the rows left over.
INLINE void panel(const int nv, const int masked, const int ta, int m, int k, const float *a, long lda,
                  const float *b, long ldb, float *c, long ldc, int accumulate, __m256i tail) {
    int i = 0;
    for (; i + MR <= m; i += MR)
        tile(MR, nv, masked, ta, k, ta ? a + i : a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate, tail);
    const float *ai = ta ? a + i : a + i * lda;
    float *ci = c + i * ldc;
    switch (m - i) {
    case 1: tile(1, nv, masked, ta, k, ai, lda, b, ldb, ci, ldc, accumulate, tail); break;
    case 2: tile(2, nv, masked, ta, k, ai, lda, b, ldb, ci, ldc, accumulate, tail); break;
    case 3: tile(3, nv, masked, ta, k, ai, lda, b, ldb, ci, ldc, accumulate, tail); break;
    case 4: tile(4, nv, masked, ta, k, ai, lda, b, ldb, ci, ldc, accumulate, tail); break;
    case 5: tile(5, nv, masked, ta, k, ai, lda, b, ldb, ci, ldc, accumulate, tail); break;
    default: break;
    }
}

/// Panels of NV vectors, then one narrower or masked panel for the columns left over.
INLINE void product(const int ta, int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                    float *c, long ldc, int accumulate) {
    int j = 0;
    const __m256i none = _mm256_setzero_si256();
    for (; j + NV * 8 <= n; j += NV * 8) panel(NV, 0, ta, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate, none);
    const int left = n - j;     // 0 ..< 16
    if (left == 0) return;
    const int vectors = (left + 7) / 8, masked = left % 8 != 0;
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(left - (vectors - 1) * 8),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    b += j, c += j;
    if (vectors == 2) panel(2, 1, ta, m, k, a, lda, b, ldb, c, ldc, accumulate, tail);
    else if (masked) panel(1, 1, ta, m, k, a, lda, b, ldb, c, ldc, accumulate, tail);
    else panel(1, 0, ta, m, k, a, lda, b, ldb, c, ldc, accumulate, none);
}

AVX void ck_wgemm_nn(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc, int accumulate) {
    product(0, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

AVX void ck_wgemm_tn(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc, int accumulate) {
    product(1, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

#endif
