// Winograd F(5×5, 3×3) transforms with 2×2 max pooling, built twice:
// 8 floats a vector (AVX2/FMA, call only when ck_has_avx2_fma() is 1) here, 16 (AVX-512, only
// when ck_has_avx512vl() is 1) in winograd_f5x5_wide.c: one source, winograd_pooled_body.h (with
// winograd_f5x5_body.h's matrices), whose every lane computes one channel or filter alone — so both
// builds give the same bits — and whose AVX2 build also defines the entry points, which take the
// build the caller asks for with `wide`.
#define VW 8
#include "winograd_f5x5_body.h"
