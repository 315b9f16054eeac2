// Winograd transforms of a 3×3 convolution at stride 2 with 7×7 output tiles: F(7, 2) along each
// axis's even inputs, from the points 0, ±1, ±2, ±1/2 and ∞ (Tests/KernelsTests/winograd5.py): 225
// products for 49 outputs, where 4×4 tiles need 324 (four tiles) for a 7×7 output. The code is
// winograd_s2_body.h's, built twice: 8 floats a vector (AVX2/FMA) here, 16 (AVX-512) in
// winograd_s2m7_wide.c, the same bits.
#define S2_M 7
#define S2_PREFIX ck_wino_s27_

#if defined(__x86_64__)
#include "winograd_bt8.h"
#define S2_BT WINOGRAD_BT8
static const float S2_AT[7][8] = {
    {1, 1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
    {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
    {0, 1, -1, 8, -8, 0.125f, -0.125f, 0},
    {0, 1, 1, 16, 16, 0.0625f, 0.0625f, 0},
    {0, 1, -1, 32, -32, 0.03125f, -0.03125f, 0},
    {0, 1, 1, 64, 64, 0.015625f, 0.015625f, 1},
};
static const float S2_G[8][2] = {
    {-1, 0},
    {-2.0f / 9, -2.0f / 9},
    {-2.0f / 9, 2.0f / 9},
    {1.0f / 90, 1.0f / 45},
    {1.0f / 90, -1.0f / 45},
    {32.0f / 45, 16.0f / 45},
    {32.0f / 45, -16.0f / 45},
    {0, 1},
};
#endif

#ifndef VW
#define VW 8
#endif
#include "winograd_s2_body.h"
