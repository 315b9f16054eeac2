// Winograd F(4×4, 5×5) transforms with 2×2 max pooling, built as winograd_f5x5.c builds F(5×5,
// 3×3): 8 floats a vector here (and the entry points), 16 in winograd_f4x4k5_wide.c, from
// winograd_pooled_body.h with winograd_f4x4k5_body.h's matrices.
#define VW 8
#include "winograd_f4x4k5_body.h"
