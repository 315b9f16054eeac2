// winograd_s2m7.c at 16 floats a vector (AVX-512).
#define VW 16
#include "winograd_s2m7.c"
