// winograd_s2_body.h at 16 floats a vector (AVX-512); see winograd_s2.c.
#define VW 16
#include "winograd_s2_body.h"
