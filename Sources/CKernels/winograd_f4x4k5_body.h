// Winograd F(4×4, 5×5) with 2×2 max pooling: 8×8 input tiles at a stride of 4, 64 multiplications
// per (channel, filter) for 16 outputs instead of 400. Caffe's LeNet's second layer (20 → 50
// filters of 5×5 over 12×12) needs its 8×8 outputs: four tiles, which line up with the pooling
// windows. The matrices come from the points 0, 1, −1, 2, −2, 1/2, −1/2 and ∞
// (Tests/KernelsTests/winograd5.py: float32 error 1.2e-5 of the largest output, as F(5×5, 3×3)'s);
// the code is winograd_pooled_body.h's.
#define WP_N 8
#define WP_M 4
#define WP_R 5
#define WP_PREFIX ck_wino45_

#if defined(__x86_64__)
#include "winograd_bt8.h"
#define BT WINOGRAD_BT8
static const float AT[4][8] = {
    {1, 1, 1, 1, 1, 1, 1, 0},
    {0, 1, -1, 2, -2, 0.5f, -0.5f, 0},
    {0, 1, 1, 4, 4, 0.25f, 0.25f, 0},
    {0, 1, -1, 8, -8, 0.125f, -0.125f, 1},
};
static const float G[8][5] = {
    {-1, 0, 0, 0, 0},
    {-2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9, -2.0f / 9},
    {-2.0f / 9, 2.0f / 9, -2.0f / 9, 2.0f / 9, -2.0f / 9},
    {1.0f / 90, 1.0f / 45, 2.0f / 45, 4.0f / 45, 8.0f / 45},
    {1.0f / 90, -1.0f / 45, 2.0f / 45, -4.0f / 45, 8.0f / 45},
    {32.0f / 45, 16.0f / 45, 8.0f / 45, 4.0f / 45, 2.0f / 45},
    {32.0f / 45, -16.0f / 45, 8.0f / 45, -4.0f / 45, 2.0f / 45},
    {0, 0, 0, 0, 1},
};
#endif

#include "winograd_pooled_body.h"
