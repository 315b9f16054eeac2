// Winograd F(5×5, 3×3) with 2×2 max pooling after it, AVX2/FMA only (Sources/CKernels/winograd5.c):
// call only when ck_has_avx2_fma() is 1. Layouts as the F(4×4, 3×3) kernels in ckernels.h with 49
// positions: V (49, T, C), M and dM (49, T, F), U and dU (49, C, F), T = images·tilesH·tilesW.
#ifndef CKERNELS_WINOGRAD5_H
#define CKERNELS_WINOGRAD5_H

/// 1 when the pooled output transforms take tilesH × tilesW tiles per image (≤ 1024 outputs).
int ck_wino5_supported(int tilesH, int tilesW);

/// V = Bᵀ d B for every 7×7 tile (stride 5) of `images` images (N, H, W, C) at x.
void ck_wino5_input(const float *x, int images, int height, int width, int channels, int pad, int tilesH,
                    int tilesW, float *v);

/// dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order), dx overwritten.
void ck_wino5_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                             int tilesH, int tilesW, float *dx);

/// y, argmax = 2×2 max pooling of f(Aᵀ M A + b), f = ReLU when `relu`; `bias` may be NULL.
/// y and argmax (N, OH/2, OW/2, F), argmax 0…3 in scan order, ties keep the first.
void ck_wino5_output_pool(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH,
                          int tilesW, const float *bias, int relu, float *y, int *argmax);

/// dM = A dZ Aᵀ for dZ = the pooled gradient dy at each window's maximum (where y > 0 with
/// `relu`); biasSums (F) += Σ dZ, images in order, windows in scan order.
void ck_wino5_output_pool_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,
                                   int outHeight, int outWidth, int filters, int tilesH, int tilesW, float *dm,
                                   float *biasSums);

/// U (49, C, F) = G g Gᵀ for channels c0 ..< c1 of the kernel g (3, 3, C, F).
void ck_wino5_kernel(const float *g, int channels, int filters, int c0, int c1, float *u);

/// dk (3, 3, C, F) += Gᵀ dU G for channels c0 ..< c1.
void ck_wino5_kernel_gradient(const float *du, int channels, int filters, int c0, int c1, float *dk);

#endif
