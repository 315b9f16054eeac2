// Winograd tile and kernel transforms of a 3×3 convolution at stride 2 (winograd_s2_body.h has
// the scheme), built twice like winograd_f4x4.c: 8 floats a vector (AVX2/FMA) here, 16 (AVX-512)
// in winograd_s2_wide.c, the same bits; the entry points below take the build `wide` asks for.
#define VW 8
#include "winograd_s2_body.h"

#if defined(__x86_64__)

WIDTH_DISPATCH(ck_wino_s2_input, (x, images, height, width, channels, pad, tilesH, tilesW, v), const float *x,
               int images, int height, int width, int channels, int pad, int tilesH, int tilesW, float *v)
WIDTH_DISPATCH(ck_wino_s2_input_gradient, (dv, images, height, width, channels, pad, tilesH, tilesW, dx),
               const float *dv, int images, int height, int width, int channels, int pad, int tilesH, int tilesW,
               float *dx)
WIDTH_DISPATCH(ck_wino_s2_output, (m, images, outHeight, outWidth, filters, tilesH, tilesW, bias, relu, y),
               const float *m, int images, int outHeight, int outWidth, int filters, int tilesH, int tilesW,
               const float *bias, int relu, float *y)
WIDTH_DISPATCH(ck_wino_s2_output_gradient,
               (dy, y, relu, images, outHeight, outWidth, filters, tilesH, tilesW, dm, biasSums),
               const float *dy, const float *y, int relu, int images, int outHeight, int outWidth, int filters,
               int tilesH, int tilesW, float *dm, float *biasSums)
WIDTH_DISPATCH(ck_wino_s2_kernel, (g, channels, filters, c0, c1, u), const float *g, int channels, int filters,
               int c0, int c1, float *u)
WIDTH_DISPATCH(ck_wino_s2_kernel_gradient, (du, channels, filters, c0, c1, dk), const float *du, int channels,
               int filters, int c0, int c1, float *dk)

#endif
