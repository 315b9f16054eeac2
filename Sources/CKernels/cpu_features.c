// What the CPU offers, and the stand-ins for every fast kernel where it cannot run. The package
// builds for baseline x86-64 (no 8-float vectors, no FMA); the other files of this target compile
// their kernels for AVX2+FMA (or AVX-512VL) alone with function attributes, and Sources/Kernels
// calls them only when these functions say the CPU has the instructions. Off x86-64 the kernels
// are not compiled at all: the detection says no, the shape checks say no, and each kernel traps
// (Kernels never calls it there). Also the switch for denormal floats (flushed to zero or not),
// which Sources/Kernels/Denormals.swift sets around training.
#include "ckernels.h"

#if defined(__x86_64__)
#include <xmmintrin.h>

enum { FTZ_DAZ = 0x8040 };     // MXCSR's flush-to-zero (bit 15) and denormals-are-zero (bit 6)

int ck_flush_denormals(void) { return (_mm_getcsr() & FTZ_DAZ) == FTZ_DAZ; }

void ck_set_flush_denormals(int on) {
    const unsigned csr = _mm_getcsr();
    const unsigned wanted = on ? csr | FTZ_DAZ : csr & ~(unsigned)FTZ_DAZ;
    if (wanted != csr) _mm_setcsr(wanted);
}

int ck_has_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int ck_has_avx512vl(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
}

#else

int ck_has_avx2_fma(void) { return 0; }
int ck_has_avx512vl(void) { return 0; }
int ck_flush_denormals(void) { return 0; }
void ck_set_flush_denormals(int on) {}

// winograd_f4x4.c
void ck_winograd_input(const float *x, int images, int height, int width, int channels, int pad,
                       int tilesH, int tilesW, float *v, int wide) { __builtin_trap(); }
void ck_winograd_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                                int tilesH, int tilesW, float *dx, int wide) { __builtin_trap(); }
void ck_winograd_output(const float *m, int images, int outHeight, int outWidth, int filters,
                        int tilesH, int tilesW, const float *bias, int relu, float *y, int *argmax, int wide) { __builtin_trap(); }
void ck_winograd_output_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,
                                 int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                 float *dm, float *biasSums, int wide) { __builtin_trap(); }

// winograd_f5x5.c and winograd_f4x4k5.c
#define CK_WINOGRAD_POOLED_TRAPS(p)                                                                        \
    int p##supported(int tilesH, int tilesW) { return 0; }                                                 \
    void p##input(const float *x, int images, int height, int width, int channels, int pad, int tilesH,      \
                  int tilesW, float *v, int wide) { __builtin_trap(); }                                    \
    void p##input_gradient(const float *dv, int images, int height, int width, int channels, int pad,        \
                           int tilesH, int tilesW, float *dx, int wide) { __builtin_trap(); }              \
    void p##output_pool(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH,     \
                        int tilesW, const float *bias, int relu, float *y, int *argmax, int wide) {          \
        __builtin_trap();                                                                                    \
    }                                                                                                        \
    void p##output_pool_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,   \
                                 int outHeight, int outWidth, int filters, int tilesH, int tilesW, float *dm, \
                                 float *biasSums, int wide) { __builtin_trap(); }                          \
    void p##kernel(const float *g, int channels, int filters, int c0, int c1, float *u, int wide) {          \
        __builtin_trap();                                                                                    \
    }                                                                                                        \
    void p##kernel_gradient(const float *du, int channels, int filters, int c0, int c1, float *dk, int wide) { \
        __builtin_trap();                                                                                    \
    }
CK_WINOGRAD_POOLED_TRAPS(ck_wino5_)
CK_WINOGRAD_POOLED_TRAPS(ck_wino45_)

// winograd_s2.c and winograd_s2m7.c
#define CK_WINOGRAD_STRIDE2_TRAPS(p)                                                                       \
    void p##input(const float *x, int images, int height, int width, int channels, int pad, int tilesH,      \
                  int tilesW, float *v, int wide) { __builtin_trap(); }                                    \
    void p##input_gradient(const float *dv, int images, int height, int width, int channels, int pad,        \
                           int tilesH, int tilesW, float *dx, int wide) { __builtin_trap(); }              \
    void p##output(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH,         \
                   int tilesW, const float *bias, int relu, float *y, int wide) { __builtin_trap(); }       \
    void p##output_gradient(const float *dy, const float *y, int relu, int images, int outHeight,           \
                            int outWidth, int filters, int tilesH, int tilesW, float *dm, float *biasSums,  \
                            int wide) { __builtin_trap(); }                                                \
    void p##kernel(const float *g, int channels, int filters, int c0, int c1, float *u, int wide) {          \
        __builtin_trap();                                                                                    \
    }                                                                                                        \
    void p##kernel_gradient(const float *du, int channels, int filters, int c0, int c1, float *dk, int wide) { \
        __builtin_trap();                                                                                    \
    }
CK_WINOGRAD_STRIDE2_TRAPS(ck_wino_s2_)
CK_WINOGRAD_STRIDE2_TRAPS(ck_wino_s27_)

// gemm.c (ck_transpose is compiled everywhere, its AVX blocks only on x86_64)
void ck_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
             float *c, int ldc, int accumulate, int wide) { __builtin_trap(); }
int ck_gemm_rows_sparse(int m, int n, int k, const float *a, int lda) { return 0; }
int ck_gemm_transposed_skips(int m, int k, const float *a, int lda) { return 0; }
void ck_gemm_sparse_rows(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                         int accumulate) { __builtin_trap(); }

// adam.c
void ck_adam(long count, float *w, const float *g, float *m, float *v, float a, float b, float alpha, float epsilon,
             int wide) { __builtin_trap(); }
void ck_sgd_momentum(long count, float *w, const float *g, float *v, float lr, float momentum, int nesterov) {
    __builtin_trap();
}
void ck_rmsprop(long count, float *w, const float *g, float *s, float lr, float rho, float epsilon) { __builtin_trap(); }
void ck_adadelta(long count, float *w, const float *g, float *a, float *d, float lr, float rho, float epsilon) {
    __builtin_trap();
}

// dropout.c
void ck_dropout(long count, unsigned long long firstBlock, unsigned key0, unsigned key1,
                unsigned long long index, unsigned cut, float keep, const float *x, float *y, float *mask) {
    __builtin_trap();
}

// batch_norm.c
void ck_bn_moments(const float *x, long m, int c, int c0, int w, double *sums, double *squares) { __builtin_trap(); }
void ck_bn_normalize(const float *x, float *y, long rows, int c, const float *mean, const float *scale,
                     const float *offset, int relu) { __builtin_trap(); }
void ck_bn_backward_sums(const float *x, const float *dy, long m, int c, int c0, int w, const float *mean,
                         const float *inverseStd, const float *scale, const float *offset, int relu, double *sumDy,
                         double *sumDyXhat) {
    __builtin_trap();
}
void ck_bn_input_gradient(const float *x, const float *dy, float *dx, long rows, int c, const float *mean,
                          const float *inverseStd, const float *scale, const float *offset, const float *meanDy,
                          const float *meanDyXhat, int batchStatistics, int relu) { __builtin_trap(); }

void ck_bn_normalize_pool(const float *x, float *y, int *argmax, int images, int height, int width, int c,
                          const float *mean, const float *scale, const float *offset) { __builtin_trap(); }
void ck_bn_backward_sums_pool(const float *x, const float *dy, const int *argmax, long m, int height, int width,
                              int c, int c0, int w, const float *mean, const float *inverseStd, const float *scale,
                              const float *offset, double *sumDy, double *sumDyXhat) {
    __builtin_trap();
}
void ck_bn_gradient_rows(const ck_bn_gradient *g, long first, long rows, float *out) { __builtin_trap(); }
void ck_bn_input_gradient_pool(const float *x, const float *dy, const int *argmax, float *dx, long first, long rows,
                               int height, int width, int c, const float *mean, const float *inverseStd,
                               const float *scale, const float *offset, const float *meanDy,
                               const float *meanDyXhat, int batchStatistics) { __builtin_trap(); }

// narrow_gemm.c
void ck_gemm_narrow(long rows, int k, int n, const float *a, const float *b, float *c) { __builtin_trap(); }
void ck_gemm_narrow_tn(long rows, int k, int n, const float *a, const float *d, float *c) { __builtin_trap(); }

// conv_direct.c
int ck_conv1_direct_supported(int kh, int kw, int filters) { return 0; }
void ck_conv1_direct_forward(const float *x, int images, int height, int width, int kh, int kw, int sh, int sw,
                             int padT, int padL, int outHeight, int outWidth, int filters,
                             const float *kernel, const float *bias, int relu, float *y) { __builtin_trap(); }
void ck_conv1_direct_kernel_gradient(const float *x, int height, int width, int kh, int kw, int sh, int sw,
                                     int padT, int padL, int outHeight, int outWidth, int filters,
                                     const float *dz, const ck_bn_gradient *bn, long first, long count, float *dk) {
    __builtin_trap();
}

// conv_pool_direct.c
int ck_conv_pool_supported(int height, int width, int channels, int kh, int kw, int padT, int padL, int outHeight,
                           int outWidth, int filters) { return 0; }
void ck_conv_pool(const float *x, int images, int height, int width, int channels, int kh, int kw, int padT,
                  int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                  int relu, int wide, float *y, int *argmax) { __builtin_trap(); }
void ck_conv1_pool_kernel_gradient(const float *x, int images, int height, int width, int kh, int kw, int padT,
                                   int padL, int outHeight, int outWidth, int filters, const float *dy,
                                   const float *y, const int *argmax, int relu, int wide, float *dk,
                                   float *biasSums) {
    __builtin_trap();
}

// conv_pool_sparse.c
int ck_pool_sparse_supported(int channels, int kh, int kw, int outHeight, int outWidth, int filters) { return 0; }
void ck_pool_sparse_gradient(const float *x, int images, int height, int width, int channels, int kh, int kw,
                             int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                             const float *dy, const float *y, const int *argmax, int relu, int wide, float *dkT,
                             float *biasSums, float *dx) { __builtin_trap(); }

#endif
