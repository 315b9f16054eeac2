// Bᵀ of Winograd's minimal filtering over the eight points 0, 1, −1, 1/2, −1/2, 2, −2 and ∞
// (Tests/KernelsTests/winograd5.py): the input transform of every F(m, r) with m + r − 1 = 8 —
// F(4×4, 5×5) (winograd_f4x4k5_body.h) and the stride-2 transforms' F(7, 2) (winograd_s2m7.c).
#ifndef CK_WINOGRAD_BT8_H
#define CK_WINOGRAD_BT8_H

static const float WINOGRAD_BT8[8][8] = {
    {-1, 0, 5.25f, 0, -5.25f, 0, 1, 0},
    {0, 1, 1, -4.25f, -4.25f, 1, 1, 0},
    {0, -1, 1, 4.25f, -4.25f, -1, 1, 0},
    {0, 0.5f, 0.25f, -2.5f, -1.25f, 2, 1, 0},
    {0, -0.5f, 0.25f, 2.5f, -1.25f, -2, 1, 0},
    {0, 2, 4, -2.5f, -5, 0.5f, 1, 0},
    {0, -2, 4, 2.5f, -5, -0.5f, 1, 0},
    {0, -1, 0, 5.25f, 0, -5.25f, 0, 1},
};

#endif
