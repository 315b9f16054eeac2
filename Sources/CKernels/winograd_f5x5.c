// Winograd F(5×5, 3×3) transforms with 2×2 max pooling, built twice:
// 8 floats a vector (AVX2/FMA, call only when ck_has_avx2_fma() is 1) here, 16 (AVX-512, only
// when ck_has_avx512vl() is 1) in winograd_f5x5_wide.c: one source, winograd_f5x5_body.h, whose every
// lane computes one channel or filter alone — so both builds give the same bits — and the
// entry points below, which take the build the caller asks for with `wide`.
#define VW 8
#include "winograd_f5x5_body.h"

#if defined(__x86_64__)
int ck_wino5_supported(int tilesH, int tilesW) {
    return tilesH >= 1 && tilesW >= 1 && tilesH * 5 * tilesW * 5 <= WINO5_MAX_OUTPUTS;
}

WIDTH_DISPATCH(ck_wino5_input, (x, images, height, width, channels, pad, tilesH, tilesW, v), const float *x,
               int images, int height, int width, int channels, int pad, int tilesH, int tilesW, float *v)
WIDTH_DISPATCH(ck_wino5_input_gradient, (dv, images, height, width, channels, pad, tilesH, tilesW, dx),
               const float *dv, int images, int height, int width, int channels, int pad, int tilesH, int tilesW,
               float *dx)
WIDTH_DISPATCH(ck_wino5_output_pool,
               (m, images, outHeight, outWidth, filters, tilesH, tilesW, bias, relu, y, argmax),
               const float *m, int images, int outHeight, int outWidth, int filters, int tilesH, int tilesW,
               const float *bias, int relu, float *y, int *argmax)
WIDTH_DISPATCH(ck_wino5_output_pool_gradient,
               (dy, y, relu, argmax, images, outHeight, outWidth, filters, tilesH, tilesW, dm, biasSums),
               const float *dy, const float *y, int relu, const int *argmax, int images, int outHeight,
               int outWidth, int filters, int tilesH, int tilesW, float *dm, float *biasSums)
WIDTH_DISPATCH(ck_wino5_kernel, (g, channels, filters, c0, c1, u), const float *g, int channels, int filters,
               int c0, int c1, float *u)
WIDTH_DISPATCH(ck_wino5_kernel_gradient, (du, channels, filters, c0, c1, dk), const float *du, int channels,
               int filters, int c0, int c1, float *dk)

#endif
