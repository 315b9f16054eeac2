// The C kernels of Kernels (Sources/Kernels), one file per family of operations. The package
// builds for baseline x86-64, which has neither 8-float vectors nor FMA; the kernels are compiled
// for AVX2+FMA alone (function attributes) and Kernels calls them only when ck_has_avx2_fma()
// says the CPU has both. Off x86-64 cpu_features.c supplies traps in their place. Every kernel
// has one fixed order of operations, so results do not depend on how callers split the work.
//
//   cpu_features.c       CPU detection (AVX2+FMA, AVX-512VL), denormal handling; the stand-ins
//                        off x86-64
//   winograd_f4x4.c      Winograd F(4×4, 3×3) tile transforms (input, output, their adjoints),
//                        8 or 16 floats a vector (`wide`: AVX-512; the same bits)
//   winograd_f5x5.c      Winograd F(5×5, 3×3) and F(4×4, 5×5) transforms with 2×2 max pooling
//   winograd_f4x4k5.c    (tiles and kernel), likewise: winograd_pooled_body.h at two tile sizes
//   winograd_s2.c        Winograd transforms of 3×3 convolutions at stride 2 (tiles and kernel),
//   winograd_s2m7.c      likewise: winograd_s2_body.h at two tile sizes
//   gemm.c               row-major C (+)= op(A)·op(B), one FMA chain per element; a transpose
//   narrow_gemm.c        products with at most 32 columns (a pooled convolution's few filters)
//   adam.c               the Adam step over a chunk of parameters
//   sgd.c                SGD's step with momentum (AVX-512 only)
//   rmsprop_adadelta.c   RMSprop's and Adadelta's steps (AVX-512 only)
//   dropout.c            dropout's mask (Philox words, 16 blocks at a time) and product
//   batch_norm.c         batch normalization's passes, optionally with the ReLU after it
//   conv_direct.c        convolution of a single-channel image straight from it, and its kernel
//                        gradient
//   conv_pool_direct.c   convolution + 2×2 max pooling straight from the image; the kernel
//                        gradient of a single-channel one
//   conv_pool_sparse.c   the gradient of convolution + pooling from its nonzero terms only
//
// Layouts are those of Sources/Kernels/Convolution.swift (images (N, H, W, C), kernels
// (kh, kw, C, F)) and Winograd.swift (V (P, T, C), M and dM (P, T, F), U and dU (P, C, F) for P
// positions per tile: 36 for F(4×4, 3×3), 49 for F(5×5, 3×3), 64 for F(4×4, 5×5), 81 or 225 at
// stride 2 (whose U has 36 or 81 kernel matrices, winograd_s2_body.h);
// T = images·tilesH·tilesW). Pooled outputs and
// their argmax are (N, OH/2, OW/2, F), argmax 0…3 in scan order (0 top left), ties keep the first.
#ifndef CKERNELS_H
#define CKERNELS_H

// MARK: CPU features (cpu_features.c)

/// 1 when the CPU has AVX2 and FMA (x86-64 only), else 0.
int ck_has_avx2_fma(void);

/// 1 when the CPU has AVX-512F and AVX-512VL (x86-64 only), else 0: the 32 vector registers of the
/// direct kernels, and gemm.c's 16-float vectors.
int ck_has_avx512vl(void);

/// The calling thread's handling of denormal floats: 1 when results that would be denormal are
/// flushed to zero and denormal inputs read as zero (x86 MXCSR FTZ and DAZ), else 0.
int ck_flush_denormals(void);

/// Sets the calling thread's handling of denormal floats (see ck_flush_denormals); a no-op off x86-64.
void ck_set_flush_denormals(int on);

// MARK: Winograd F(4×4, 3×3) tile transforms (winograd_f4x4.c)
// `wide` (only when ck_has_avx512vl() is 1): the AVX-512 build, 16 channels a vector instead of 8,
// the same bits. Likewise for F(5×5) below.

/// V (36, T, C) = Bᵀ d B for every tile of `images` images (N, H, W, C) at x; T = images·tilesH·tilesW.
void ck_winograd_input(const float *x, int images, int height, int width, int channels, int pad,
                       int tilesH, int tilesW, float *v, int wide);

/// dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order), dx overwritten; dV (36, T, C).
void ck_winograd_input_gradient(const float *dv, int images, int height, int width, int channels, int pad,
                                int tilesH, int tilesW, float *dx, int wide);

/// y = f(Aᵀ M A + b) for every tile of M (36, T, F), cropped to the (outHeight, outWidth) output,
/// f = ReLU when `relu`; `bias` may be NULL. With `argmax` (not NULL), y is the 2×2 max pooling of
/// that output and argmax the position of each window's maximum (0…3, ties keep the first).
void ck_winograd_output(const float *m, int images, int outHeight, int outWidth, int filters,
                        int tilesH, int tilesW, const float *bias, int relu, float *y, int *argmax, int wide);

/// dM (36, T, F) = A dZ Aᵀ for every tile, dZ = dy ⊙ f'(y), zero beyond the output's edge
/// (`y` may be NULL without `relu`); biasSums (F) += Σ dZ in tile order. With `argmax`, dy and y are
/// pooled and dZ is dy at each window's maximum.
void ck_winograd_output_gradient(const float *dy, const float *y, int relu, const int *argmax, int images,
                                 int outHeight, int outWidth, int filters, int tilesH, int tilesW,
                                 float *dm, float *biasSums, int wide);

// MARK: Winograd with 2×2 max pooling (winograd_pooled_body.h), two tile sizes:
//   F(5×5, 3×3)  ck_wino5_…   winograd_f5x5.c    7×7 tiles at a stride of 5, 49 positions
//   F(4×4, 5×5)  ck_wino45_…  winograd_f4x4k5.c  8×8 tiles at a stride of 4, 64 positions
// For N×N tiles of M×M outputs of an R×R kernel, ξ = N·r + s. Each prefix has:
//
//   supported(tilesH, tilesW)  1 when the pooled output transforms take tilesH × tilesW tiles per
//                              image (≤ 1024 outputs)
//   input                      V = Bᵀ d B for every N×N tile (stride M) of `images` images
//                              (N, H, W, C) at x
//   input_gradient             dx = Σ_tiles B dV Bᵀ (overlapping tiles added in tile order), dx
//                              overwritten
//   output_pool                y, argmax = 2×2 max pooling of f(Aᵀ M A + b), f = ReLU when `relu`;
//                              `bias` may be NULL. y and argmax (N, OH/2, OW/2, F), argmax 0…3 in
//                              scan order, ties keep the first
//   output_pool_gradient       dM = A dZ Aᵀ for dZ = the pooled gradient dy at each window's
//                              maximum (where y > 0 with `relu`); biasSums (F) += Σ dZ, images in
//                              order, windows in scan order
//   kernel                     U (N², C, F) = G g Gᵀ for channels c0 ..< c1 of the kernel g (R, R, C, F)
//   kernel_gradient            dk (R, R, C, F) += Gᵀ dU G for channels c0 ..< c1
#define CK_WINOGRAD_POOLED(p)                                                                          \
    int p##supported(int tilesH, int tilesW);                                                          \
    void p##input(const float *x, int images, int height, int width, int channels, int pad, int tilesH,  \
                  int tilesW, float *v, int wide);                                                     \
    void p##input_gradient(const float *dv, int images, int height, int width, int channels, int pad,    \
                           int tilesH, int tilesW, float *dx, int wide);                               \
    void p##output_pool(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH, \
                        int tilesW, const float *bias, int relu, float *y, int *argmax, int wide);     \
    void p##output_pool_gradient(const float *dy, const float *y, int relu, const int *argmax,           \
                                 int images, int outHeight, int outWidth, int filters, int tilesH,       \
                                 int tilesW, float *dm, float *biasSums, int wide);                      \
    void p##kernel(const float *g, int channels, int filters, int c0, int c1, float *u, int wide);      \
    void p##kernel_gradient(const float *du, int channels, int filters, int c0, int c1, float *dk, int wide);
CK_WINOGRAD_POOLED(ck_wino5_)
CK_WINOGRAD_POOLED(ck_wino45_)

// MARK: Winograd 3×3 convolution at stride 2 (winograd_s2_body.h has the scheme), two tile sizes:
//   ck_wino_s2_…   winograd_s2.c    4×4 outputs from 9×9 input tiles at a stride of 8: 81
//                                   positions, U and dU (36, C, F)
//   ck_wino_s27_…  winograd_s2m7.c  7×7 outputs from 15×15 tiles at a stride of 14: 225 positions,
//                                   U and dU (81, C, F)
// `wide` as above. Each is its F(4×4, 3×3) namesake's counterpart without pooling; kernel and
// kernel_gradient as the pooled ones'.
#define CK_WINOGRAD_STRIDE2(p)                                                                         \
    void p##input(const float *x, int images, int height, int width, int channels, int pad, int tilesH,  \
                  int tilesW, float *v, int wide);                                                     \
    void p##input_gradient(const float *dv, int images, int height, int width, int channels, int pad,    \
                           int tilesH, int tilesW, float *dx, int wide);                               \
    void p##output(const float *m, int images, int outHeight, int outWidth, int filters, int tilesH,     \
                   int tilesW, const float *bias, int relu, float *y, int wide);                        \
    void p##output_gradient(const float *dy, const float *y, int relu, int images, int outHeight,       \
                            int outWidth, int filters, int tilesH, int tilesW, float *dm, float *biasSums, \
                            int wide);                                                                 \
    void p##kernel(const float *g, int channels, int filters, int c0, int c1, float *u, int wide);      \
    void p##kernel_gradient(const float *du, int channels, int filters, int c0, int c1, float *dk, int wide);
CK_WINOGRAD_STRIDE2(ck_wino_s2_)
CK_WINOGRAD_STRIDE2(ck_wino_s27_)

// MARK: Memory hints

/// Asks the CPU to start loading [p, p + bytes) into its caches: a hint, with no effect on any
/// result (the batch gather's next images, read from random places in the dataset).
static inline void ck_prefetch(const void *p, long bytes) {
    for (long offset = 0; offset < bytes; offset += 64) __builtin_prefetch((const char *)p + offset);
}

// MARK: Matrix products (gemm.c)

/// C (m × n, ldc) = op(A) · op(B), or C += op(A) · op(B) when `accumulate`, row-major. op(A) is
/// A (m × k, lda) or, with `ta`, Aᵀ for A stored k × m; op(B) is B (k × n, ldb) or, with `tb`, Bᵀ
/// for B stored n × k. Each element of C is a sum over k from zero, one FMA per term in k order,
/// then added to C's value with `accumulate`: the same bits for AVX2 and, with `wide` (only where
/// ck_has_avx512vl() is 1), AVX-512, and for any part of C computed alone.
void ck_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
             float *c, int ldc, int accumulate, int wide);

/// 1 when ck_gemm's AVX-512 code (`wide`) takes op(A) = A (not transposed, B not transposed, m × k,
/// n columns of C) a few rows at a time at their nonzeros: at most a quarter of A nonzero (an image
/// batch; judged from 32 rows), at least 128 columns. Call only when ck_has_avx512vl() is 1.
int ck_gemm_rows_sparse(int m, int n, int k, const float *a, int lda);

/// 1 when ck_gemm's AVX-512 code, for a product op(A) · B with op(A) = Aᵀ (A stored k × m) and at
/// least 64 columns of C (it asks only then), takes Aᵀ in tiles of 4 of its rows at the p where one
/// of them is nonzero — a kernel gradient xᵀ·dz of an image batch — rather than in dense tiles:
/// when those tiles skip at least a quarter of all p, judged from 8 tiles spread over A. Call only
/// when ck_has_avx512vl() is 1.
int ck_gemm_transposed_skips(int m, int k, const float *a, int lda);

/// ck_gemm (A and B not transposed, AVX-512) with A taken at its nonzeros whatever its density or
/// C's width — for a caller that asked ck_gemm_rows_sparse once about all of A and then computes C
/// in pieces of columns (each piece narrower than the question's 128 columns perhaps). The same
/// bits as ck_gemm. Call only when ck_has_avx512vl() is 1.
void ck_gemm_sparse_rows(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                         int accumulate);

/// B (cols × rows, ldb) = Aᵀ for A (rows × cols, lda). Any CPU: 8 × 8 blocks in AVX registers where it has AVX2.
void ck_transpose(int rows, int cols, const float *a, int lda, float *b, int ldb);

// MARK: Adam (adam.c)

/// One Adam step over `count` parameters, the operations of Sources/Kernels/OptimizerKernels.swift's
/// loop in its order, each rounded (the same bits): m ← m + (g − m)·a; v ← v + (g² − v)·b;
/// w ← w − m·alpha / (√v + ε). With `wide` (only where ck_has_avx512vl() is 1), 16 floats a vector.
void ck_adam(long count, float *w, const float *g, float *m, float *v, float a, float b, float alpha, float epsilon,
             int wide);

// MARK: SGD with momentum (sgd.c)

/// One SGD step with momentum μ over `count` parameters, the operations of OptimizerKernels.swift's
/// loop in its order (the same bits): v ← μ·v − lr·g; w ← w + v, or with `nesterov`
/// w ← w + (μ·v − lr·g). Only where ck_has_avx512vl() is 1.
void ck_sgd_momentum(long count, float *w, const float *g, float *v, float lr, float momentum, int nesterov);

// MARK: RMSprop and Adadelta (rmsprop_adadelta.c)

/// One plain RMSprop step (no momentum, not centered) over `count` parameters, the operations of
/// OptimizerKernels.swift's loop in its order (the same bits): s ← ρ·s + ((1−ρ)·g)·g;
/// w ← w − (lr·g)/√(s + ε). Only where ck_has_avx512vl() is 1.
void ck_rmsprop(long count, float *w, const float *g, float *s, float lr, float rho, float epsilon);

/// One Adadelta step, likewise: a ← ρ·a + ((1−ρ)·g)·g; Δ = (√(d + ε)·g)/√(a + ε);
/// d ← ρ·d + ((1−ρ)·Δ)·Δ; w ← w − lr·Δ. Only where ck_has_avx512vl() is 1.
void ck_adadelta(long count, float *w, const float *g, float *a, float *d, float lr, float rho, float epsilon);

// MARK: Dropout (dropout.c)

/// mask[e] = keep when word e of the Philox4x32-10 stream (key0, key1; counter words 2 and 3 =
/// `index`) counted from block `firstBlock` is ≥ cut, else 0; y[e] = x[e]·mask[e], for e < count
/// (the same as Sources/Kernels/Dropout.swift). The mask is stored only where `mask` is not NULL;
/// x may be y. AVX-512: call only where ck_has_avx512vl() is 1.
void ck_dropout(long count, unsigned long long firstBlock, unsigned key0, unsigned key1,
                unsigned long long index, unsigned cut, float keep, const float *x, float *y, float *mask);

// MARK: Augmentation (warp.c)

/// Sources/Kernels/ImageKernels.swift's warpImage, the same bits: dst (rows × cols) = bilinear
/// sample of the bytes src at x = a·c + b·r + e, y = d·c + f·r + g (0 outside), times scale plus
/// shift. (rows + 2)·(cols + 2) ≤ 4096. AVX-512: call only where ck_has_avx512vl() is 1.
void ck_warp_image(const unsigned char *src, int rows, int cols, float a, float b, float e, float d, float f,
                   float g, float scale, float shift, float *dst);

// MARK: Batch normalization (batch_norm.c), AVX-512: call only where ck_has_avx512vl() is 1
// The loops of Sources/Kernels/BatchNormKernels.swift, the same operations in the same order (the
// same bits). x, y, dy, dx are (M, C) row-major; `relu` means y holds max(0, ·) of the normalized
// values and dy counts only where y > 0 (the backward finds where from x).

/// With K[j] = shift[c0 + j]: sums[j] = Σ_r (x[r, c0 + j] − K[j]) and squares[j] = Σ_r (x[r, c0 + j] −
/// K[j])², in double, over rows first ..< first + rows in order, for j < w ≤ 64 (w doubles written
/// to each).
void ck_bn_moments(const float *x, long first, long rows, int c, int c0, int w, const float *shift, double *sums,
                   double *squares);

/// y = (x − mean)·scale + offset per channel, then max(0, y) with `relu`, for `rows` rows.
void ck_bn_normalize(const float *x, float *y, long rows, int c, const float *mean, const float *scale,
                     const float *offset, int relu);

/// sumDy[j] = Σ_r g, sumDyXhat[j] = Σ_r g·x̂ in double over rows first ..< first + rows in order, for
/// j < w ≤ 64 (w doubles written to each), g = dy[r, c0 + j]
/// (with `relu`, only where the forward's y > 0: where (x − mean)·scale + offset, computed as
/// ck_bn_normalize does, is > 0), x̂ = (x − mean)·inverseStd in float.
void ck_bn_backward_sums(const float *x, const float *dy, long first, long rows, int c, int c0, int w,
                         const float *mean, const float *inverseStd, const float *scale, const float *offset, int relu,
                         double *sumDy, double *sumDyXhat);

/// dx = scale·(g − meanDy − x̂·meanDyXhat) (batch statistics) or scale·g, g as ck_bn_backward_sums's.
void ck_bn_input_gradient(const float *x, const float *dy, float *dx, long rows, int c, const float *mean,
                          const float *inverseStd, const float *scale, const float *offset, const float *meanDy,
                          const float *meanDyXhat, int batchStatistics, int relu);

// With the 2×2 max pooling (stride 2, valid) after the ReLU: x is (N, H, W, C), M = N·H·W rows;
// y, argmax and dy are the pooled (N, H/2, W/2, C), argmax 0…3 in scan order (ties and NaN keep
// the earlier element, as maxPoolForward).

/// y = maxpool₂ₓ₂(max(0, (x − mean)·scale + offset)) and its argmax, as ck_bn_normalize and then
/// max pooling would give them.
void ck_bn_normalize_pool(const float *x, float *y, int *argmax, int images, int height, int width, int c,
                          const float *mean, const float *scale, const float *offset);

/// ck_bn_backward_sums with g = the pooled dy at each window's argmax where the ReLU let it
/// through, else 0 (as maxPoolBackward gives it).
void ck_bn_backward_sums_pool(const float *x, const float *dy, const int *argmax, long first, long rows, int height,
                              int width, int c, int c0, int w, const float *mean, const float *inverseStd,
                              const float *scale, const float *offset, double *sumDy, double *sumDyXhat);

/// ck_bn_input_gradient with that g, for rows first ..< first + rows.
void ck_bn_input_gradient_pool(const float *x, const float *dy, const int *argmax, float *dx, long first, long rows,
                               int height, int width, int c, const float *mean, const float *inverseStd,
                               const float *scale, const float *offset, const float *meanDy,
                               const float *meanDyXhat, int batchStatistics);

/// A batch normalization's input gradient, for a layer before it to compute where it reads it
/// (ck_conv1_direct_kernel_gradient) instead of from memory: the arguments of
/// ck_bn_input_gradient (argmax NULL) or ck_bn_input_gradient_pool, whose values it gives.
typedef struct {
    const float *x, *dy;
    const int *argmax;
    int height, width, channels, relu, batchStatistics;
    const float *mean, *inverseStd, *scale, *offset, *meanDy, *meanDyXhat;
} ck_bn_gradient;

/// dx's rows first ..< first + rows of `g`, written to out (rows × channels), the bits of
/// ck_bn_input_gradient(_pool).
void ck_bn_gradient_rows(const ck_bn_gradient *g, long first, long rows, float *out);

// MARK: Narrow products (narrow_gemm.c)

/// C (rows × n) = A (rows × k, row-major, lda = k) · B (k × n, ldb = n), ldc = n, for a narrow
/// product: 1 ≤ n ≤ 32, k·⌈n/8⌉·8 ≤ 4096. Each element is summed over k in order, one FMA a
/// term. (OpenBLAS packs both operands on every call, which costs more than the product itself
/// when n is a convolution's few filters.)
void ck_gemm_narrow(long rows, int k, int n, const float *a, const float *b, float *c);

/// C (k × n) = Aᵀ · D for A (rows × k, lda = k) and D (rows × n, ldd = n), ldc = n, with the same
/// limits as ck_gemm_narrow: each element is summed over the rows in order, one FMA a term.
void ck_gemm_narrow_tn(long rows, int k, int n, const float *a, const float *d, float *c);

// MARK: Convolution of a single-channel image, direct (conv_direct.c), AVX-512: call only where
// ck_has_avx512vl() is 1. Layouts of Sources/Kernels/Convolution.swift; the kernel is (kh·kw, F).

/// 1 when the direct kernels take the convolution: at most 49 taps and 64 filters.
int ck_conv1_direct_supported(int kh, int kw, int filters);

/// y = f(x ∗ K + b) for `images` single-channel images x (N, H, W), y (N, OH, OW, F), f = ReLU when
/// `relu`, `bias` may be NULL: each output one FMA chain over the taps (i, j) in order from zero,
/// then + b, then f — the bits of im2col + ck_gemm + the bias and activation pass.
void ck_conv1_direct_forward(const float *x, int images, int height, int width, int kh, int kw, int sh, int sw,
                             int padT, int padL, int outHeight, int outWidth, int filters,
                             const float *kernel, const float *bias, int relu, float *y);

/// dk (kh·kw, F) = Σ over the output positions first ..< first + count (n, oh, ow in scan order, across
/// images) of x's window ⊗ dz[position], overwritten: each element one FMA chain over the positions
/// in order from zero — the bits of ck_gemm's Aᵀ·B on im2col's rows first ..< first + count.
/// With `bn` (dz NULL), dz is that batch normalization's input gradient, computed here block by
/// block (ck_bn_gradient_rows) and never stored: the same values, so the same bits.
void ck_conv1_direct_kernel_gradient(const float *x, int height, int width, int kh, int kw, int sh, int sw,
                                     int padT, int padL, int outHeight, int outWidth, int filters,
                                     const float *dz, const ck_bn_gradient *bn, long first, long count, float *dk);

// MARK: Convolution + 2×2 max pooling, direct (conv_pool_direct.c)

/// 1 when ck_conv_pool takes this convolution: a 3×3 or 5×5 kernel, stride 1, 1 to 32 channels,
/// padding before of padT rows and padL columns (Keras same/valid), an output of at least 2×2
/// and a padded image of at most 4096 floats. (ck_conv1_pool_kernel_gradient: the same with one
/// channel.)
int ck_conv_pool_supported(int height, int width, int channels, int kh, int kw, int padT, int padL, int outHeight,
                           int outWidth, int filters);

/// y, argmax = the 2×2 max pooling of f(x ∗ K + b) for `images` images x (N, H, W, C), kernel
/// (kh·kw·C, F), f = ReLU when `relu`, `bias` may be NULL; y and argmax (N, OH/2, OW/2, F) as
/// ck_winograd_output's. Each output summed over (r, s, c) in im2col's order from zero, one FMA
/// a term: the same bits as im2col + ck_gemm_narrow + the Swift pooling. With `wide` (only where
/// ck_has_avx512vl() is 1), the code compiled for 32 vector registers runs (the same operations).
void ck_conv_pool(const float *x, int images, int height, int width, int channels, int kh, int kw, int padT,
                  int padL, int outHeight, int outWidth, int filters, const float *kernel, const float *bias,
                  int relu, int wide, float *y, int *argmax);

/// dk (kh·kw, F) = Σ x-windows ⊗ dz over the images' pixels in scan order (overwritten), dz = the
/// pooled gradient dy at each window's argmax (where y > 0 with `relu`); biasSums (F) += Σ dz in
/// window order. The same bits as the Swift pooling gradient + ck_gemm_narrow_tn. With `wide` (only
/// where ck_has_avx512vl() is 1), the code compiled for 32 vector registers runs (the same operations).
void ck_conv1_pool_kernel_gradient(const float *x, int images, int height, int width, int kh, int kw, int padT,
                                   int padL, int outHeight, int outWidth, int filters, const float *dy,
                                   const float *y, const int *argmax, int relu, int wide, float *dk,
                                   float *biasSums);

// MARK: Convolution + 2×2 max pooling, sparse gradient (conv_pool_sparse.c)

/// 1 when ck_pool_sparse_gradient takes a pooled convolution: a kernel row of at most 512 floats
/// (kw·C), at most 16 kernel rows, pooling windows × (filters + 4) ≤ 16,384 and a padded image of
/// at most 16,384 floats.
int ck_pool_sparse_supported(int channels, int kh, int kw, int outHeight, int outWidth, int filters);

/// Floats per kernel row in kT and dkT: 32 for kw·C ≤ 32, else kw·C rounded up to a multiple of 16.
int ck_pool_sparse_row(int channels, int kw);

/// The gradients of a stride-1 convolution (N, H, W, C) → (OH, OW, F) with 2×2 max pooling after
/// it, from the pooled dy, y and argmax, visiting only the (window, filter) pairs whose gradient
/// g (dy, zero where y ≤ 0 with `relu`) is not zero: dkT (F, kh, row) = Σ g · x's kh×kw×C patch at
/// the window's argmax, row r of the patch at [f][r][0 ..< kw·C] (overwritten; images in order,
/// windows in scan order); biasSums (F) += Σ g; with dx (not NULL), dx = Σ g · kT[f] added at the
/// patch (overwritten; windows in scan order, then filters). kT (F, kh, row) is the kernel, Kᵀ
/// rows zero past kw·C; row = ck_pool_sparse_row(C, kw). With `wide` (only where
/// ck_has_avx512vl() is 1), the code compiled for 32 vector registers runs (the same operations).
void ck_pool_sparse_gradient(const float *x, int images, int height, int width, int channels, int kh, int kw,
                             int padT, int padL, int outHeight, int outWidth, int filters, const float *kT,
                             const float *dy, const float *y, const int *argmax, int relu, int wide, float *dkT,
                             float *biasSums, float *dx);

#endif
