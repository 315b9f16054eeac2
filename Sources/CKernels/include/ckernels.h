// AVX2/FMA kernels: the Winograd F(4×4, 3×3) tile transforms (Sources/Kernels/Winograd.swift has
// the layout, the formulas and the portable fallback) and narrow matrix products for the pooled
// convolution. The Swift package builds for baseline x86-64, which has neither 8-float vectors
// nor FMA; these functions are compiled for AVX2+FMA alone and called only when
// `ck_has_avx2_fma()` says the CPU has both.
#ifndef CKERNELS_H
#define CKERNELS_H

#include "winograd5.h"

/// 1 when the CPU has AVX2 and FMA (x86-64 only), else 0.
int ck_has_avx2_fma(void);

/// V (36, T, C) = Bᵀ d B for every tile of `images` images (N, H, W, C) at x; T = images·tilesH·tilesW.
void ck_winograd_input(const float *x, int images, int height, int width, int channels, int pad,
                       int tilesH, int tilesW, float *v);

/// dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order), dx overwritten; dV (36, T, C).
void ck_winograd_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                                int tilesH, int tilesW, float *dx);

/// y = f(Aᵀ M A + b) for every tile of M (36, T, F), cropped to the (outHeight, outWidth) output,
/// f = ReLU when `relu`; `bias` may be NULL. With `argmax` (not NULL), y is the 2×2 max pooling of
/// that output and argmax the position of each window's maximum (0…3, ties keep the first).
void ck_winograd_output(const float *m, int images, int outHeight, int outWidth, int filters,
                        int tilesH, int tilesW, const float *bias, int relu, float *y, int *argmax);

/// dM (36, T, F) = A dZ Aᵀ for every tile, dZ = dy ⊙ f'(y), zero beyond the output's edge
/// (`y` may be NULL without `relu`); biasSums (F) += Σ dZ in tile order. With `argmax`, dy and y are
/// pooled and dZ is dy at each window's maximum.
void ck_winograd_output_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,
                                 int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                 float *dm, float *biasSums);

/// C (rows × n) = A (rows × k, row-major, lda = k) · B (k × n, ldb = n), ldc = n, for a narrow
/// product: 1 ≤ n ≤ 32, k·⌈n/8⌉·8 ≤ 4096. Each element is summed over k in order, one FMA a
/// term. (OpenBLAS packs both operands on every call, which costs more than the product itself
/// when n is a convolution's few filters.)
void ck_gemm_narrow(long rows, int k, int n, const float *a, const float *b, float *c);

/// C (k × n) = Aᵀ · D for A (rows × k, lda = k) and D (rows × n, ldd = n), ldc = n, with the same
/// limits as ck_gemm_narrow: each element is summed over the rows in order, one FMA a term.
void ck_gemm_narrow_tn(long rows, int k, int n, const float *a, const float *d, float *c);

/// 1 when ck_conv_pool takes this convolution: a 3×3 or 5×5 kernel, stride 1, 1 to 32 channels,
/// padding before of padT rows and padL columns (Keras same/valid), an output of at least 2×2
/// and a padded image of at most 4096 floats. (ck_conv1_pool_kernel_gradient: the same with one
/// channel.)
int ck_conv_pool_supported(int height, int width, int channels, int kh, int kw, int padT, int padL, int outHeight,
                           int outWidth, int filters);

/// y, argmax = the 2×2 max pooling of f(x ∗ K + b) for `images` images x (N, H, W, C), kernel
/// (kh·kw·C, F), f = ReLU when `relu`, `bias` may be NULL; y and argmax (N, OH/2, OW/2, F) as
/// ck_winograd_output's. Each output summed over (r, s, c) in im2col's order from zero, one FMA
/// a term: the same bits as im2col + ck_gemm_narrow + the Swift pooling. With `wide` on a CPU
/// with AVX-512VL, the code compiled for 32 vector registers runs (the same operations).
void ck_conv_pool(const float *x, int images, int height, int width, int channels, int kh, int kw, int padT,
                  int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                  int relu, int wide, float *y, int *argmax);

/// dk (kh·kw, F) = Σ x-windows ⊗ dz over the images' pixels in scan order (overwritten), dz = the
/// pooled gradient dy at each window's argmax (where y > 0 with `relu`); biasSums (F) += Σ dz in
/// window order. The same bits as the Swift pooling gradient + ck_gemm_narrow_tn. With `wide` on a
/// CPU with AVX-512VL, the code compiled for 32 vector registers runs (the same operations, faster).
void ck_conv1_pool_kernel_gradient(const float *x, int images, int height, int width, int kh, int kw, int padT,
                                   int padL, int outHeight, int outWidth, int filters, const float *dy,
                                   const float *y, const int *argmax, int relu, int wide, float *dk,
                                   float *biasSums);

/// 1 when the CPU has AVX-512F and AVX-512VL (x86-64 only), else 0.
int ck_has_avx512vl(void);

/// 1 when ck_pool_sparse_gradient takes a pooled convolution: a kernel row of at most 32 floats
/// (kw·C ≤ 32) and a padded image of at most 16,384 floats.
int ck_pool_sparse_supported(int channels, int kh, int kw, int outHeight, int outWidth);

/// The gradients of a stride-1 convolution (N, H, W, C) → (OH, OW, F) with 2×2 max pooling after
/// it, from the pooled dy, y and argmax, visiting only the (window, filter) pairs whose gradient
/// g (dy, zero where y ≤ 0 with `relu`) is not zero: dkT (F, kh, 32) = Σ g · x's kh×kw×C patch at
/// the window's argmax, row r of the patch at [f][r][0 ..< kw·C] (overwritten; windows in scan
/// order, images in order); biasSums (F) += Σ g; with dx (not NULL), dx = Σ g · kT[f] added at the
/// patch (overwritten). kT (F, kh, 32) is the kernel, Kᵀ rows zero past kw·C.
void ck_pool_sparse_gradient(const float *x, int images, int height, int width, int channels, int kh, int kw,
                             int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                             const float *dy, const float *y, const int *argmax, int relu, float *dkT,
                             float *biasSums, float *dx);

#endif
