// Winograd transforms of a 3×3 convolution at stride 2 with 4×4 output tiles: F(4, 2) along each
// axis's even inputs, from the points 0, 1, −1, 2 and ∞ (Tests/KernelsTests/winograd5.py); the
// code is winograd_s2_body.h's, built twice: 8 floats a vector (AVX2/FMA) here, 16 (AVX-512) in
// winograd_s2_wide.c, the same bits.
#define S2_M 4
#define S2_PREFIX ck_wino_s2_

#if defined(__x86_64__)
static const float S2_BT[5][5] = {
    {2, -1, -2, 1, 0},
    {0, -2, -1, 1, 0},
    {0, 2, -3, 1, 0},
    {0, -1, 0, 1, 0},
    {0, 2, -1, -2, 1},
};
static const float S2_AT[4][5] = {
    {1, 1, 1, 1, 0},
    {0, 1, -1, 2, 0},
    {0, 1, 1, 4, 0},
    {0, 1, -1, 8, 1},
};
static const float S2_G[5][2] = {
    {1.0f / 2, 0},
    {-1.0f / 2, -1.0f / 2},
    {-1.0f / 6, 1.0f / 6},
    {1.0f / 6, 1.0f / 3},
    {0, 1},
};
#endif

#ifndef VW
#define VW 8
#endif
#include "winograd_s2_body.h"
