// Small single-threaded matrix products for the Winograd convolution's 36 per-position products
// (Sources/Kernels/Winograd.swift), AVX2/FMA only: call them only when ck_has_avx2_fma() is true.
// OpenBLAS packs both operands on every call, which for these tiny products (a few dozen rows,
// 32–64 columns) costs about a third as much as the arithmetic; these kernels read both operands
// where they lie (B's rows stay in the L1 cache) and pack nothing.
//
// Row-major throughout. Each element of C is a sum over k from zero, one FMA per term in k order,
// then added to C's own value when `accumulate`, so results never depend on how callers split
// the work.
#ifndef WGEMM_H
#define WGEMM_H

/// C (m × n) = A · B, or C += A · B when `accumulate`; A is m × k (lda), B is k × n (ldb), C ldc.
void ck_wgemm_nn(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc, int accumulate);

/// C (m × n) = Aᵀ · B, or C += Aᵀ · B when `accumulate`; A is stored k × m (lda ≥ m), B is k × n (ldb).
void ck_wgemm_tn(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc, int accumulate);

/// B (cols × rows, ldb) = Aᵀ for A (rows × cols, lda). Portable C, any CPU.
void ck_transpose(int rows, int cols, const float *a, int lda, float *b, int ldb);

#endif
