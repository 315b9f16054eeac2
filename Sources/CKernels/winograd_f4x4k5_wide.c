// winograd_pooled_body.h with F(4×4, 5×5)'s matrices at 16 floats a vector (AVX-512); see winograd_f4x4k5.c.
#define VW 16
#include "winograd_f4x4k5_body.h"
