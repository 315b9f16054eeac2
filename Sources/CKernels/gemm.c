// Row-major matrix products C (+)= op(A) · op(B), AVX2/FMA and AVX-512 (call only when
// ck_has_avx2_fma() is 1; `wide` only when ck_has_avx512vl() is 1), and a portable transpose.
// Every element of C is one FMA chain over p = 0 ..< k in order, from zero, then added to C's own
// value when `accumulate` — whatever the tile, the vector width or the part of C a caller asks
// for. So the AVX2 and AVX-512 code give the same bits, any split of C between threads gives the
// same bits, and the tests can check every element exactly against a scalar loop.
//
// OpenBLAS packs both operands on every call, which for small products costs about a third as
// much as the arithmetic, and the kernel it picks may be far from the CPU's best (0.3.21 runs its
// SSE3 "Prescott" kernel on Sapphire Rapids). Here A and B are read where they lie — A's elements
// broadcast from memory, B's rows loaded as vectors — in register tiles of MR rows × NV vectors
// (AVX2: 6 × 2·8, 12 accumulators; AVX-512: 12 × 2·16, 24), the last vector masked. Only a
// transposed B is packed, one column panel at a time, into a buffer each thread keeps. A that is
// mostly zeros (an image batch) is taken four rows at a time at their nonzeros (`productSparseRows`).
#include "ckernels.h"
#include "vec.h"
#include <stdlib.h>

/// ck_transpose on any CPU.
static void transposePortable(int rows, int cols, const float *a, int lda, float *b, int ldb) {
    // 8 × 8 blocks keep both sides' cache lines in use.
    for (int i0 = 0; i0 < rows; i0 += 8)
        for (int j0 = 0; j0 < cols; j0 += 8)
            for (int i = i0; i < i0 + 8 && i < rows; i++)
                for (int j = j0; j < j0 + 8 && j < cols; j++) b[(long)j * ldb + i] = a[(long)i * lda + j];
}

#if defined(__x86_64__)

// MARK: AVX2, 8 floats a vector

enum { MR = 6, NV = 2 };    // a full tile: MR rows × NV vectors of 8 columns (measured on Zen 4 against
                            // 4 × 16, 5 × 16 and 4 × 24 for the cnn.yaml shapes: the fastest)

/// C[0..<rows][0..<nv·8] (the last vector masked by `tail` when `masked`) of C (+)= op(A) · B.
/// op(A)(i, p) is a[i·lda + p], or a[p·lda + i] when `ta`. With `resume`, the sums start from C's
/// values (a chain over an earlier block of k continued) instead of zero.
INLINE void tile(const int rows, const int nv, const int masked, const int ta, int k,
                 const float *a, long lda, const float *b, long ldb, float *c, long ldc,
                 int accumulate, int resume, __m256i tail) {
    __m256 acc[MR][NV];
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            const float *at = c + r * ldc + v * 8;
            acc[r][v] = !resume ? _mm256_setzero_ps()
                : masked && v == nv - 1 ? _mm256_maskload_ps(at, tail) : _mm256_loadu_ps(at);
        }
    for (int p = 0; p < k; p++) {
        __m256 bv[NV];
        for (int v = 0; v < nv; v++) {
            const float *at = b + p * ldb + v * 8;
            bv[v] = masked && v == nv - 1 ? _mm256_maskload_ps(at, tail) : _mm256_loadu_ps(at);
        }
        for (int r = 0; r < rows; r++) {
            const __m256 x = _mm256_broadcast_ss(ta ? a + p * lda + r : a + r * lda + p);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int v = 0; v < nv; v++) {
            float *at = c + r * ldc + v * 8;
            const int part = masked && v == nv - 1;
            // Added to C after the sum, as sgemm's beta = 1 does: chaining a kernel gradient's
            // blocks into one long FMA sequence measured less accurate (RMS error 1.6× OpenBLAS's).
            if (accumulate) acc[r][v] = _mm256_add_ps(part ? _mm256_maskload_ps(at, tail) : _mm256_loadu_ps(at), acc[r][v]);
            if (part) _mm256_maskstore_ps(at, tail, acc[r][v]);
            else _mm256_storeu_ps(at, acc[r][v]);
        }
}

/// One column panel (nv vectors, the last masked when `masked`): every row, MR at a time, then
/// the rows left over.
INLINE void panel(const int nv, const int masked, const int ta, int m, int k, const float *a, long lda,
                  const float *b, long ldb, float *c, long ldc, int accumulate, int resume, __m256i tail) {
    int i = 0;
    for (; i + MR <= m; i += MR)
        tile(MR, nv, masked, ta, k, ta ? a + i : a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate, resume, tail);
    const float *ai = ta ? a + i : a + i * lda;
    float *ci = c + i * ldc;
#define ROWS(R) case R: tile(R, nv, masked, ta, k, ai, lda, b, ldb, ci, ldc, accumulate, resume, tail); break;
    switch (m - i) { ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) default: break; }
#undef ROWS
}

/// Panels of NV vectors, then one narrower or masked panel for the columns left over.
INLINE void product256(const int ta, int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                           float *c, long ldc, int accumulate, int resume) {
    int j = 0;
    const __m256i none = _mm256_setzero_si256();
    for (; j + NV * 8 <= n; j += NV * 8)
        panel(NV, 0, ta, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate, resume, none);
    const int left = n - j;     // 0 ..< 16
    if (left == 0) return;
    const int vectors = (left + 7) / 8, masked = left % 8 != 0;
    const __m256i tail = lanes_mask(left - (vectors - 1) * 8);
    b += j, c += j;
    if (vectors == 2) panel(2, 1, ta, m, k, a, lda, b, ldb, c, ldc, accumulate, resume, tail);
    else if (masked) panel(1, 1, ta, m, k, a, lda, b, ldb, c, ldc, accumulate, resume, tail);
    else panel(1, 0, ta, m, k, a, lda, b, ldb, c, ldc, accumulate, resume, none);
}

/// A buffer this thread keeps, grown as needed (once per thread and size, never inside the loops
/// of a product): packed panels of Bᵀ, and the sums of an accumulating product over blocks of k.
typedef struct { float *data; long capacity; } Buffer;
static _Thread_local Buffer packed, sums;

static float *buffer(Buffer *b, long count) {
    if (count > b->capacity) {
        free(b->data);
        b->data = aligned_alloc(64, (size_t)((count + 15) / 16 * 16) * sizeof(float));
        if (!b->data) abort();
        b->capacity = count;
    }
    return b->data;
}

// MARK: AVX-512, 16 floats a vector

#define WIDE __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define INLINE_WIDE static inline __attribute__((always_inline)) WIDE
enum { MR16 = 12, NV16 = 2 };   // 24 accumulators of the 32 registers
/// How many rows of B ahead a panel's first row tile prefetches (C harness, 128×512·512×512 on two
/// threads with B coming from L3: 227 → 213 µs at 8, 233 → 221 at 4, 228 → 214 at 16).
enum { BPREFETCH = 8 };

/// As `tile`, with 16-float vectors; every load and store of the last vector masked by `tail`
/// (all lanes for a full panel: a masked access costs no more than a plain one here).
INLINE_WIDE void tile16(const int rows, const int nv, const int ta, int k, const float *a, long lda,
                        const float *b, long ldb, float *c, long ldc, int accumulate, int resume, __mmask16 tail,
                        const int prefetch) {
    __m512 acc[MR16][NV16];
    // Fully unrolled, so the accumulators live in registers.
    _Pragma("unroll") for (int r = 0; r < rows; r++)
        _Pragma("unroll") for (int v = 0; v < nv; v++)
            acc[r][v] = resume ? _mm512_maskz_loadu_ps(v == nv - 1 ? tail : (__mmask16)0xffff, c + r * ldc + v * 16)
                               : _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        if (prefetch && p + BPREFETCH < k)     // B's row BPREFETCH ahead, each of its lines
            _Pragma("unroll") for (int v = 0; v < nv; v++)
                _mm_prefetch((const char *)(b + (long)(p + BPREFETCH) * ldb + v * 16), _MM_HINT_T0);
        __m512 bv[NV16];
        _Pragma("unroll") for (int v = 0; v < nv; v++)
            bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(tail, b + p * ldb + v * 16) : _mm512_loadu_ps(b + p * ldb + v * 16);
        _Pragma("unroll") for (int r = 0; r < rows; r++) {
            const __m512 x = _mm512_set1_ps(ta ? a[p * lda + r] : a[r * lda + p]);
            _Pragma("unroll") for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    _Pragma("unroll") for (int r = 0; r < rows; r++)
        _Pragma("unroll") for (int v = 0; v < nv; v++) {
            float *at = c + r * ldc + v * 16;
            const __mmask16 mask = v == nv - 1 ? tail : (__mmask16)0xffff;
            if (accumulate) acc[r][v] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), acc[r][v]);
            _mm512_mask_storeu_ps(at, mask, acc[r][v]);
        }
}

/// One column panel: every row tile of MR16 rows, then the rows left over.
INLINE_WIDE void panel16(const int nv, const int ta, int m, int k, const float *a, long lda, const float *b,
                         long ldb, float *c, long ldc, int accumulate, int resume, __mmask16 tail) {
    int i = 0;
#define TILE_PREFETCHING(R, PREFETCH)                                                                           \
    tile16(R, nv, ta, k, ta ? a + i : a + i * lda, lda, b, ldb, c + i * ldc, ldc, accumulate, resume, tail, PREFETCH)
#define TILE(R) TILE_PREFETCHING(R, 0)
    // The panel's first row tile reads B's rows from wherever the last step left them (L3, for a
    // layer's weights): it asks for each row a few ahead; the tiles after it find B in L1/L2.
    if (m >= MR16) {
        TILE_PREFETCHING(MR16, 1);
        i += MR16;
    }
    for (; i + MR16 <= m; i += MR16) TILE(MR16);
#define ROWS(R) case R: TILE(R); break;
    switch (m - i) { ROWS(1) ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7) ROWS(8) ROWS(9) ROWS(10) ROWS(11)
    default: break; }
#undef ROWS
#undef TILE
#undef TILE_PREFETCHING
}

/// Lists are built only for products at least this wide: building them reads A once, which
/// against the n/32 passes of A through the register tiles is a few percent at n = 64.
enum { SKIP_MIN_N = 64 };
/// The kernel gradients' skipping tiles (`listTile`): LIST_ROWS rows of op(A) × LIST_NV vectors of
/// B's row (24 accumulators). Few rows, so a kernel gradient's tile (rows of Aᵀ) is all zero at
/// more p — in MNIST batches 72% of the (image, 4 pixels) blocks against 50% of the (image, 12
/// pixels) blocks of the dense tiles' height — and still each listed p is 10 loads for 24 FMAs.
/// (4 × 4 and 4 × 5 took as long on Zen 4: 784×128 · 128×512 in eight 100-row pieces, 327–333
/// µs each, one thread.) The rows of A taken together (`productSparseRows`) have their own shape.
enum { LIST_ROWS = 4, LIST_NV = 6 };
/// The rows of A taken together's tile (`productSparseRows`, whose comment has the measurements).
enum { SPARSE_ROWS = 2, SPARSE_NV = 8 };
/// The largest tile `listTile` is asked for.
enum {
    LIST_MAX_ROWS = LIST_ROWS > SPARSE_ROWS ? LIST_ROWS : SPARSE_ROWS,
    LIST_MAX_NV = LIST_NV > SPARSE_NV ? LIST_NV : SPARSE_NV
};
_Static_assert(LIST_MAX_NV <= 8, "LIST_TILE has cases up to 8 vectors");

/// Buffers this thread keeps for `skipLists`: its lists (ints, kept in a float buffer of the same
/// element size and only ever read as ints) and the packed values.
static _Thread_local Buffer skipInts, skipFloats;

/// Which p each row tile visits: tile t the counts[t] values at lists + t·k, with A's values
/// there packed at packed + t·k·LIST_ROWS.
typedef struct { const int *lists, *counts; const float *packed; } Skips;

/// Whether the row tiles of op(A) = Aᵀ skip at least a quarter of all p, judged from SAMPLE_TILES
/// of them spread over it (NaN counts as nonzero): deciding from a full count read and packed the
/// whole of A — a hidden layer's activations, a strided convolution's columns — each time it then
/// went to the dense tiles (C harness, Aᵀ 288×400 · 400×64 with A dense, one thread: 178–185 →
/// 138–144 µs). A wrong guess costs time only: both products give the same bits.
enum { SAMPLE_TILES = 8 };
/// Whether a tile's values at one p (its `lanes` rows) hold a nonzero (or NaN): the p is listed.
INLINE_WIDE int listedAt(__m128 v, __mmask8 lanes) { return _mm_mask_cmp_ps_mask(lanes, v, _mm_setzero_ps(), _CMP_NEQ_UQ) != 0; }
WIDE static int worthListing(int m, int k, const float *a, long lda) {
    const int tiles = (m + LIST_ROWS - 1) / LIST_ROWS, step = (tiles + SAMPLE_TILES - 1) / SAMPLE_TILES;
    long listed = 0, visited = 0;
    for (int t = 0; t < tiles; t += step, visited += k) {
        const int i = t * LIST_ROWS, rows = m - i < LIST_ROWS ? m - i : LIST_ROWS;
        const __mmask8 lanes = (__mmask8)((1u << rows) - 1);
        for (int p = 0; p < k; p++)
            listed += listedAt(_mm_maskz_loadu_ps(lanes, a + (long)p * lda + i), lanes);
    }
    return listed <= visited - visited / 4;
}

int ck_gemm_transposed_skips(int m, int k, const float *a, int lda) { return m > 0 && k > 0 && worthListing(m, k, a, lda); }

/// For each row tile of op(A) = Aᵀ (LIST_ROWS rows, the last maybe fewer): the p in 0 ..< k where
/// some row of the tile has Aᵀ(i, p) ≠ 0 (NaN counts as nonzero), ascending, and A's values there
/// packed, when `worthListing` finds them worth it: then returns 1, else 0 (having read only its
/// sample of A).
///
/// Why: a kernel gradient dW = xᵀ·dz whose x is an input image (or its im2col columns) is mostly
/// zeros, so the first dense layer's kernel gradient skips most of its work (784×512×128, one
/// thread: 0.72 ms dense, 0.36 with 12-row tiles, 0.35 → 0.26 with these — C harness, medians of
/// 60 MNIST batches). Only for Aᵀ: there a tile's values at p are part of A's row p, so finding
/// and packing them is cheap; for A as it is they are a column, and gathering it cost more than
/// the skipped terms saved. A term 0·b adds nothing to a chain that starts from +0, so skipping
/// it leaves the bits as they were unless B holds an infinity or NaN (0·∞ is NaN), which only a
/// diverged run has. (A hidden layer's ReLU output skips about 6% at this height: not worth the
/// lists.)
WIDE static int skipLists(int m, int k, const float *a, long lda, Skips *out) {
    const int tiles = (m + LIST_ROWS - 1) / LIST_ROWS;
    _Static_assert(sizeof(int) == sizeof(float), "the lists live in a float buffer");
    _Static_assert(LIST_ROWS == 4, "a tile's values at p are packed as one 4-float vector");
    if (!worthListing(m, k, a, lda)) return 0;
    int *lists = (int *)buffer(&skipInts, (long)tiles * k + tiles), *counts = lists + (long)tiles * k;
    float *packed = buffer(&skipFloats, (long)tiles * k * LIST_ROWS);
    for (int t = 0; t < tiles; t++) {
        const int i = t * LIST_ROWS, rows = m - i < LIST_ROWS ? m - i : LIST_ROWS;
        const __mmask8 lanes = (__mmask8)((1u << rows) - 1);
        int *list = lists + (long)t * k, count = 0;
        float *ap = packed + (long)t * k * LIST_ROWS;
        for (int p = 0; p < k; p++) {   // Aᵀ(i ..< i + rows, p) is part of A's row p
            const __m128 v = _mm_maskz_loadu_ps(lanes, a + (long)p * lda + i);
            list[count] = p;
            _mm_storeu_ps(ap + (long)count * LIST_ROWS, v);
            count += listedAt(v, lanes);
        }
        counts[t] = count;
    }
    out->lists = lists;
    out->counts = counts;
    out->packed = packed;
    return 1;
}

/// C[0 ..< rows][0 ..< nv·16] (the last vector masked by `tail`) (+)= Σ over the listed p of A's
/// values there (row r's at ap[r·rowStride + q·qStride]) times B's row list[q]: one FMA chain per
/// element in p order, from zero or, with `resume`, from C's values, then added to C when
/// `accumulate`. The tile of both sparse products: the kernel gradients' skipping tiles
/// (`skipLists`) and the rows of A taken together (`productSparseRows`). `maxRows` and `nv` are
/// constants at every call, so only the accumulators of that shape are kept.
INLINE_WIDE void listTile(const int maxRows, const int rows, const int nv, int count, const int *list,
                          const float *ap, const long rowStride, const long qStride, const float *b, long ldb,
                          float *c, long ldc, int accumulate, int resume, __mmask16 tail) {
    __m512 acc[LIST_MAX_ROWS][LIST_MAX_NV];
    _Pragma("unroll") for (int r = 0; r < maxRows; r++)
        _Pragma("unroll") for (int v = 0; v < LIST_MAX_NV; v++)
            acc[r][v] = resume && r < rows && v < nv
                ? _mm512_maskz_loadu_ps(v == nv - 1 ? tail : (__mmask16)0xffff, c + r * ldc + v * 16)
                : _mm512_setzero_ps();
    for (int q = 0; q < count; q++) {
        const float *bp = b + (long)list[q] * ldb;
        __m512 bv[LIST_MAX_NV];
        _Pragma("unroll") for (int v = 0; v < LIST_MAX_NV; v++)
            if (v < nv) bv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(tail, bp + v * 16) : _mm512_loadu_ps(bp + v * 16);
        _Pragma("unroll") for (int r = 0; r < maxRows; r++)
            if (r < rows) {
                const __m512 x = _mm512_set1_ps(ap[r * rowStride + q * qStride]);
                _Pragma("unroll") for (int v = 0; v < LIST_MAX_NV; v++)
                    if (v < nv) acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
            }
    }
    _Pragma("unroll") for (int r = 0; r < maxRows; r++)
        _Pragma("unroll") for (int v = 0; v < LIST_MAX_NV; v++)
            if (r < rows && v < nv) {
                float *at = c + r * ldc + v * 16;
                const __mmask16 mask = v == nv - 1 ? tail : (__mmask16)0xffff;
                if (accumulate) acc[r][v] = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), acc[r][v]);
                _mm512_mask_storeu_ps(at, mask, acc[r][v]);
            }
}

/// Runs its block for each column panel of NV vectors, with j (its first column), nv (its vectors)
/// and tail (its last vector's mask) in scope.
#define FOR_EACH_LIST_PANEL(n, NV, ...)                                                                       \
    for (int j = 0; j < (n); j += (NV) * 16) {                                                                  \
        const int left = (n) - j, nv = left >= (NV) * 16 ? (NV) : (left + 15) / 16;                             \
        const int last = left - (nv - 1) * 16;                                                                  \
        const __mmask16 tail = last >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << last) - 1);                  \
        __VA_ARGS__                                                                                             \
    }

/// listTile with its row count at most MAX_ROWS and its vector count constants.
#define LIST_TILE(MAX_ROWS, ...)                                                                                \
    switch (nv) {                                                                                               \
    case 1: listTile(MAX_ROWS, rows, 1, __VA_ARGS__); break;                                                    \
    case 2: listTile(MAX_ROWS, rows, 2, __VA_ARGS__); break;                                                    \
    case 3: listTile(MAX_ROWS, rows, 3, __VA_ARGS__); break;                                                    \
    case 4: listTile(MAX_ROWS, rows, 4, __VA_ARGS__); break;                                                    \
    case 5: listTile(MAX_ROWS, rows, 5, __VA_ARGS__); break;                                                    \
    case 6: listTile(MAX_ROWS, rows, 6, __VA_ARGS__); break;                                                    \
    case 7: listTile(MAX_ROWS, rows, 7, __VA_ARGS__); break;                                                    \
    default: listTile(MAX_ROWS, rows, 8, __VA_ARGS__); break;                                                   \
    }

/// C (+)= Aᵀ · B over the listed p of each row tile, LIST_NV vectors of columns at a time.
WIDE static void productSkipping(int m, int n, const Skips *skips, long k, const float *b, long ldb, float *c,
                                 long ldc, int accumulate, int resume) {
    const int tiles = (m + LIST_ROWS - 1) / LIST_ROWS;
    FOR_EACH_LIST_PANEL(n, LIST_NV, {
        for (int t = 0; t < tiles; t++) {
            const int i = t * LIST_ROWS, rows = m - i < LIST_ROWS ? m - i : LIST_ROWS;
            // A's values packed by p: row r's at q·LIST_ROWS + r.
            LIST_TILE(LIST_ROWS, skips->counts[t], skips->lists + t * k, skips->packed + t * k * LIST_ROWS, 1,
                      LIST_ROWS, b + j, ldb, c + (long)i * ldc + j, ldc, accumulate, resume, tail)
        }
    })
}

INLINE_WIDE void product512(const int ta, int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                            float *c, long ldc, int accumulate, int resume) {
    Skips lists;
    if (ta && n >= SKIP_MIN_N && skipLists(m, k, a, lda, &lists)) {
        productSkipping(m, n, &lists, k, b, ldb, c, ldc, accumulate, resume);
        return;
    }
    int j = 0;
    for (; j + NV16 * 16 <= n; j += NV16 * 16)
        panel16(NV16, ta, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate, resume, (__mmask16)0xffff);
    const int left = n - j;     // 0 ..< 32
    if (left == 0) return;
    const int vectors = (left + 15) / 16;
    const __mmask16 tail = (__mmask16)((1u << (left - (vectors - 1) * 16)) - 1);
    if (vectors == 2) panel16(2, ta, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate, resume, tail);
    else panel16(1, ta, m, k, a, lda, b + j, ldb, c + j, ldc, accumulate, resume, tail);
}

// MARK: Rows of A with few nonzeros

/// A (as it is, not transposed) is taken a few rows at a time at their nonzeros when at most this
/// percentage of it is nonzero: each row's sums are the same FMA chains in the same order as the
/// dense tiles' (a term 0·b adds nothing; see `skipLists`). An MNIST batch is 19% nonzero: the
/// first dense layer's 128×784 · 784×512 went from 0.67 to 0.35 ms (one thread) row by row, and
/// to about three quarters of that in the tiles below. The threshold was measured with the
/// row-by-row code: a hidden layer's 40% (ReLU and dropout) was slower that way (0.49 against
/// 0.42 ms), and so were strided convolutions' columns at 32% with 64 and 128 filters.
enum { SPARSE_PERCENT = 25, SPARSE_MIN_N = 128, SPARSE_MIN_K = 64 };

/// Whether op(A) = A (m × k) has at most SPARSE_PERCENT% nonzeros (NaN counts as nonzero), judged
/// from 32 of its rows spread over it: a full count read a convolution's whole column matrix (3.6 MB
/// in the strided network) only to decide.
WIDE static int rowsSparse(int m, int k, const float *a, long lda) {
    long nonzero = 0, counted = 0;
    const int step = (m + 31) / 32;
    for (int i = 0; i < m; i += step, counted += k)
        for (int p = 0; p < k; p += 16) {
            const __mmask16 lanes = k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
            nonzero += __builtin_popcount(_mm512_mask_cmp_ps_mask(
                lanes, _mm512_maskz_loadu_ps(lanes, a + (long)i * lda + p), _mm512_setzero_ps(), _CMP_NEQ_UQ));
        }
    return nonzero * 100 <= counted * SPARSE_PERCENT;
}

int ck_gemm_rows_sparse(int m, int n, int k, const float *a, int lda) {
    return n >= SPARSE_MIN_N && k >= SPARSE_MIN_K && rowsSparse(m, k, a, lda);
}

/// Rows of A taken together: SPARSE_ROWS rows × SPARSE_NV vectors of C per tile (16 accumulators),
/// each tile visiting the p where any of its rows has A ≠ 0. Two MNIST images are nonzero together
/// at 29% of the pixels, four at 39%, one at 19% (2,560 training images): more rows read each
/// listed row of B for more rows of A but do more FMAs with a zero. A single row was bound by B's
/// loads (an earlier harness, 128×784 · 784×512 over 60 MNIST batches, one thread: 407 µs a row at
/// a time, 311 in 4 × 6 tiles). On Zen 4 (C harness, 128×784 · 784×256 twice over 20 MNIST batches,
/// one thread, medians of 300 alternating): 2 × 8 333–337 µs, 2 × 10 333–334, 2 × 6 346–350,
/// 3 × 6 350–351, 2 × 4 356–359, 4 × 6 377–385, 3 × 8 408–414, 2 × 12 434–442, a row at a time
/// (1 × 8, 1 × 12, 1 × 16) 399–420 — the same bits from all. A term 0·b of a row that is zero at a p
/// another row lists adds nothing.
/// C (+)= A · B, SPARSE_ROWS rows of A at a time at the union of their nonzeros (see SPARSE_PERCENT).
WIDE static void productSparseRows(int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                                   float *c, long ldc, int accumulate) {
    _Static_assert(sizeof(int) == sizeof(float), "the lists live in a float buffer");
    const int tiles = (m + SPARSE_ROWS - 1) / SPARSE_ROWS;
    const long stride = k + 16;                 // a compressed vector may be stored whole past the count
    int *lists = (int *)buffer(&skipInts, tiles * stride + tiles), *counts = lists + tiles * stride;
    float *packed = buffer(&skipFloats, tiles * SPARSE_ROWS * stride);
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int t = 0; t < tiles; t++) {
        const int i = t * SPARSE_ROWS, rows = m - i < SPARSE_ROWS ? m - i : SPARSE_ROWS;
        int *list = lists + t * stride, count = 0;
        float *ap = packed + t * SPARSE_ROWS * stride;
        for (int p = 0; p < k; p += 16) {
            const __mmask16 lanes = k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
            __m512 v[SPARSE_ROWS];
            __mmask16 any = 0;
            for (int r = 0; r < SPARSE_ROWS; r++) {
                v[r] = r < rows ? _mm512_maskz_loadu_ps(lanes, a + (long)(i + r) * lda + p) : _mm512_setzero_ps();
                any |= _mm512_mask_cmp_ps_mask(lanes, v[r], _mm512_setzero_ps(), _CMP_NEQ_UQ);
            }
            // Compressed in registers and stored whole (a compressing store to memory is slow here).
            _mm512_storeu_si512(list + count, _mm512_maskz_compress_epi32(any, _mm512_add_epi32(_mm512_set1_epi32(p), lane)));
            for (int r = 0; r < SPARSE_ROWS; r++)
                _mm512_storeu_ps(ap + r * stride + count, _mm512_maskz_compress_ps(any, v[r]));
            count += __builtin_popcount(any);
        }
        counts[t] = count;
    }
    FOR_EACH_LIST_PANEL(n, SPARSE_NV, {
        for (int t = 0; t < tiles; t++) {
            const int i = t * SPARSE_ROWS, rows = m - i < SPARSE_ROWS ? m - i : SPARSE_ROWS;
            // A's values packed by row: row r's at r·stride + q.
            LIST_TILE(SPARSE_ROWS, counts[t], lists + t * stride, packed + t * SPARSE_ROWS * stride, stride, 1,
                      b + j, ldb, c + (long)i * ldc + j, ldc, accumulate, 0, tail)
        }
    })
}

WIDE void ck_gemm_sparse_rows(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c, int ldc,
                         int accumulate) {
    if (m > 0 && n > 0) productSparseRows(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

// One copy of each for A as it is and for Aᵀ: the address of A's elements is then fixed code.
#define COPIES(NAME, TARGET, BODY, TA)                                                                           \
    TARGET static void NAME(int m, int n, int k, const float *a, long lda, const float *b, long ldb, float *c,     \
                            long ldc, int accumulate, int resume) {                                                 \
        BODY(TA, m, n, k, a, lda, b, ldb, c, ldc, accumulate, resume);                                            \
    }
COPIES(product256_n, AVX, product256, 0)
COPIES(product256_t, AVX, product256, 1)
COPIES(product512_n, WIDE, product512, 0)
COPIES(product512_t, WIDE, product512, 1)
#undef COPIES

// MARK: Blocks of k, transposed B

/// Rows of k per block: a block of B (KC rows of a 32-column panel, 32 KB) stays in the L1 cache
/// while every row tile passes over it, and a block of A in L2 while every panel passes; a k of
/// thousands (a convolution's kernel gradient summed over N·OH·OW positions, a 9216-input dense
/// layer) otherwise streamed both from memory once per panel.
enum { KC = 256, MC = 240 };

/// C (+)= op(A) · B (B not transposed), k in blocks of KC: the first block's sums start from zero,
/// each later block continues them from where the last left them — in C, or when `accumulate`,
/// in a scratch copy added to C at the end — so every element is still one FMA chain in k order.
AVX static void product(int ta, int wide, int m, int n, int k, const float *a, long lda, const float *b, long ldb,
                        float *c, long ldc, int accumulate) {
    void (*run)(int, int, int, const float *, long, const float *, long, float *, long, int, int) =
        wide ? (ta ? product512_t : product512_n) : (ta ? product256_t : product256_n);
    if (k <= KC) {
        run(m, n, k, a, lda, b, ldb, c, ldc, accumulate, 0);
        return;
    }
    float *t = accumulate ? buffer(&sums, (long)m * n) : c;
    const long ldt = accumulate ? n : ldc;
    // MC rows at a time, so their sums stay in L2 from one block of k to the next.
    for (int i = 0; i < m; i += MC) {
        const int rows = m - i < MC ? m - i : MC;
        for (int p = 0; p < k; p += KC) {
            const int size = k - p < KC ? k - p : KC;
            run(rows, n, size, ta ? a + (long)p * lda + i : a + (long)i * lda + p, lda, b + (long)p * ldb, ldb,
                t + (long)i * ldt, ldt, 0, p > 0);
        }
    }
    if (accumulate)
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(long)i * ldc + j] += t[(long)i * ldt + j];
}

/// 8 × 8 floats from a (lda) to b (ldb), transposed.
INLINE void transpose8(const float *a, long lda, float *b, long ldb) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(a + i * lda);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; h++) {
            r[i + h] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], 0x44);
            r[i + h + 2] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], 0xee);
        }
    // r[0] = rows 0,1 / cols 0,4 …: the 128-bit halves of rows i and i + 4 make columns.
    static const int order[4] = {0, 2, 1, 3};
    for (int q = 0; q < 4; q++) {
        _mm256_storeu_ps(b + q * ldb, _mm256_permute2f128_ps(r[order[q]], r[order[q] + 4], 0x20));
        _mm256_storeu_ps(b + (q + 4) * ldb, _mm256_permute2f128_ps(r[order[q]], r[order[q] + 4], 0x31));
    }
}

/// b (cols × rows, ldb) = aᵀ for a (rows × cols, lda), 8 × 8 blocks at a time.
AVX static void transpose(int rows, int cols, const float *a, long lda, float *b, long ldb) {
    const int rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
    for (int i = 0; i < rows8; i += 8)
        for (int j = 0; j < cols8; j += 8) transpose8(a + i * lda + j, lda, b + j * ldb + i, ldb);
    for (int i = 0; i < rows; i++)
        for (int j = i < rows8 ? cols8 : 0; j < cols; j++) b[j * ldb + i] = a[i * lda + j];
}

/// Columns of C per packed panel of Bᵀ: a panel of k × PANEL floats stays in L2 while every row
/// of A passes over it.
enum { PANEL = 128 };

AVX void ck_gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                 float *c, int ldc, int accumulate, int wide) {
    if (m <= 0 || n <= 0) return;
    if (!tb) {
        if (wide && !ta && ck_gemm_rows_sparse(m, n, k, a, lda))
            productSparseRows(m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        else
            product(ta, wide, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
        return;
    }
    // op(B)(p, j) = b[j·ldb + p]: copy PANEL columns of op(B) at a time into a k × PANEL block.
    const int width = n < PANEL ? n : PANEL;
    float *bp = buffer(&packed, (long)k * width);
    for (int j = 0; j < n; j += PANEL) {
        const int w = n - j < PANEL ? n - j : PANEL;
        transpose(w, k, b + (long)j * ldb, ldb, bp, w);
        product(ta, wide, m, w, k, a, lda, bp, w, c + j, ldc, accumulate);
    }
}

#endif

void ck_transpose(int rows, int cols, const float *a, int lda, float *b, int ldb) {
#if defined(__x86_64__)
    // 8 × 8 blocks in AVX registers: the Winograd input gradient's Uᵀ (strided network, 0.46 M
    // floats a step) took 4.9% of a one-thread step element by element.
    if (ck_has_avx2_fma()) {
        transpose(rows, cols, a, lda, b, ldb);
        return;
    }
#endif
    transposePortable(rows, cols, a, lda, b, ldb);
}
