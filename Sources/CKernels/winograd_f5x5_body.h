// Winograd F(5×5, 3×3) with 2×2 max pooling: 7×7 input tiles at a stride of 5, 49 multiplications
// per (channel, filter) for 25 outputs instead of 225. cnn.yaml's second layer pools an 11×11
// output to 5×5, which needs 10×10 outputs: four 5×5 tiles (196 products per channel and filter)
// instead of nine F(4×4) tiles that compute 12×12 (324). The matrices come from the points 0, 1,
// −1, 2, −2, 1/2 and ∞ (Tests/KernelsTests/winograd5.py); the code is winograd_pooled_body.h's.
#define WP_N 7
#define WP_M 5
#define WP_R 3
#define WP_PREFIX ck_wino5_

#if defined(__x86_64__)
static const float BT[7][7] = {
    {-2, 4, 2.5f, -5, -0.5f, 1, 0},
    {0, 2, -2, -4.5f, 0.5f, 1, 0},
    {0, -2, 6, -3.5f, -1.5f, 1, 0},
    {0, 1, -1.5f, -2, 1.5f, 1, 0},
    {0, -1, 2.5f, 0, -2.5f, 1, 0},
    {0, 4, 0, -5, 0, 1, 0},
    {0, -2, 4, 2.5f, -5, -0.5f, 1},
};
static const float AT[5][7] = {
    {1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0.5f, 0},
    {0, 1, 1, 4, 4, 0.25f, 0},
    {0, 1, -1, 8, -8, 0.125f, 0},
    {0, 1, 1, 16, 16, 0.0625f, 1},
};
static const float G[7][3] = {
    {-1.0f / 2, 0, 0},
    {-1.0f / 3, -1.0f / 3, -1.0f / 3},
    {1.0f / 9, -1.0f / 9, 1.0f / 9},
    {1.0f / 36, 1.0f / 18, 1.0f / 9},
    {-1.0f / 60, 1.0f / 30, -1.0f / 15},
    {32.0f / 45, 16.0f / 45, 8.0f / 45},
    {0, 0, 1},
};
#endif

#include "winograd_pooled_body.h"
