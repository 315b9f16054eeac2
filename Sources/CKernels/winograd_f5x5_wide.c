// winograd_pooled_body.h with F(5×5, 3×3)'s matrices at 16 floats a vector (AVX-512); see winograd_f5x5.c.
#define VW 16
#include "winograd_f5x5_body.h"
