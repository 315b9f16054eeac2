// winograd_f4x4_body.h at 16 floats a vector (AVX-512); see winograd_f4x4.c.
#define VW 16
#include "winograd_f4x4_body.h"
